"""BlazingText's Word2Vec modes with gensim: ``cbow`` and ``skipgram`` as gensim trains them,
``batch_skipgram`` as skipgram (BlazingText's negative-sample sharing across a batch is a GPU/
multi-node speed-up; the model it learns is skipgram's). ``subwords=True`` trains gensim's FastText
with character n-grams of ``min_char``..``max_char`` hashed into ``buckets``.

Artifacts: ``vectors.txt`` (word2vec text format: a ``<count> <dim>`` header, then a word and its
values per line, most frequent first), ``vectors.bin`` (the same in word2vec's binary format; both
load with gensim's ``KeyedVectors.load_word2vec_format``) and, with subwords, ``subwords.bin`` (a
fastText ``.bin`` written by gensim's ``save_facebook_model``) from which out-of-vocabulary words
get vectors.

``batch_skipgram`` on several hosts (its multi-instance mode, as SageMaker's) trains one model across
them (:mod:`sagestack.algorithms.distributed`): the vocabulary is built from every host's word counts,
every host starts from the same vectors, trains one epoch on its own sentences (its shard with
``ShardedByS3Key``) and the hosts then average their input and output vectors (an all_reduce per
epoch, model averaging rather than BlazingText's shared negative samples); ``algo-1`` writes them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sagestack.algorithms.base import AlgorithmClientError
from sagestack.algorithms.blazingtext.spec import BlazingTextParams
from sagestack.algorithms.distributed import Group

SEED = 1
SUBWORDS_FILE = "subwords.bin"


def train_vectors(
    sentences: list[list[str]],
    params: BlazingTextParams,
    workers: int,
    log: Callable[[str], None],
    group: Group | None = None,
):
    from gensim.models import FastText, Word2Vec

    group = group or Group()

    common = {
        "vector_size": params.vector_dim,
        "window": params.window_size,
        "min_count": params.min_count,
        "negative": params.negative_samples,
        "sample": params.sampling_threshold,
        "alpha": params.learning_rate,
        "min_alpha": params.learning_rate * 1e-4,
        "epochs": params.epochs,
        "sg": 0 if params.mode == "cbow" else 1,
        "hs": 0,
        "workers": max(1, workers),
        "seed": SEED,
    }
    counts: dict[str, int] = {}
    for sentence in sentences:
        for word in sentence:
            counts[word] = counts.get(word, 0) + 1
    if group.active:
        counts = _pooled_counts(group.gather(counts))
    if not any(c >= params.min_count for c in counts.values()):
        raise AlgorithmClientError(
            f"No word occurs min_count={params.min_count} times in the train channel; lower min_count"
        )
    extra = {"min_n": params.min_char, "max_n": params.max_char, "bucket": params.buckets}
    if group.active:
        model = FastText(**extra, **common) if params.subwords else Word2Vec(**common)
        model.build_vocab_from_freq(counts)
        _train_averaged(model, sentences, params, group, log)
    elif params.subwords:
        model = FastText(sentences=sentences, **extra, **common)
    else:
        model = Word2Vec(sentences=sentences, **common)
    log(f"Vocabulary: {len(model.wv)} words; {sum(len(s) for s in sentences)} tokens; {params.epochs} epochs")
    return model


def _pooled_counts(per_host: list[dict[str, int]]) -> dict[str, int]:
    """The hosts' word counts summed, in one order on every host (so every host builds one vocabulary)."""
    total: dict[str, int] = {}
    for counts in per_host:
        for word, count in counts.items():
            total[word] = total.get(word, 0) + count
    return {word: total[word] for word in sorted(total)}


def _shared_arrays(model) -> list:
    arrays = [model.syn1neg]
    if hasattr(model.wv, "vectors_ngrams"):  # FastText: words and n-gram buckets; wv.vectors derives
        arrays += [model.wv.vectors_vocab, model.wv.vectors_ngrams]
    else:
        arrays.append(model.wv.vectors)
    return arrays


def _train_averaged(model, sentences, params: BlazingTextParams, group: Group, log) -> None:
    """One epoch at a time on this host's sentences, the hosts' vectors averaged after each; the
    learning rate decays linearly over all epochs as in one run."""
    group.average_arrays(_shared_arrays(model))  # identical starting vectors (the seed makes them so)
    start, end = model.alpha, model.min_alpha
    epochs = params.epochs
    words = sum(len(s) for s in sentences)
    for epoch in range(epochs):
        if sentences:
            model.train(
                sentences,
                total_examples=len(sentences),
                total_words=words,
                epochs=1,
                start_alpha=start - (start - end) * epoch / epochs,
                end_alpha=start - (start - end) * (epoch + 1) / epochs,
            )
        group.average_arrays(_shared_arrays(model))
        if hasattr(model.wv, "adjust_vectors"):
            model.wv.adjust_vectors()
        log(f"Epoch {epoch + 1}/{epochs}: vectors averaged across {group.world} hosts")


def save_vectors(model, model_dir: Path, subwords: bool) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    model.wv.save_word2vec_format(str(model_dir / "vectors.txt"), binary=False)
    model.wv.save_word2vec_format(str(model_dir / "vectors.bin"), binary=True)
    if subwords:
        from gensim.models.fasttext import save_facebook_model

        save_facebook_model(model, str(model_dir / SUBWORDS_FILE))
