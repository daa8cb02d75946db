"""``train(env)`` for BlazingText: Word2Vec (gensim) or supervised classification (torch)."""

from __future__ import annotations

import time

from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv, reader_content_type
from sagestack.algorithms.blazingtext import corpus, supervised, word2vec
from sagestack.algorithms.blazingtext.spec import SPEC, parse_hyperparameters
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.file_channels import refuse_pipe_mode

MODEL_FILE = "model.bin"
MAX_THREADS = 4


def train(env: TrainingEnv) -> None:
    params = configure(SPEC, env, parse_hyperparameters)
    refuse_pipe_mode(env, SPEC.name)
    threads = max(1, min(MAX_THREADS, env.num_cpus))
    started = time.time()
    if params.supervised:
        _train_supervised(env, params, threads)
    else:
        _train_word2vec(env, params, threads)
    log(f"Total training time in seconds: {time.time() - started:.2f}")


def _train_word2vec(env: TrainingEnv, params, threads: int) -> None:
    if "validation" in env.channels:
        raise AlgorithmClientError(
            f"The validation channel is only used in supervised mode, not mode={params.mode}"
        )
    channel = env.channels["train"]
    if reader_content_type(SPEC, channel).split(";")[0].strip().lower() != "text/plain":
        raise AlgorithmClientError(f"Word2Vec mode ({params.mode}) reads text/plain train data")
    sentences = corpus.read_sentences(channel.path, "train")
    model = word2vec.train_vectors(sentences, params, threads, log)
    word2vec.save_vectors(model, env.model_dir, params.subwords)
    if params.evaluation:
        log(
            "evaluation=True: the WordSim-353 evaluation needs its word-pair file, which is not shipped "
            "with sagestack; no eval.json and no mean_rho are written"
        )


def _train_supervised(env: TrainingEnv, params, threads: int) -> None:
    channel = env.channels["train"]
    examples = corpus.read_examples(channel.path, reader_content_type(SPEC, channel), "train")
    validation = None
    if "validation" in env.channels:
        vchannel = env.channels["validation"]
        validation = corpus.read_examples(vchannel.path, reader_content_type(SPEC, vchannel), "validation")
    elif params.early_stopping:
        raise AlgorithmClientError("early_stopping=True needs a validation channel")
    model = supervised.train_classifier(examples, params, validation, log, 1)  # sparse SGD: one thread
    log(
        f"Dictionary: {len(model.words)} words, {len(model.labels)} labels, {len(model.pruneidx or {})} n-gram buckets"
    )
    env.model_dir.mkdir(parents=True, exist_ok=True)
    (env.model_dir / MODEL_FILE).write_bytes(model.to_bytes())
    print(f"#train_accuracy: {supervised.accuracy(model, examples):.4f}", flush=True)
    print(f"Number of train examples: {len(examples)}", flush=True)
    if validation is not None:
        print(f"#validation_accuracy: {supervised.accuracy(model, validation):.4f}", flush=True)
        print(f"Number of validation examples: {len(validation)}", flush=True)
