"""k-NN training: reservoir-sample the train stream, reduce, index with faiss, score the test channel."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv, reader_content_type
from sagestack.algorithms.common import (
    MODEL_NAME,
    auto_value,
    check_labelled_batch,
    configure,
    save_metadata,
)
from sagestack.algorithms.knn import index as knn_index
from sagestack.algorithms.knn.projection import Projection, apply_projection, make_projection
from sagestack.algorithms.knn.spec import SPEC, parse_hyperparameters

FORMAT_VERSION = "1.0"
LABEL_HINT = (
    "k-NN needs a label for every record (recordio-protobuf label['values'], or text/csv with label_size=1)"
)
SAMPLING_SEED = 17
PROJECTION_SEED = 3


@dataclass
class Reservoir:
    """Uniform sample of at most ``capacity`` rows of a stream (Algorithm R, one batch at a time)."""

    capacity: int
    dim: int
    seed: int = SAMPLING_SEED

    def __post_init__(self) -> None:
        self.vectors = np.zeros((0, self.dim), dtype=np.float32)
        self.labels = np.zeros(0, dtype=np.float32)
        self.seen = 0
        self._rng = np.random.default_rng(self.seed)

    def slots(self, batch_rows: int) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, slots)``: which rows of the next batch enter the reservoir, and where.

        Row ``t`` of the stream fills slot ``t`` while the reservoir is filling, then replaces slot
        ``j ~ U[0, t]`` when ``j < capacity``. When two rows of a batch draw the same slot the later one
        wins, exactly as the sequential algorithm.
        """
        positions = self.seen + np.arange(batch_rows, dtype=np.int64)
        draws = self._rng.integers(0, positions + 1)
        slots = np.where(positions < self.capacity, positions, draws)
        take = slots < self.capacity
        rows = np.nonzero(take)[0]
        slots = slots[take]
        # Keep the last row per slot.
        _, last = np.unique(slots[::-1], return_index=True)
        keep = np.sort(rows.shape[0] - 1 - last)
        return rows[keep], slots[keep]

    def offer(self, vectors_of, labels: np.ndarray, batch_rows: int) -> None:
        """Offer a batch; ``vectors_of(rows)`` returns the (projected) vectors of the chosen rows."""
        rows, slots = self.slots(batch_rows)
        self.seen += batch_rows
        if rows.shape[0] == 0:
            return
        needed = int(slots.max()) + 1
        if needed > self.vectors.shape[0]:
            grown = min(self.capacity, max(needed, 2 * self.vectors.shape[0]))
            self.vectors = _grow(self.vectors, grown)
            self.labels = _grow(self.labels, grown)
        self.vectors[slots] = vectors_of(rows)
        self.labels[slots] = labels[rows]

    def filled(self) -> tuple[np.ndarray, np.ndarray]:
        count = min(self.seen, self.capacity)
        return self.vectors[:count], self.labels[:count]


def _grow(array: np.ndarray, rows: int) -> np.ndarray:
    out = np.zeros((rows, *array.shape[1:]), dtype=array.dtype)
    out[: array.shape[0]] = array
    return out


def reduce_vectors(projection: Projection | None, X) -> np.ndarray:
    if projection is not None:
        return apply_projection(projection, X)
    dense = X.toarray() if sp.issparse(X) else X
    return np.ascontiguousarray(dense, dtype=np.float32)


def train(env: TrainingEnv) -> None:
    from sagestack.formats.dataset import iter_channel

    hps = configure(SPEC, env, parse_hyperparameters)
    feature_dim = hps["feature_dim"]
    projection = None
    if hps["dimension_reduction_type"] is not None:
        projection = make_projection(
            hps["dimension_reduction_type"], feature_dim, hps["dimension_reduction_target"], PROJECTION_SEED
        )
    dim = projection.target_dim if projection is not None else feature_dim

    train_channel = env.channels["train"]
    reservoir = Reservoir(capacity=hps["sample_size"], dim=dim)
    for batch in iter_channel(
        train_channel.path, reader_content_type(SPEC, train_channel), hps["mini_batch_size"]
    ):
        X, y = batch.X, batch.y
        check_labelled_batch(X, y, feature_dim, "train", LABEL_HINT)
        reservoir.offer(
            lambda rows, X=X: reduce_vectors(projection, X[rows]),
            np.asarray(y, np.float32).ravel(),
            X.shape[0],
        )
    vectors, labels = reservoir.filled()
    if vectors.shape[0] == 0:
        raise AlgorithmClientError("Channel 'train' holds no records")
    print(
        f"Sampled {vectors.shape[0]} of {reservoir.seen} training records (sample_size={hps['sample_size']})"
    )
    if hps["k"] > vectors.shape[0]:
        print(
            f"Warning: k={hps['k']} exceeds the {vectors.shape[0]} indexed points; queries return "
            f"{vectors.shape[0]} neighbours"
        )

    plan = knn_index.plan_index(
        hps["index_type"],
        hps["index_metric"],
        dim,
        vectors.shape[0],
        auto_value(hps["faiss_index_ivf_nlists"], int),
        hps["faiss_index_pq_m"],
    )
    index = knn_index.build_index(plan, knn_index.prepare_vectors(vectors, plan.metric))
    print(f"Built {plan.index_type} index ({plan.metric}) over {index.ntotal} points of dimension {dim}")

    meta = _metadata(hps, plan, projection)
    _save(env.model_dir, index, labels, meta, projection)

    if "test" in env.channels:
        _score_test(env.channels["test"], index, labels, meta, projection, hps, env.current_host)


def _metadata(hps: dict, plan: knn_index.IndexPlan, projection: Projection | None) -> dict:
    reduction = None
    if projection is not None:
        reduction = {
            "type": projection.kind,
            "seed": projection.seed,
            "target_dim": projection.target_dim,
            "input_dim": projection.input_dim,
        }
    return {
        "k": hps["k"],
        "predictor_type": hps["predictor_type"],
        "dimension_reduction": reduction,
        "normalize": plan.metric == "COSINE",
        "index_type": plan.index_type,
        "index_metric": plan.metric,
        "feature_dim": hps["feature_dim"],
        "faiss_nlist": plan.nlist,
        "faiss_nprobe": plan.nprobe,
        "faiss_pq_m": plan.pq_m,
        "version": FORMAT_VERSION,
    }


def _save(model_dir: Path, index, labels: np.ndarray, meta: dict, projection: Projection | None) -> None:
    import faiss

    save_metadata(model_dir, meta)
    faiss.write_index(index, str(model_dir / MODEL_NAME))
    labels.astype(np.float32).tofile(model_dir / f"{MODEL_NAME}.labels")
    if projection is not None:
        np.savez(model_dir / f"{MODEL_NAME}.projection.npz", **projection.arrays())


def _score_test(channel, index, labels, meta, projection, hps, host: str = "algo-1") -> None:
    from sagestack.algorithms.knn.serving import neighbours_and_predictions
    from sagestack.formats.dataset import iter_channel

    total = 0
    correct = 0
    squared = 0.0
    for batch in iter_channel(channel.path, reader_content_type(SPEC, channel), hps["mini_batch_size"]):
        X, y = batch.X, batch.y
        check_labelled_batch(X, y, hps["feature_dim"], "test", LABEL_HINT)
        _, _, predicted = neighbours_and_predictions(index, labels, meta, projection, X)
        truth = np.asarray(y, np.float32).ravel()
        total += truth.shape[0]
        correct += int(np.sum(predicted == truth))
        squared += float(np.sum((predicted.astype(np.float64) - truth) ** 2))
    if total == 0:
        print("Channel 'test' holds no records; no test score")
        return
    if meta["predictor_type"] == "classifier":
        name, value = "accuracy", correct / total
    else:
        name, value = "mse", squared / total
    print(f"#test_score ({host}) : ('{name}', {value!r})")
    print(f"#quality_metric: host={host}, test {name} <score>={value!r}")
