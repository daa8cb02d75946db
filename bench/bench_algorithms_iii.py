"""Built-in algorithms III (Random Cut Forest, LDA, NTM) vs reference libraries: train time and quality.

Usage: ``python -m bench.bench_algorithms_iii [--rows N] [--docs N] [--only rcf,lda,ntm]``.
Defaults are the issue's sizes: 1,000,000 rows for RCF, 100,000 documents for LDA and NTM; pass
smaller sizes for a quick run.

* Random Cut Forest (100 trees × 256 samples, the SageMaker defaults) vs scikit-learn
  ``IsolationForest(n_estimators=100, max_samples=256)`` — rows × 10 features with 0.5 % injected
  anomalies (±3.5 along one random feature); ROC AUC of the anomaly scores on 20,000 held-out labelled rows (sagestack through its
  ``load_model`` + ``predict``).
* LDA (spectral, SDK defaults) vs scikit-learn ``LatentDirichletAllocation(learning_method="online")`` —
  documents of 100 words over a 500-word vocabulary from 10 planted topics; mean L1 distance between the
  planted and the learnt topic-word distributions (best matching) and the share of 2,000 held-out
  documents whose dominant topic is recovered.
* NTM (10 epochs, Adam, learning rate 0.01, ``batch_norm``) on the same corpus, against the same scikit-learn LDA
  reference (no open-source NTM exists); dominant-topic recovery on the held-out documents.

Each sagestack algorithm runs ``train(env)`` on an ``/opt/ml``-style job directory (channel data written
beforehand as RecordIO-protobuf, untimed); references run in-process on arrays already in memory.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.bench_algorithms import Result, _timed, _train_quietly, make_job, render

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

VOCAB, TOPICS, DOC_LENGTH, HELD_OUT = 500, 10, 100, 2000


def _sparse_recordio(X) -> bytes:
    import io

    from sagemaker.amazon.common import write_spmatrix_to_sparse_tensor

    buf = io.BytesIO()
    write_spmatrix_to_sparse_tensor(buf, X)
    return buf.getvalue()


def bench_rcf(rows: int, docs: int, tmp: Path) -> Result:
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score

    from sagestack.algorithms import random_cut_forest as rcf
    from sagestack.formats.recordio_protobuf import encode_dense

    rng = np.random.default_rng(0)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        X = rng.normal(size=(n, 10)).astype(np.float32)
        labels = rng.random(n) < 0.005
        # each anomaly is shifted by ±3.5 along one random feature: hard to see in the other nine
        shifted = np.flatnonzero(labels)
        X[shifted, rng.integers(0, 10, size=shifted.size)] += rng.choice([-3.5, 3.5], size=shifted.size)
        return X, labels

    X, _ = sample(rows)
    X_test, y_test = sample(20000)
    env = make_job(tmp / "rcf", {"feature_dim": 10}, {"train": ("part-0.pbr", encode_dense(X))})
    ours_s = _train_quietly(rcf, env)
    model = rcf.load_model(env.model_dir)
    body = "".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in X_test).encode()
    answer, _ = rcf.predict(model, body, "text/csv", "application/json")
    scores = np.array([s["score"] for s in json.loads(answer)["scores"]])
    reference, ref_s = _timed(
        lambda: IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(X)
    )
    return Result(
        name=f"Random Cut Forest ({rows:,} × 10)",
        ours_s=ours_s,
        reference="sklearn IsolationForest",
        reference_s=ref_s,
        metric="held-out ROC AUC",
        ours_quality=float(roc_auc_score(y_test, scores)),
        reference_quality=float(roc_auc_score(y_test, -reference.score_samples(X_test))),
    )


def _corpus(docs: int):
    import scipy.sparse as sp

    rng = np.random.default_rng(1)
    beta = rng.dirichlet(np.full(VOCAB, 0.05), size=TOPICS)
    theta = rng.dirichlet(np.full(TOPICS, 0.1), size=docs + HELD_OUT)
    counts = np.stack([rng.multinomial(DOC_LENGTH, t @ beta) for t in theta]).astype(np.float32)
    return sp.csr_matrix(counts), theta, beta


def _topic_error(estimate: np.ndarray, beta: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    distances = np.abs(beta[:, None, :] - estimate[None]).sum(axis=-1)
    rows, cols = linear_sum_assignment(distances)
    return float(distances[rows, cols].mean())


def _dominant_accuracy(estimate: np.ndarray, theta: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    confusion = np.zeros((theta.shape[1], estimate.shape[1]))
    np.add.at(confusion, (theta.argmax(1), estimate.argmax(1)), 1)
    rows, cols = linear_sum_assignment(-confusion)
    return float(confusion[rows, cols].sum() / len(theta))


def _sklearn_lda(counts, docs: int):
    from sklearn.decomposition import LatentDirichletAllocation

    return _timed(
        lambda: LatentDirichletAllocation(
            TOPICS, learning_method="online", batch_size=1024, random_state=0, n_jobs=1
        ).fit(counts[:docs])
    )


def bench_lda(rows: int, docs: int, tmp: Path, cache: dict) -> Result:
    from sagestack.algorithms import lda

    counts, theta, beta = _corpus(docs)
    env = make_job(
        tmp / "lda",
        {"num_topics": TOPICS, "feature_dim": VOCAB, "mini_batch_size": docs, "alpha0": 1.0},
        {"train": ("part-0.pbr", _sparse_recordio(counts[:docs]))},
    )
    ours_s = _train_quietly(lda, env)
    model = lda.load_model(env.model_dir)
    from sagestack.algorithms.lda.spectral import topic_mixtures

    held = counts[docs:].toarray()
    ours_mix = topic_mixtures(held, model.alpha, model.beta)
    reference, ref_s = cache.get("sk") or _sklearn_lda(counts, docs)
    cache["sk"] = (reference, ref_s)
    ref_beta = reference.components_ / reference.components_.sum(axis=1, keepdims=True)
    ref_mix = reference.transform(held)
    return Result(
        name=f"LDA ({docs:,} docs × {VOCAB} words, {TOPICS} topics)",
        ours_s=ours_s,
        reference="sklearn LatentDirichletAllocation (online)",
        reference_s=ref_s,
        metric="topic L1 error / held-out dominant-topic accuracy",
        ours_quality=_topic_error(model.beta, beta),
        reference_quality=_topic_error(ref_beta, beta),
        note=(
            f"accuracy {_dominant_accuracy(ours_mix, theta[docs:]):.3f} vs "
            f"{_dominant_accuracy(ref_mix, theta[docs:]):.3f}"
        ),
    )


def bench_ntm(rows: int, docs: int, tmp: Path, cache: dict) -> Result:
    from sagestack.algorithms import ntm

    counts, theta, _ = _corpus(docs)
    env = make_job(
        tmp / "ntm",
        {
            "num_topics": TOPICS,
            "feature_dim": VOCAB,
            "epochs": 10,
            "optimizer": "adam",
            "learning_rate": 0.01,
            "mini_batch_size": 256,
            "batch_norm": True,
        },
        {"train": ("part-0.pbr", _sparse_recordio(counts[:docs]))},
    )
    ours_s = _train_quietly(ntm, env)
    model = ntm.load_model(env.model_dir)
    import torch

    with torch.no_grad():
        weights = model.network.topic_weights(torch.from_numpy(counts[docs:].toarray())).numpy()
    reference, ref_s = cache.get("sk") or _sklearn_lda(counts, docs)
    cache["sk"] = (reference, ref_s)
    return Result(
        name=f"NTM ({docs:,} docs × {VOCAB} words, {TOPICS} topics, 10 epochs, batch_norm)",
        ours_s=ours_s,
        reference="sklearn LatentDirichletAllocation (online)",
        reference_s=ref_s,
        metric="held-out dominant-topic accuracy",
        ours_quality=_dominant_accuracy(weights, theta[docs:]),
        reference_quality=_dominant_accuracy(reference.transform(counts[docs:].toarray()), theta[docs:]),
    )


BENCHMARKS = {"rcf": bench_rcf, "lda": bench_lda, "ntm": bench_ntm}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="RCF training rows (default 1,000,000)")
    parser.add_argument("--docs", type=int, default=100_000, help="LDA/NTM documents (default 100,000)")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="subset of " + ", ".join(BENCHMARKS))
    args = parser.parse_args(argv)
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(selected) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results, cache = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-algorithms-iii-") as tmp:
        for name in selected:
            started = time.perf_counter()
            fn = BENCHMARKS[name]
            result = (
                fn(args.rows, args.docs, Path(tmp))
                if name == "rcf"
                else fn(args.rows, args.docs, Path(tmp), cache)
            )
            print(
                f"{result.name}: sagestack {result.ours_s:.2f}s, {result.reference} {result.reference_s:.2f}s; "
                f"{result.metric} {result.ours_quality:.4g} vs {result.reference_quality:.4g} {result.note} "
                f"({time.perf_counter() - started:.0f}s in all)",
                flush=True,
            )
            results.append(result)
    print()
    print(render(results))


if __name__ == "__main__":
    main()
