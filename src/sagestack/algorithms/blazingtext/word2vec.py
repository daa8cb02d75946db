"""BlazingText's Word2Vec modes with gensim: ``cbow`` and ``skipgram`` as gensim trains them,
``batch_skipgram`` as skipgram (BlazingText's negative-sample sharing across a batch is a GPU/
multi-node speed-up; the model it learns is skipgram's). ``subwords=True`` trains gensim's FastText
with character n-grams of ``min_char``..``max_char`` hashed into ``buckets``.

Artifacts: ``vectors.txt`` (word2vec text format: a ``<count> <dim>`` header, then a word and its
values per line, most frequent first), ``vectors.bin`` (the same in word2vec's binary format; both
load with gensim's ``KeyedVectors.load_word2vec_format``) and, with subwords, ``subwords.bin`` (a
fastText ``.bin`` written by gensim's ``save_facebook_model``) from which out-of-vocabulary words
get vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sagestack.algorithms.base import AlgorithmClientError
from sagestack.algorithms.blazingtext.spec import BlazingTextParams

SEED = 1
SUBWORDS_FILE = "subwords.bin"


def train_vectors(
    sentences: list[list[str]], params: BlazingTextParams, workers: int, log: Callable[[str], None]
):
    from gensim.models import FastText, Word2Vec

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
    if not any(c >= params.min_count for c in counts.values()):
        raise AlgorithmClientError(
            f"No word occurs min_count={params.min_count} times in the train channel; lower min_count"
        )
    if params.subwords:
        model = FastText(
            sentences=sentences,
            min_n=params.min_char,
            max_n=params.max_char,
            bucket=params.buckets,
            **common,
        )
    else:
        model = Word2Vec(sentences=sentences, **common)
    log(f"Vocabulary: {len(model.wv)} words; {sum(len(s) for s in sentences)} tokens; {params.epochs} epochs")
    return model


def save_vectors(model, model_dir: Path, subwords: bool) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    model.wv.save_word2vec_format(str(model_dir / "vectors.txt"), binary=False)
    model.wv.save_word2vec_format(str(model_dir / "vectors.bin"), binary=True)
    if subwords:
        from gensim.models.fasttext import save_facebook_model

        save_facebook_model(model, str(model_dir / SUBWORDS_FILE))
