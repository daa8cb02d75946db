"""Built-in Random Cut Forest: the forest's math, training jobs (single and multi-host), test metrics."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from jobdir import dense_recordio, make_job, metric_values
from sagestack.algorithms import random_cut_forest as rcf
from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv
from sagestack.algorithms.random_cut_forest.forest import build, sample_rows, score
from sagestack.algorithms.random_cut_forest.training import trees_for_host


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    normal = rng.normal(size=(2000, 3))
    anomalies = rng.normal(scale=0.3, size=(40, 3)) + rng.choice([-5.0, 5.0], size=(40, 3))
    return normal, anomalies


def _train(env: TrainingEnv) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rcf.train(env)
    return out.getvalue()


def test_scores_separate_anomalies_at_least_as_well_as_isolation_forest():
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score

    normal, anomalies = _data()
    train = np.vstack([normal[:1500], anomalies[:10]])
    test = np.vstack([normal[1500:], anomalies[10:]])
    labels = np.r_[np.zeros(500), np.ones(30)]
    rng = np.random.default_rng(0)
    forest = build([train[rows] for rows in sample_rows(len(train), 100, 256, rng)], rng, 256)
    ours = roc_auc_score(labels, score(forest, test))
    reference = IsolationForest(random_state=0).fit(train)
    theirs = roc_auc_score(labels, -reference.score_samples(test))
    assert ours >= theirs - 0.005, (ours, theirs)


def test_score_scale_and_seen_points():
    """Typical points score around 1 (the log2(sample size) normalisation); a point in the sample scores
    lower than a nearby unseen one; scores grow with distance from the data."""
    normal, _ = _data(1)
    rng = np.random.default_rng(0)
    forest = build([normal[rows] for rows in sample_rows(len(normal), 50, 128, rng)], rng, 128)
    typical = score(forest, normal[:500])
    assert 0.3 < np.median(typical) < 2.0
    far = score(forest, np.array([[3.0, 3.0, 3.0], [6.0, 6.0, 6.0], [12.0, 12.0, 12.0]]))
    assert far[0] < far[1] <= far[2] and far[0] > np.median(typical)


def test_samples_are_drawn_without_replacement():
    rows = sample_rows(100, 7, 40, np.random.default_rng(0))
    assert rows.shape == (7, 40)
    assert all(len(set(r.tolist())) == 40 for r in rows)
    assert sample_rows(10, 3, 256, np.random.default_rng(0)).shape == (3, 10)  # fewer rows than the sample


def _job(tmp_path, hps=None, host="algo-1", hosts=("algo-1",), test=True, distribution="ShardedByS3Key"):
    normal, anomalies = _data()
    channels = {"train": {"part.pbr": dense_recordio(np.vstack([normal[:1500], anomalies[:10]]))}}
    if test:
        channels["test"] = {
            "part.pbr": dense_recordio(
                np.vstack([normal[1500:], anomalies[10:]]), np.r_[np.zeros(500), np.ones(30)]
            )
        }
    make_job(
        tmp_path, {"feature_dim": 3, "num_trees": 50, **(hps or {})}, channels, distribution=distribution
    )
    (tmp_path / "input" / "config" / "resourceconfig.json").write_text(
        json.dumps({"current_host": host, "hosts": list(hosts)})
    )
    return TrainingEnv.from_root(tmp_path)


def test_training_job_reports_test_metrics_and_serves_scores(tmp_path):
    log = _train(_job(tmp_path))
    metrics = metric_values(log, rcf.SPEC)
    assert set(metrics) == {"test:f1", "test:accuracy", "test:precision", "test:recall"}
    assert metrics["test:f1"] >= 0.8 and metrics["test:accuracy"] >= 0.95
    model = rcf.load_model(tmp_path / "model")
    body, ctype = rcf.predict(model, b"0,0,0\n5,5,5\n", "text/csv", "application/json")
    scores = [row["score"] for row in json.loads(body)["scores"]]
    assert ctype == "application/json" and scores[1] > 2 * scores[0]
    lines, ctype = rcf.predict(model, b"0,0,0\n", "text/csv", "application/jsonlines")
    assert ctype == "application/jsonlines" and list(json.loads(lines)) == ["score"]


def test_eval_metrics_selects_what_is_logged(tmp_path):
    log = _train(_job(tmp_path, {"eval_metrics": '["accuracy"]'}))
    assert set(metric_values(log, rcf.SPEC)) == {"test:accuracy"}


def test_multi_host_jobs_split_the_trees_and_the_model_merges_them(tmp_path):
    hosts = ("algo-1", "algo-2")
    assert [trees_for_host(101, list(hosts), h) for h in hosts] == [51, 50]
    model_dir = tmp_path / "merged"
    for host in hosts:
        env = _job(tmp_path / host, {"num_trees": "60"}, host=host, hosts=hosts, test=False)
        _train(env)
        for path in env.model_dir.iterdir():
            model_dir.mkdir(exist_ok=True)
            (model_dir / path.name).write_bytes(path.read_bytes())
    assert sorted(p.name for p in model_dir.glob("model_algo-*.npz")) == [
        "model_algo-1.npz",
        "model_algo-2.npz",
    ]
    model = rcf.load_model(model_dir)
    assert model.forest.num_trees == 60
    body, _ = rcf.predict(model, b"0,0,0\n6,6,6\n", "text/csv", "application/json")
    low, high = (row["score"] for row in json.loads(body)["scores"])
    assert high > 2 * low


def test_multi_host_train_channel_must_be_sharded(tmp_path):
    env = _job(tmp_path, hosts=("algo-1", "algo-2"), test=False, distribution="FullyReplicated")
    with pytest.raises(AlgorithmClientError, match="ShardedByS3Key"):
        _train(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("num_trees", "49"),
        ("num_trees", "1001"),
        ("num_samples_per_tree", "0"),
        ("num_samples_per_tree", "2049"),
        ("feature_dim", "10001"),
        ("eval_metrics", '["auc"]'),
    ],
)
def test_bad_hyperparameters_are_client_errors_naming_them(tmp_path, name, value):
    with pytest.raises(AlgorithmClientError, match=name):
        _train(_job(tmp_path, {name: value}))
    assert not (tmp_path / "model").exists() or not any((tmp_path / "model").iterdir())


def test_test_channel_needs_labels(tmp_path):
    normal, _ = _data()
    env = make_job(
        tmp_path,
        {"feature_dim": 3, "num_trees": 50},
        {"train": {"a.pbr": dense_recordio(normal)}, "test": {"b.pbr": dense_recordio(normal[:10])}},
    )
    with pytest.raises(AlgorithmClientError, match="label"):
        _train(env)
