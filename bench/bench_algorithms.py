"""Built-in algorithms vs their open-source references: training time and model quality.

Usage: ``python -m bench.bench_algorithms [--rows N] [--only linear-learner,xgboost,kmeans,pca]``.
Defaults are the full sizes (1,000,000 rows); pass e.g. ``--rows 20000`` for a quick smoke run.

Each sagestack algorithm runs its ``train(env)`` on a job directory laid out as ``/opt/ml`` (channel data
written in the algorithm's usual format beforehand, untimed), so its time includes reading the channel.
References run in-process on numpy arrays already in memory. Quality is measured on the same held-out
(or same training) rows through each algorithm's own ``load_model`` + ``predict``.

* Linear Learner (binary, SDK-default hyperparameters, RecordIO-protobuf) vs scikit-learn
  ``SGDClassifier(loss="log_loss")`` — rows × 50 features, held-out accuracy.
* XGBoost (CSV channel, 100 rounds, the container's train-set evaluation each round) vs
  ``xgboost.train`` with the same parameters and a train-set watchlist — rows × 20; also the time
  ``xgboost.DMatrix`` takes to read the same CSV (part of sagestack's time, not the reference's).
* K-Means (k=10, SDK defaults) vs scikit-learn ``KMeans(n_init=1)`` — rows × 20, inertia.
* PCA (10 components, regular mode, SDK-default mini-batch) vs scikit-learn ``PCA`` — rows × 50,
  reconstruction error.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


@dataclass
class Result:
    name: str
    ours_s: float
    reference: str
    reference_s: float
    metric: str
    ours_quality: float
    reference_quality: float
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours_s / self.reference_s if self.reference_s else float("nan")


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def make_job(
    root: Path,
    hyperparameters: dict[str, Any],
    files: dict[str, tuple[str, bytes]],
    content_types: dict[str, str] | None = None,
):
    """An ``/opt/ml``-style job directory; ``files`` maps channel → (file name, bytes)."""
    from sagestack.algorithms.base import TrainingEnv

    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({k: str(v) for k, v in hyperparameters.items()}))
    data_config = {}
    for channel, (filename, payload) in files.items():
        folder = root / "input" / "data" / channel
        folder.mkdir(parents=True)
        (folder / filename).write_bytes(payload)
        data_config[channel] = {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}
        if content_types and channel in content_types:
            data_config[channel]["ContentType"] = content_types[channel]
    (config / "inputdataconfig.json").write_text(json.dumps(data_config))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    return TrainingEnv.from_root(root)


def _train_quietly(module, env) -> float:
    """``module.train(env)`` with its log discarded; returns the wall time."""
    with contextlib.redirect_stdout(io.StringIO()):
        _, seconds = _timed(lambda: module.train(env))
    return seconds


def _recordio(X: np.ndarray, y: np.ndarray | None = None) -> bytes:
    from sagestack.formats.recordio_protobuf import encode_dense  # same bytes as the SDK's writer, faster

    return encode_dense(X, y)


def _csv_rows(body: bytes) -> np.ndarray:
    return np.loadtxt(io.StringIO(body.decode()), delimiter=",", ndmin=2)


# ------------------------------------------------------------------------------------------------


def bench_linear_learner(rows: int, tmp: Path) -> Result:
    from sklearn.linear_model import SGDClassifier

    from sagestack.algorithms import linear_learner

    rng = np.random.default_rng(0)
    d, n_test = 50, max(rows // 5, 1000)
    w = rng.normal(size=d)
    X = rng.normal(size=(rows + n_test, d)).astype(np.float32)
    y = ((X @ w) / np.sqrt(d) * 3 + rng.normal(size=len(X)) > 0).astype(np.float32)
    Xtr, ytr, Xte, yte = X[:rows], y[:rows], X[rows:], y[rows:]
    env = make_job(
        tmp / "linear-learner",
        {"predictor_type": "binary_classifier", "feature_dim": d, "mini_batch_size": min(1000, rows)},
        {"train": ("train.pbr", _recordio(Xtr, ytr))},
    )
    ours = _train_quietly(linear_learner, env)
    model = linear_learner.load_model(env.model_dir)
    body, _ = linear_learner.predict(
        model, _recordio(Xte), "application/x-recordio-protobuf", "application/json"
    )
    predicted = np.array([p["predicted_label"] for p in json.loads(body)["predictions"]])
    sgd, reference = _timed(lambda: SGDClassifier(loss="log_loss", random_state=0).fit(Xtr, ytr))
    return Result(
        f"Linear Learner ({rows:,} x {d})",
        ours,
        "sklearn SGDClassifier",
        reference,
        "held-out accuracy",
        float((predicted == yte).mean()),
        float(sgd.score(Xte, yte)),
    )


def bench_xgboost(rows: int, tmp: Path) -> Result:
    import xgboost as xgb

    from sagestack.algorithms import xgboost as builtin

    rng = np.random.default_rng(1)
    d, rounds = 20, 100
    X = rng.normal(size=(rows, d)).astype(np.float32)
    y = ((X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + X[:, 3] + rng.normal(scale=0.5, size=rows)) > 0).astype(
        np.float32
    )
    buf = io.StringIO()
    np.savetxt(buf, np.column_stack([y, X]), delimiter=",", fmt="%.7g")
    csv = buf.getvalue().encode()
    params = {"objective": "binary:logistic", "max_depth": 6, "eta": 0.3, "eval_metric": "logloss"}
    env = make_job(
        tmp / "xgboost", {**params, "num_round": rounds}, {"train": ("train.csv", csv)}, {"train": "text/csv"}
    )
    ours = _train_quietly(builtin, env)
    model = builtin.load_model(env.model_dir)
    sample = slice(0, min(rows, 100_000))
    body, _ = builtin.predict(model, csv_lines(X[sample]), "text/csv", "text/csv")
    ours_loss = _logloss(y[sample], _csv_rows(body).ravel())

    def reference() -> Any:
        dtrain = xgb.DMatrix(X, label=y)
        return xgb.train(params, dtrain, rounds, evals=[(dtrain, "train")], verbose_eval=False)

    booster, ref_s = _timed(reference)
    ref_loss = _logloss(y[sample], booster.predict(xgb.DMatrix(X[sample])))
    path = env.channels["train"].path / "train.csv"
    _, load_s = _timed(lambda: xgb.DMatrix(f"{path}?format=csv&label_column=0"))
    return Result(
        f"XGBoost ({rows:,} x {d}, {rounds} rounds)",
        ours,
        "xgboost.train in-process",
        ref_s,
        f"logloss ({len(y[sample]):,} train rows)",
        ours_loss,
        ref_loss,
        note=f"CSV read by DMatrix alone: {load_s:.2f}s",
    )


def csv_lines(X: np.ndarray) -> bytes:
    buf = io.StringIO()
    np.savetxt(buf, X, delimiter=",", fmt="%.7g")
    return buf.getvalue().encode()


def _logloss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _blobs(rows: int, d: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(k, d))
    return (centers[rng.integers(0, k, size=rows)] + rng.normal(size=(rows, d))).astype(np.float32)


def bench_kmeans(rows: int, tmp: Path) -> Result:
    from sklearn.cluster import KMeans

    from sagestack.algorithms import kmeans

    d, k = 20, 10
    X = _blobs(rows, d, k, seed=2)
    env = make_job(
        tmp / "kmeans",
        {"k": k, "feature_dim": d, "force_dense": "True"},
        {"train": ("train.pbr", _recordio(X))},
    )
    ours = _train_quietly(kmeans, env)
    model = kmeans.load_model(env.model_dir)
    sample = X[: min(rows, 100_000)]
    body, _ = kmeans.predict(model, csv_lines(sample), "text/csv", "text/csv")
    ours_inertia = float((_csv_rows(body)[:, 1].astype(np.float64) ** 2).sum())
    sk, ref_s = _timed(lambda: KMeans(n_clusters=k, n_init=1, random_state=0).fit(X))
    return Result(
        f"K-Means ({rows:,} x {d}, k={k})",
        ours,
        "sklearn KMeans(n_init=1)",
        ref_s,
        f"inertia ({len(sample):,} train rows)",
        ours_inertia,
        float(-sk.score(sample)),
    )


def bench_pca(rows: int, tmp: Path) -> Result:
    from sklearn.decomposition import PCA

    from sagestack.algorithms import pca

    rng = np.random.default_rng(3)
    d, components = 50, 10
    X = (rng.normal(size=(rows, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)).astype(np.float32)
    env = make_job(
        tmp / "pca",
        {"num_components": components, "feature_dim": d, "mini_batch_size": min(500, rows)},
        {"train": ("train.pbr", _recordio(X))},
    )
    ours = _train_quietly(pca, env)
    model = pca.load_model(env.model_dir)
    sample = X[: min(rows, 100_000)].astype(np.float64)
    body, _ = pca.predict(model, csv_lines(sample), "text/csv", "application/jsonlines")
    projections = np.array([json.loads(line)["projection"] for line in body.splitlines() if line.strip()])
    design = np.column_stack([projections, np.ones(len(sample))])
    coef, *_ = np.linalg.lstsq(design, sample, rcond=None)
    ours_error = float(((sample - design @ coef) ** 2).sum())
    sk, ref_s = _timed(lambda: PCA(n_components=components).fit(X))
    ref_error = float(((sample - sk.inverse_transform(sk.transform(sample))) ** 2).sum())
    # CPU time (process user+sys), median of 5, both on one BLAS thread: steadier than wall time on a
    # shared machine; sagestack's includes reading the RecordIO-protobuf file, scikit-learn's does not
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        ours_cpu = _median_cpu(lambda: _train_quietly(pca, env))
        ref_cpu = _median_cpu(lambda: PCA(n_components=components).fit(X))
    return Result(
        f"PCA ({rows:,} x {d}, {components} components)",
        ours,
        "sklearn PCA",
        ref_s,
        f"reconstruction SSE ({len(sample):,} train rows)",
        ours_error,
        ref_error,
        f"CPU (1 BLAS thread, median of 5) {ours_cpu:.3f}s vs {ref_cpu:.3f}s = {ours_cpu / ref_cpu:.2f}x",
    )


def _median_cpu(fn: Callable[[], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        fn()
        times.append(time.process_time() - started)
    return float(np.median(times))


BENCHMARKS: dict[str, Callable[[int, Path], Result]] = {
    "linear-learner": bench_linear_learner,
    "xgboost": bench_xgboost,
    "kmeans": bench_kmeans,
    "pca": bench_pca,
}


def render(results: list[Result]) -> str:
    lines = [
        (
            "| benchmark | sagestack train() | reference | reference time | time ratio | metric | sagestack | "
            "reference | notes |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.ours_s:.2f}s | {r.reference} | {r.reference_s:.2f}s | {r.ratio:.2f}x | {r.metric} | "
            f"{r.ours_quality:.6g} | {r.reference_quality:.6g} | {r.note} |"
        )
    return "\n".join(lines)


def run_selected(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    benchmarks: dict[str, Callable[..., Result]],
    run: Callable[[Callable[..., Result], Path], Result],
    prefix: str,
) -> None:
    """What the algorithm benchmarks' mains share: run the ``--only`` subset of ``benchmarks`` (``run``
    calls one with a temporary folder), print a line per result as it comes, then the table."""
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(selected) - set(benchmarks))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results = []
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        for name in selected:
            started = time.perf_counter()
            result = run(benchmarks[name], Path(tmp))
            print(
                f"{result.name}: sagestack {result.ours_s:.2f}s, {result.reference} {result.reference_s:.2f}s "
                f"({result.ratio:.2f}x); {result.metric} {result.ours_quality:.6g} vs "
                f"{result.reference_quality:.6g} {result.note} ({time.perf_counter() - started:.0f}s in all)",
                flush=True,
            )
            results.append(result)
    print()
    print(render(results))


def only_option(parser: argparse.ArgumentParser, benchmarks: dict) -> None:
    parser.add_argument(
        "--only", default=",".join(benchmarks), help="comma-separated subset of " + ", ".join(benchmarks)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="training rows (default 1,000,000)")
    only_option(parser, BENCHMARKS)
    args = parser.parse_args(argv)
    run_selected(parser, args, BENCHMARKS, lambda fn, tmp: fn(args.rows, tmp), "bench-algorithms-")


if __name__ == "__main__":
    main()
