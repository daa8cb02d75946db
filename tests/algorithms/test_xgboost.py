"""The built-in XGBoost algorithm: training jobs on the job-directory layout, and serving."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")

import jobdir
from sagestack.algorithms import xgboost as alg
from sagestack.algorithms.base import AlgorithmClientError, InferenceError, TrainingEnv
from sagestack.algorithms.xgboost import metrics as xgb_metrics
from sagestack.algorithms.xgboost.versions import parse_tag

BASE_HPS = {"num_round": "5", "objective": "binary:logistic", "max_depth": "3", "eta": "0.5", "seed": "7"}


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    # Round-trip through the text format once, so files and in-memory arrays hold the same values.
    X = np.array([[float(f"{v:.6g}") for v in row] for row in X], dtype=np.float32)
    return X, y.astype(np.float32)


def csv_bytes(X: np.ndarray, y: np.ndarray | None = None, weights: np.ndarray | None = None) -> bytes:
    cols = [c for c in (y, weights) if c is not None] + [X]
    table = np.column_stack(cols)
    return ("\n".join(",".join(f"{v:.6g}" for v in row) for row in table) + "\n").encode()


def libsvm_bytes(X: np.ndarray, y: np.ndarray) -> bytes:
    lines = []
    for label, row in zip(y, X):
        feats = " ".join(f"{i}:{v:.6g}" for i, v in enumerate(row))
        lines.append(f"{label:g} {feats}")
    return ("\n".join(lines) + "\n").encode()


def make_job(
    root: Path, hps: dict, channels: dict[str, tuple[str | None, dict[str, bytes]]], checkpoints: bool = False
) -> TrainingEnv:
    """``jobdir.make_job`` with each channel given as ``(ContentType or None, {filename: bytes})``."""
    return jobdir.make_job(
        root,
        hps,
        {name: files for name, (_, files) in channels.items()},
        {name: ctype for name, (ctype, _) in channels.items() if ctype is not None},
        checkpoints=checkpoints,
    )


@pytest.fixture
def tag(monkeypatch):
    def set_tag(value: str) -> None:
        monkeypatch.setenv("SAGESTACK_IMAGE_TAG", value)

    set_tag("1.7-1")
    return set_tag


def split(cancer):
    X, y = cancer
    return X[:400], y[:400], X[400:], y[400:]


def csv_job(tmp_path, cancer, hps, **kw) -> TrainingEnv:
    Xt, yt, Xv, yv = split(cancer)
    return make_job(
        tmp_path / "job",
        hps,
        {
            "train": ("text/csv", {"train.csv": csv_bytes(Xt, yt)}),
            "validation": ("text/csv", {"validation.csv": csv_bytes(Xv, yv)}),
        },
        **kw,
    )


def reference_booster(params: dict, cancer, num_round: int) -> xgb.Booster:
    Xt, yt, _, _ = split(cancer)
    return xgb.train(params, xgb.DMatrix(Xt, label=yt), num_boost_round=num_round)


# ---------------------------------------------------------------------------------------------
# Training


def test_csv_training_matches_in_process_xgboost(tmp_path, cancer, tag, capsys):
    env = csv_job(tmp_path, cancer, BASE_HPS)
    alg.train(env)
    model_file = env.model_dir / "xgboost-model"
    assert model_file.is_file()
    booster = xgb.Booster()
    booster.load_model(bytearray(model_file.read_bytes()))
    assert booster.num_boosted_rounds() == 5

    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.5, "seed": 7}
    expected = reference_booster(params, cancer, 5)
    X = cancer[0]
    np.testing.assert_array_equal(booster.inplace_predict(X), expected.inplace_predict(X))

    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert len(lines) == 5
    assert lines[0].startswith("[0]\ttrain-logloss:") and "\tvalidation-logloss:" in lines[0]


def test_metric_lines_match_definitions_with_tab_and_cloudwatch_escape(tmp_path, cancer, tag, capsys):
    env = csv_job(tmp_path, cancer, dict(BASE_HPS, eval_metric="auc,error,logloss,accuracy,f1"))
    alg.train(env)
    out = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    regexes = {d["Name"]: d["Regex"] for d in alg.SPEC.metric_definitions}
    last = out[-1]
    for name in (
        "validation:auc",
        "validation:error",
        "validation:logloss",
        "validation:accuracy",
        "validation:f1",
    ):
        value = float(re.search(regexes[name], last).group(1))
        cloudwatch = float(re.search(regexes[name], last.replace("\t", "#011")).group(1))
        assert value == cloudwatch
        assert 0 <= value <= 1
    # validation:f1 must not pick up f1_binary etc.; accuracy agrees with scikit-learn.
    booster = xgb.Booster()
    booster.load_model(bytearray((env.model_dir / "xgboost-model").read_bytes()))
    _, _, Xv, yv = split(cancer)
    accuracy = float(np.mean((booster.inplace_predict(Xv) > 0.5) == yv))
    assert float(re.search(regexes["validation:accuracy"], last).group(1)) == pytest.approx(
        accuracy, abs=1e-5
    )


def test_metric_definitions_cover_every_container_metric():
    names = {d["Name"] for d in alg.SPEC.metric_definitions}
    assert names == {f"validation:{m}" for m in xgb_metrics.MAXIMIZE_METRICS + xgb_metrics.MINIMIZE_METRICS}
    regex = next(d["Regex"] for d in alg.SPEC.metric_definitions if d["Name"] == "validation:rmse")
    assert re.search(regex, "[12]#011train-rmse:0.5#011validation-rmse:0.25").group(1) == "0.25"
    assert re.search(regex, "[12]\ttrain-rmse:0.5\tvalidation-rmse:0.25").group(1) == "0.25"
    assert re.search(regex, "[12]\ttrain-rmse:0.5") is None


def test_libsvm_training_and_model_formats_by_version(tmp_path, cancer, tag):
    Xt, yt, _, _ = split(cancer)
    body = libsvm_bytes(Xt, yt)
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.5, "seed": 7}
    expected = reference_booster(params, cancer, 5).inplace_predict(cancer[0])
    for version, check in (
        ("3.0-5", lambda raw: raw[:1] == b"{" and not raw.startswith(b'{"')),  # UBJSON
        ("1.7-1", lambda raw: raw.startswith(b'{"learner"')),  # JSON
        ("1.0-1-cpu-py3", lambda raw: isinstance(pickle.loads(raw), xgb.Booster)),
        ("1", lambda raw: isinstance(pickle.loads(raw), xgb.Booster)),
    ):
        tag(version)
        env = make_job(tmp_path / version, BASE_HPS, {"train": (None, {"train.libsvm": body})})
        alg.train(env)
        raw = (env.model_dir / "xgboost-model").read_bytes()
        assert check(raw), version
        model = alg.load_model(env.model_dir)
        np.testing.assert_allclose(model.booster.inplace_predict(cancer[0]), expected, rtol=1e-6)


def test_csv_weights_are_column_one(tmp_path, cancer, tag):
    Xt, yt, _, _ = split(cancer)
    weights = np.where(yt > 0, 3.0, 1.0).astype(np.float32)
    env = make_job(
        tmp_path / "job",
        dict(BASE_HPS, csv_weights="1"),
        {"train": ("text/csv", {"t.csv": csv_bytes(Xt, yt, weights)})},
    )
    alg.train(env)
    model = alg.load_model(env.model_dir)
    ref = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.5, "seed": 7},
        xgb.DMatrix(Xt, label=yt, weight=weights),
        5,
    )
    np.testing.assert_allclose(model.booster.inplace_predict(Xt), ref.inplace_predict(Xt), rtol=1e-6)


def test_early_stopping_keeps_the_best_model(tmp_path, cancer, tag, capsys):
    hps = dict(
        BASE_HPS, num_round="60", eta="1", max_depth="6", eval_metric="logloss", early_stopping_rounds="2"
    )
    env = csv_job(tmp_path, cancer, hps)
    alg.train(env)
    rounds = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    model = alg.load_model(env.model_dir)
    assert len(rounds) < 60
    losses = [float(re.search(r"validation-logloss:(\S+)", line).group(1)) for line in rounds]
    best = int(np.argmin(losses))
    assert len(rounds) == best + 3
    assert model.booster.num_boosted_rounds() == best + 1


def test_checkpoints_written_and_training_resumes(tmp_path, cancer, tag, capsys):
    env = csv_job(tmp_path / "a", cancer, dict(BASE_HPS, num_round="7"), checkpoints=True)
    alg.train(env)
    names = sorted(p.name for p in env.checkpoint_dir.iterdir())
    assert names == [f"xgboost-checkpoint.{i}" for i in range(2, 7)]  # the 5 newest are kept
    capsys.readouterr()

    resumed = csv_job(tmp_path / "b", cancer, dict(BASE_HPS, num_round="7"), checkpoints=True)
    source = env.checkpoint_dir / "xgboost-checkpoint.3"
    (resumed.checkpoint_dir / source.name).write_bytes(source.read_bytes())
    alg.train(resumed)
    rounds = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert rounds[0].startswith("[4]") and len(rounds) == 3
    full = alg.load_model(env.model_dir).booster
    again = alg.load_model(resumed.model_dir).booster
    assert again.num_boosted_rounds() == 7
    np.testing.assert_allclose(again.inplace_predict(cancer[0]), full.inplace_predict(cancer[0]), rtol=1e-6)


def test_multiclass_softprob_and_tuning_metric(tmp_path, tag, capsys):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    hps = {
        "num_round": "4",
        "objective": "multi:softprob",
        "num_class": "3",
        "_tuning_objective_metric": "validation:accuracy",
        "early_stopping_rounds": "5",
    }
    env = make_job(
        tmp_path / "job",
        hps,
        {
            "train": ("text/csv", {"t.csv": csv_bytes(X[::2], y[::2])}),
            "validation": ("text/csv", {"v.csv": csv_bytes(X[1::2], y[1::2])}),
        },
    )
    alg.train(env)
    out = capsys.readouterr().out
    assert re.search(r"\[3\].*\tvalidation-accuracy:0\.9", out)
    model = alg.load_model(env.model_dir)
    body, ctype = alg.predict(model, csv_bytes(X[:2]), "text/csv", "text/csv")
    rows = body.decode().splitlines()
    assert ctype == "text/csv" and len(rows) == 2 and len(rows[0].split(",")) == 3


def test_kfold_writes_one_model_per_fold_and_serves_the_ensemble(tmp_path, cancer, tag, capsys):
    env = csv_job(tmp_path, cancer, dict(BASE_HPS, num_round="3", _kfold="3"))
    alg.train(env)
    assert sorted(p.name for p in env.model_dir.iterdir()) == [f"xgboost-model-{i}" for i in range(3)]
    assert re.search(
        r"^\[3\]\ttrain-logloss:\S+\tvalidation-logloss:\S+$", capsys.readouterr().out, re.MULTILINE
    )
    model = alg.load_model(env.model_dir)
    X = cancer[0][:4]
    mean = np.mean([b.inplace_predict(X) for b in model.boosters], axis=0)
    body, _ = alg.predict(model, csv_bytes(X), "text/csv", "text/csv")
    np.testing.assert_allclose(np.array(body.decode().split(), dtype=np.float32), mean, rtol=1e-6)


@pytest.mark.parametrize(
    "hps, message",
    [
        ({"max_depth": "-1"}, "max_depth"),
        ({"eta": "1.5"}, "eta"),
        ({"subsample": "0"}, "subsample"),
        ({"objective": "reg:nope"}, "reg:nope"),
        ({"not_a_param": "1"}, "Extraneous hyperparameter found: not_a_param"),
        ({"objective": "multi:softmax"}, "num_class"),
        ({"num_class": "3", "objective": None}, "num_class"),
        ({"objective": "reg:squarederror", "eval_metric": "auc"}, "auc"),
        ({"eval_metric": "rmse,bogus"}, "bogus"),
        ({"eval_metric": "mae@0.5"}, "mae@0.5"),
        ({"monotone_constraints": "(0,1)"}, "monotone_constraints"),
        ({"updater": "grow_colmaker,grow_histmaker"}, "Only one tree grow plugin"),
        ({"silent": "1"}, "Extraneous hyperparameter found: silent"),
        ({"num_round": "abc"}, "num_round"),
        ({"_tuning_objective_metric": "validation:bogus"}, "_tuning_objective_metric"),
    ],
)
def test_bad_hyperparameters_are_client_errors(tmp_path, cancer, tag, hps, message):
    merged = {k: v for k, v in dict(BASE_HPS, **hps).items() if v is not None}
    env = csv_job(tmp_path, cancer, merged)
    with pytest.raises(AlgorithmClientError, match=re.escape(message)):
        alg.train(env)


def test_missing_num_round_and_aliases(tmp_path, cancer, tag):
    hps = {k: v for k, v in BASE_HPS.items() if k != "num_round"}
    with pytest.raises(AlgorithmClientError, match="Missing required hyperparameter: num_round"):
        alg.train(csv_job(tmp_path / "a", cancer, hps))
    env = csv_job(
        tmp_path / "b",
        cancer,
        {
            "num_round": "2",
            "learning_rate": "0.3",
            "reg_lambda": "2",
            "sagemaker_region": "us-east-1",
            "_kvstore": "dist",
        },
    )
    alg.train(env)
    assert (env.model_dir / "xgboost-model").is_file()


def test_legacy_hyperparameters(tmp_path, cancer, tag):
    tag("1")
    env = csv_job(tmp_path / "a", cancer, dict(BASE_HPS, silent="1"))
    alg.train(env)
    assert isinstance(pickle.loads((env.model_dir / "xgboost-model").read_bytes()), xgb.Booster)
    with pytest.raises(AlgorithmClientError, match="colsample_bynode"):
        alg.train(csv_job(tmp_path / "b", cancer, dict(BASE_HPS, colsample_bynode="0.5")))


@pytest.mark.parametrize(
    "channels, message",
    [
        ({"train": ("text/csv", {}), "extra": ("text/csv", {})}, "Extraneous channel found: extra"),
        ({"validation": ("text/csv", {})}, "Missing required channel: train"),
        ({"train": ("application/json", {})}, "is not an accepted ContentType"),
        ({"train": ("text/csv;label_size=0", {})}, "label_size must be equal to 1"),
        ({"train": ("text/csv", {".hidden": b"1,2\n"})}, "Hidden file found"),
        ({"train": ("text/libsvm", {"t": b"1 a:b c\n"})}, "is not 'LIBSVM' format"),
    ],
)
def test_bad_channels_are_client_errors(tmp_path, tag, channels, message):
    env = make_job(tmp_path / "job", BASE_HPS, channels)
    with pytest.raises(AlgorithmClientError, match=re.escape(message)):
        alg.train(env)


def test_recordio_protobuf_training(tmp_path, cancer, tag):
    from sagestack.formats import recordio_protobuf

    Xt, yt, _, _ = split(cancer)
    env = make_job(
        tmp_path / "job",
        BASE_HPS,
        {
            "train": (
                "application/x-recordio-protobuf",
                {"matrix_0.pbr": recordio_protobuf.encode_dense(Xt, yt)},
            ),
        },
    )
    alg.train(env)
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.5, "seed": 7}
    expected = reference_booster(params, cancer, 5).inplace_predict(cancer[0])
    got = alg.load_model(env.model_dir).booster.inplace_predict(cancer[0])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_parquet_training(tmp_path, cancer, tag):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pytest.importorskip("sagestack.formats.tabular")
    Xt, yt, _, _ = split(cancer)
    table = pa.table({"label": yt, **{f"f{i}": Xt[:, i] for i in range(Xt.shape[1])}})
    root = tmp_path / "job"
    env = make_job(root, BASE_HPS, {"train": ("application/x-parquet", {})})
    (root / "input" / "data" / "train").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, root / "input" / "data" / "train" / "part-0.parquet")
    alg.train(env)
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.5, "seed": 7}
    expected = reference_booster(params, cancer, 5).inplace_predict(cancer[0])
    got = alg.load_model(env.model_dir).booster.inplace_predict(cancer[0])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Serving


@pytest.fixture(scope="module")
def served(tmp_path_factory, cancer):
    """A binary:logistic model trained by the algorithm (image 1.7-1), loaded for serving."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SAGESTACK_IMAGE_TAG", "1.7-1")
    root = tmp_path_factory.mktemp("served")
    Xt, yt, _, _ = split(cancer)
    env = make_job(root / "job", BASE_HPS, {"train": ("text/csv", {"t.csv": csv_bytes(Xt, yt)})})
    alg.train(env)
    model = alg.load_model(env.model_dir)
    yield model
    mp.undo()


def test_serving_csv_round_trip(served, cancer):
    X = cancer[0][:3]
    expected = served.booster.inplace_predict(X)
    body, ctype = alg.predict(served, csv_bytes(X), "text/csv", "text/csv")
    assert ctype == "text/csv"
    assert body.endswith(b"\n")
    np.testing.assert_array_equal(np.array(body.decode().split(), dtype=np.float32), expected)
    single, _ = alg.predict(served, csv_bytes(X[:1]).strip(), "text/csv; charset=utf-8", None)
    assert single == f"{float(expected[0])!r}\n".encode()


def test_serving_csv_empty_fields_are_missing_values(served, cancer):
    row = cancer[0][0].copy()
    text = ",".join("" if i == 4 else f"{v:.6g}" for i, v in enumerate(row)).encode()
    row[4] = np.nan
    body, _ = alg.predict(served, text, "text/csv", "text/csv")
    assert float(body) == pytest.approx(float(served.booster.inplace_predict(row[None, :])[0]), rel=1e-6)


def test_serving_accept_types(served, cancer):
    X = cancer[0][:2]
    expected = served.booster.inplace_predict(X).tolist()
    body, ctype = alg.predict(served, csv_bytes(X), "text/csv", "application/json")
    assert ctype == "application/json"
    assert json.loads(body) == {"predictions": [{"score": v} for v in expected]}
    body, ctype = alg.predict(served, csv_bytes(X), "text/csv", "application/jsonlines")
    assert [json.loads(line) for line in body.decode().splitlines()] == [{"score": v} for v in expected]
    body, ctype = alg.predict(served, csv_bytes(X), "text/csv", "application/x-recordio-protobuf")
    assert ctype == "application/x-recordio-protobuf"
    from sagestack.formats import recordio_protobuf

    records = recordio_protobuf.decode_records(body)
    np.testing.assert_allclose([r["score"][0] for r in records], expected, rtol=1e-7)


def test_serving_libsvm_and_default_content_type(served, cancer):
    X, y = cancer[0][:4], cancer[1][:4]
    expected = served.booster.inplace_predict(X)
    for ctype in ("text/libsvm", "text/x-libsvm", None):
        body, _ = alg.predict(served, libsvm_bytes(X, y), ctype, "text/csv")
        np.testing.assert_allclose(np.array(body.decode().split(), dtype=np.float32), expected, rtol=1e-6)
    # labels are optional in requests
    no_label = b"\n".join(line.split(b" ", 1)[1] for line in libsvm_bytes(X, y).splitlines())
    body, _ = alg.predict(served, no_label, "text/libsvm", "text/csv")
    np.testing.assert_allclose(np.array(body.decode().split(), dtype=np.float32), expected, rtol=1e-6)


def test_serving_recordio_request(served, cancer):
    from sagestack.formats import recordio_protobuf

    X = cancer[0][:5]
    body, _ = alg.predict(
        served, recordio_protobuf.encode_dense(X), "application/x-recordio-protobuf", "application/json"
    )
    got = [p["score"] for p in json.loads(body)["predictions"]]
    np.testing.assert_allclose(got, served.booster.inplace_predict(X), rtol=1e-6)


def test_serving_errors(served, cancer):
    X = cancer[0][:1]
    with pytest.raises(InferenceError) as err:
        alg.predict(served, csv_bytes(X), "text/csv", "text/html")
    assert err.value.status == 406
    for ctype in ("application/json", "text/csv; label_size=0", "application/x-parquet"):
        with pytest.raises(InferenceError) as err:
            alg.predict(served, csv_bytes(X), ctype, "text/csv")
        assert err.value.status == 415
    with pytest.raises(InferenceError) as err:
        alg.predict(served, b"1,2\n3\n", "text/csv", "text/csv")
    assert err.value.status == 415
    # XGBoost's own LibSVM reader gives zero rows for an unparsable payload; here it is a 400
    for payload in (b"\x00\xffnot a valid payload{", b"1 0:1 garbage\n", b"1 0:x\n", b"1 -2:1\n"):
        with pytest.raises(InferenceError) as err:
            alg.predict(served, payload, "text/libsvm", "application/json")
        assert err.value.status == 400, payload
    assert alg.predict(served, b"", "text/csv", "text/csv") == (b"", "text/csv")


def test_serving_default_accept_and_batch(served, cancer, monkeypatch):
    X = cancer[0][:2]
    body, ctype = alg.predict(served, csv_bytes(X), "text/csv", "*/*")
    assert ctype == "text/csv"
    monkeypatch.setenv("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
    monkeypatch.setenv("SAGEMAKER_BATCH", "true")
    model = alg.load_model(_model_dir(served, monkeypatch))
    body, ctype = alg.predict(model, csv_bytes(X), "text/csv", None)
    assert ctype == "application/json"
    # batch transform answers one value per line whatever the Accept (container behaviour)
    assert len(body.decode().splitlines()) == 2 and not body.startswith(b"{")


def _model_dir(model, monkeypatch) -> Path:
    import tempfile

    directory = Path(tempfile.mkdtemp())
    (directory / "xgboost-model").write_bytes(bytes(model.booster.save_raw("json")))
    return directory


def test_selectable_inference_output(served, cancer, monkeypatch):
    monkeypatch.setenv(
        "SAGEMAKER_INFERENCE_OUTPUT", "predicted_label, probability,probabilities,labels,predicted_score"
    )
    model = alg.load_model(_model_dir(served, monkeypatch))
    X = cancer[0][:3]
    p = served.booster.inplace_predict(X).tolist()
    body, _ = alg.predict(model, csv_bytes(X), "text/csv", "application/json")
    rows = json.loads(body)["predictions"]
    assert rows[0]["predicted_label"] == int(p[0] > 0.5)
    assert rows[0]["probability"] == p[0]
    assert rows[0]["probabilities"] == pytest.approx([1 - p[0], p[0]])
    assert rows[0]["labels"] == [0, 1]
    assert np.isnan(rows[0]["predicted_score"])  # not valid for binary:logistic
    body, _ = alg.predict(model, csv_bytes(X), "text/csv", "text/csv")
    first = body.decode().splitlines()[0]
    assert first.startswith(f'{int(p[0] > 0.5)},{p[0]!r},"[')


def test_version_tags():
    assert parse_tag("1.0-1-cpu-py3").key == (1, 0)
    assert parse_tag("0.90-2").key == (0, 90)
    assert parse_tag("1").legacy and parse_tag("latest").legacy
    assert parse_tag("1.7-1").model_format == "json"
    assert parse_tag("1.2-2").model_format == "pickle"
    assert parse_tag("3.0-5").model_format == "ubj"
