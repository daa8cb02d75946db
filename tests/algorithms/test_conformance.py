"""One conformance suite run over every built-in algorithm package (``registry.ALGORITHM_PACKAGES``).

Each package must honour the contract in ``sagestack.algorithms.base``: a well-formed ``SPEC`` (image
repositories, hyperparameter declarations whose defaults pass their own validation, channels, metric
regexes with one capture group), ``train(env)`` that rejects unknown hyperparameters as a client error
but accepts SageMaker's ``_``-prefixed internal keys, and ``load_model``/``predict`` answering every
declared request/response format pair consistently, with a 4xx ``InferenceError`` for the rest.

Training runs on a tiny job directory whose data is written with the SageMaker SDK's own
``write_numpy_to_dense_tensor`` (or CSV) and whose hyperparameters are strings, as the SDK sends them.
"""

from __future__ import annotations

import importlib
import io
import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import conformance_iv
import conformance_v_dense
import conformance_vision
from conformance_iv import Requests
from jobdir import dense_recordio, make_job, metric_values
from sagestack.algorithms import registry
from sagestack.algorithms.base import (
    AlgorithmClientError,
    AlgorithmSpec,
    Hyperparameter,
    InferenceError,
    TrainingEnv,
)

PACKAGES: tuple[str, ...] = tuple(sorted(set(registry.ALGORITHM_PACKAGES.values())))

HP_KINDS = {"int", "float", "str", "bool", "list", "json"}
INPUT_MODES = {"File", "Pipe", "FastFile"}
DISTRIBUTIONS = {"FullyReplicated", "ShardedByS3Key"}
#: Request types some built-in algorithm may accept; each algorithm must refuse those it does not declare.
REQUEST_UNIVERSE = (
    "text/csv",
    "application/json",
    "application/jsonlines",
    "application/x-recordio-protobuf",
    "text/libsvm",
    "application/x-parquet",
    "application/x-npy",
    "image/jpeg",
    "application/x-unknown-type",
)
#: Accept types some built-in algorithm may answer; each algorithm must refuse those it does not declare.
ACCEPT_UNIVERSE = (
    "application/json",
    "application/jsonlines",
    "application/x-recordio-protobuf",
    "text/csv",
    "text/libsvm",
    "application/x-npy",
    "text/html",
    "application/x-unknown-type",
)
#: Internal keys SageMaker's 1P containers and HPO put into hyperparameters (algorithms.md §1.1).
INTERNAL_KEYS = {"_kvstore": "auto", "_num_gpus": "auto", "_num_kv_servers": "auto", "_log_level": "info"}
N_TRAIN, N_QUERY, FEATURES = 120, 7, 4


@pytest.fixture(scope="module", autouse=True)
def _quiet_sdk():
    import os

    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


def load(package: str) -> ModuleType:
    return importlib.import_module(f"sagestack.algorithms.{package}")


# ------------------------------------------------------------------------------------------------
# Tiny data, written the way the SDK writes it


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    centers = np.array([[3, 3, 0, 0], [-3, 0, 3, 0], [0, -3, -3, 3]], dtype=np.float32)
    labels = rng.integers(0, 3, size=N_TRAIN)
    X = (centers[labels] + rng.normal(scale=0.7, size=(N_TRAIN, FEATURES))).astype(np.float32)
    return X, labels


def label_first_csv(X: np.ndarray, y: np.ndarray) -> bytes:
    buf = io.StringIO()
    np.savetxt(buf, np.column_stack([y, X]), delimiter=",", fmt="%.7g")
    return buf.getvalue().encode()


@dataclass(frozen=True)
class Case:
    """How to train one package on the tiny data set, as the SDK would launch it."""

    hyperparameters: dict[str, str]
    channels: Callable[[np.ndarray, np.ndarray], dict[str, bytes]]  # channel → file bytes
    content_types: dict[str, str] = field(default_factory=dict)  # channel → ContentType (absent: none sent)
    tuning_metric: str = ""  # a valid _tuning_objective_metric ("" as 1P default configurations carry)
    expected_metrics: tuple[str, ...] = ()  # metric names the tiny job's log must yield
    # What inference is asked, from the first N_QUERY feature rows: the rows themselves (default), other
    # rows (counts), or, where requests are not feature rows (IP pairs, tokens, text, time series), a
    # Requests object that writes them in each content type.
    query: Callable[[np.ndarray], np.ndarray | Requests] | None = None
    # a response's rows as key → floats, where they are not the usual prediction rows
    rows: Callable[[bytes, str], list[dict[str, list[float]]]] | None = None
    # rows one request answers: N_QUERY, or 1 where a request is one item (an image)
    query_rows: int = N_QUERY


def _binary(y: np.ndarray) -> np.ndarray:
    return (y == 0).astype(np.float32)


def _counts(X: np.ndarray) -> np.ndarray:
    """Word counts (non-negative integers) made from the tiny feature rows, for the topic models."""
    return np.round(np.abs(X) * 2).astype(np.float32)


def _ip_pairs(X: np.ndarray, y: np.ndarray) -> list[tuple[str, str]]:
    return [
        (f"user{int(label)}", f"10.{int(label)}.{i % 200}.{(7 * i) % 250 + 1}") for i, label in enumerate(y)
    ]


def _ip_csv(X: np.ndarray, y: np.ndarray) -> bytes:
    return "".join(f"{entity},{ip}\n" for entity, ip in _ip_pairs(X, y)).encode()


def _ip_requests(X: np.ndarray) -> Requests:
    _, y = _data()
    pairs = _ip_pairs(X, y[: len(X)])
    return Requests.of(
        {
            "text/csv": "".join(f"{e},{ip}\n" for e, ip in pairs).encode(),
            "application/json": json.dumps(
                {"instances": [{"data": {"features": {"values": [e, ip]}}} for e, ip in pairs]}
            ).encode(),
            "application/jsonlines": "".join(
                json.dumps({"features": [e, ip]}) + "\n" for e, ip in pairs
            ).encode(),
        }
    )


def _o2v_pairs(X: np.ndarray, y: np.ndarray) -> list[dict]:
    """Token sequences from the cluster label: pairs of one cluster are similar (label 1)."""
    rows = []
    for i, label in enumerate(y):
        other = int(label) if i % 2 == 0 else (int(label) + 1) % 3
        rows.append(
            {
                "label": int(other == label),
                "in0": [int(label) * 3, int(label) * 3 + 1],
                "in1": [other * 3 + 2],
            }
        )
    return rows


def _o2v_jsonl(X: np.ndarray, y: np.ndarray) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in _o2v_pairs(X, y)).encode()


def _o2v_requests(X: np.ndarray) -> Requests:
    _, y = _data()
    pairs = [{"in0": r["in0"], "in1": r["in1"]} for r in _o2v_pairs(X, y[: len(X)])]
    return Requests.of(
        {
            "application/json": json.dumps({"instances": pairs}).encode(),
            "application/jsonlines": "".join(json.dumps(p) + "\n" for p in pairs).encode(),
        }
    )


CASES: dict[str, Case] = {
    "xgboost": Case(
        hyperparameters={
            "num_round": "5",
            "objective": "binary:logistic",
            "max_depth": "3",
            "eta": "0.3",
            "eval_metric": "auc",
        },
        channels=lambda X, y: {
            "train": label_first_csv(X[:90], _binary(y[:90])),
            "validation": label_first_csv(X[90:], _binary(y[90:])),
        },
        content_types={"train": "text/csv", "validation": "text/csv"},
        tuning_metric="validation:auc",
        expected_metrics=("validation:auc",),
    ),
    "linear_learner": Case(
        hyperparameters={
            "predictor_type": "binary_classifier",
            "feature_dim": str(FEATURES),
            "mini_batch_size": "30",
            "epochs": "3",
        },
        channels=lambda X, y: {
            "train": dense_recordio(X[:90], _binary(y[:90])),
            "validation": dense_recordio(X[90:], _binary(y[90:])),
        },
        tuning_metric="validation:binary_classification_accuracy",
        expected_metrics=("validation:binary_classification_accuracy",),
    ),
    "kmeans": Case(
        hyperparameters={
            "force_dense": "True",
            "k": "3",
            "feature_dim": str(FEATURES),
            "mini_batch_size": "50",
            "eval_metrics": json.dumps(["msd", "ssd"]),
        },
        channels=lambda X, y: {"train": dense_recordio(X), "test": dense_recordio(X[:30])},
        tuning_metric="test:msd",
        expected_metrics=("test:msd", "test:ssd"),
    ),
    "pca": Case(
        hyperparameters={"num_components": "2", "feature_dim": str(FEATURES), "mini_batch_size": "50"},
        channels=lambda X, y: {"train": dense_recordio(X)},
    ),
    "knn": Case(
        hyperparameters={
            "k": "3",
            "predictor_type": "classifier",
            "sample_size": "90",
            "feature_dim": str(FEATURES),
        },
        channels=lambda X, y: {
            "train": dense_recordio(X[:90], y[:90].astype(np.float32)),
            "test": dense_recordio(X[90:], y[90:].astype(np.float32)),
        },
        tuning_metric="test:accuracy",
        expected_metrics=("test:accuracy",),
    ),
    "factorization_machines": Case(
        hyperparameters={
            "predictor_type": "binary_classifier",
            "num_factors": "2",
            "feature_dim": str(FEATURES),
            "epochs": "3",
            "mini_batch_size": "30",
        },
        channels=lambda X, y: {
            "train": dense_recordio(X[:90], _binary(y[:90])),
            "test": dense_recordio(X[90:], _binary(y[90:])),
        },
        tuning_metric="test:binary_classification_accuracy",
        expected_metrics=("test:binary_classification_accuracy",),
    ),
    **{package: Case(**arguments) for package, arguments in conformance_iv.CASE_ARGUMENTS.items()},
    **{package: Case(**arguments) for package, arguments in conformance_vision.CASE_ARGUMENTS.items()},
    **{package: Case(**arguments) for package, arguments in conformance_v_dense.CASE_ARGUMENTS.items()},
    "random_cut_forest": Case(
        hyperparameters={"feature_dim": str(FEATURES), "num_trees": "50", "num_samples_per_tree": "32"},
        channels=lambda X, y: {
            "train": dense_recordio(X[:90]),
            "test": dense_recordio(
                np.vstack([X[90:], X[:5] * 6]), np.r_[np.zeros(30), np.ones(5)].astype(np.float32)
            ),
        },
        tuning_metric="test:f1",
        expected_metrics=("test:f1", "test:accuracy", "test:precision", "test:recall"),
    ),
    "lda": Case(
        hyperparameters={"num_topics": "2", "feature_dim": str(FEATURES), "mini_batch_size": "90"},
        channels=lambda X, y: {
            "train": dense_recordio(_counts(X[:90])),
            "test": dense_recordio(_counts(X[90:])),
        },
        tuning_metric="test:pwll",
        expected_metrics=("test:pwll",),
        query=_counts,
    ),
    "ntm": Case(
        hyperparameters={
            "num_topics": "2",
            "feature_dim": str(FEATURES),
            "epochs": "3",
            "mini_batch_size": "30",
        },
        channels=lambda X, y: {
            "train": dense_recordio(_counts(X[:90])),
            "validation": dense_recordio(_counts(X[90:])),
        },
        tuning_metric="validation:total_loss",
        expected_metrics=("validation:total_loss",),
        query=_counts,
    ),
    "ip_insights": Case(
        hyperparameters={
            "num_entity_vectors": "10",
            "vector_dim": "8",
            "epochs": "2",
            "mini_batch_size": "30",
        },
        channels=lambda X, y: {"train": _ip_csv(X[:90], y[:90]), "validation": _ip_csv(X[90:], y[90:])},
        content_types={"train": "text/csv", "validation": "text/csv"},
        tuning_metric="validation:discriminator_auc",
        expected_metrics=("validation:discriminator_auc",),
        query=_ip_requests,
    ),
    "object2vec": Case(
        hyperparameters={
            "enc0_max_seq_len": "4",
            "enc0_vocab_size": "9",
            "enc0_network": "pooled_embedding",
            "enc_dim": "8",
            "mlp_dim": "8",
            "enc0_token_embedding_dim": "4",
            "enc1_token_embedding_dim": "4",
            "epochs": "2",
        },
        channels=lambda X, y: {"train": _o2v_jsonl(X[:90], y[:90]), "validation": _o2v_jsonl(X[90:], y[90:])},
        content_types={"train": "application/jsonlines", "validation": "application/jsonlines"},
        tuning_metric="validation:accuracy",
        expected_metrics=("validation:accuracy", "validation:cross_entropy"),
        query=_o2v_requests,
    ),
}


def job_for(
    package: str, root: Path, extra: dict[str, str] | None = None, drop: tuple[str, ...] = ()
) -> TrainingEnv:
    case = CASES[package]
    X, y = _data()
    hps = {k: v for k, v in case.hyperparameters.items() if k not in drop}
    hps.update(extra or {})
    files = {
        name: payload
        if isinstance(payload, dict)  # {filename: bytes}
        else {f"part-0.{'csv' if case.content_types.get(name) == 'text/csv' else 'pbr'}": payload}
        for name, payload in case.channels(X, y).items()
    }
    return make_job(root, hps, files, case.content_types)


def test_every_package_has_a_case():
    assert set(CASES) == set(PACKAGES), "add a Case for each new algorithm package"


# ------------------------------------------------------------------------------------------------
# The declaration (SPEC)


@pytest.mark.parametrize("package", PACKAGES)
def test_spec_and_entry_points(package):
    module = load(package)
    spec = module.SPEC
    assert isinstance(spec, AlgorithmSpec)
    for name in ("train", "load_model", "predict"):
        assert callable(getattr(module, name, None)), f"{package}.{name} missing"
    assert spec.name and spec.image_repositories
    repos = {repo for repo, pkg in registry.ALGORITHM_PACKAGES.items() if pkg == package}
    assert set(spec.image_repositories) == repos, "SPEC.image_repositories must match the registry"
    for repo in spec.image_repositories:
        assert repo in registry.KNOWN_REPOSITORIES
        assert registry.load(repo) is module
    assert spec.request_content_types and spec.response_accept_types
    assert len(set(spec.request_content_types)) == len(spec.request_content_types)
    assert len(set(spec.response_accept_types)) == len(spec.response_accept_types)


@pytest.mark.parametrize("package", PACKAGES)
def test_channels_are_well_formed(package):
    spec = load(package).SPEC
    names = [c.name for c in spec.channels]
    assert len(names) == len(set(names))
    train = spec.channel("train")
    assert train is not None and train.required
    for channel in spec.channels:
        assert channel.content_types, channel.name
        assert channel.default_content_type in channel.content_types, channel.name
        assert set(channel.input_modes) <= INPUT_MODES and "File" in channel.input_modes
        assert set(channel.distributions) <= DISTRIBUTIONS and channel.distributions


def _wire(value: Any) -> str:
    """A typed value as the SDK puts it on the wire (``str()``; lists as JSON)."""
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-12)
    return a == b


@pytest.mark.parametrize("package", PACKAGES)
def test_hyperparameter_declarations(package):
    spec = load(package).SPEC
    names = [hp.name for hp in spec.hyperparameters]
    assert len(names) == len(set(names)), "duplicate hyperparameter names"
    for hp in spec.hyperparameters:
        assert isinstance(hp, Hyperparameter)
        assert re.fullmatch(r"_?[a-z][a-z0-9_]*", hp.name), hp.name
        assert hp.kind in HP_KINDS, (hp.name, hp.kind)
        if hp.required:
            assert hp.default is None, f"{hp.name}: a required hyperparameter has no default"
        if hp.choices is not None:
            assert isinstance(hp.choices, tuple) and hp.choices, hp.name
        if hp.low is not None and hp.high is not None:
            assert hp.low <= hp.high, hp.name
        if hp.low is not None or hp.high is not None:
            assert hp.kind in ("int", "float"), f"{hp.name}: bounds on a {hp.kind}"
        assert hp.check is None or callable(hp.check)
        if hp.default is None:
            continue
        parsed = hp.parse(_wire(hp.default))  # the default passes its own validation, round-tripped
        if isinstance(hp.default, list):
            assert parsed == hp.default, hp.name
        else:
            assert _same(parsed, hp.default), (hp.name, parsed, hp.default)


@pytest.mark.parametrize("package", PACKAGES)
def test_metric_definitions(package):
    spec = load(package).SPEC
    names = [d["Name"] for d in spec.metric_definitions]
    assert len(names) == len(set(names)), "duplicate metric names"
    for definition in spec.metric_definitions:
        assert set(definition) == {"Name", "Regex"}, definition
        assert re.fullmatch(r"[A-Za-z0-9_.:/=+\-@]+", definition["Name"]), definition["Name"]
        assert len(definition["Regex"]) <= 500
        assert re.compile(definition["Regex"]).groups == 1, definition


# ------------------------------------------------------------------------------------------------
# Training: hyperparameter handling


@pytest.mark.parametrize("package", PACKAGES)
def test_unknown_hyperparameter_is_a_client_error(package, tmp_path):
    module = load(package)
    env = job_for(package, tmp_path, extra={"no_such_hyperparameter": "1"})
    with pytest.raises(AlgorithmClientError, match="no_such_hyperparameter"):
        module.train(env)
    assert not env.model_dir.exists() or not any(env.model_dir.iterdir()), "a rejected job wrote a model"


@pytest.mark.parametrize("package", PACKAGES)
def test_missing_required_hyperparameter_is_a_client_error(package, tmp_path):
    module = load(package)
    sent = set(CASES[package].hyperparameters)
    if not any(hp.required for hp in module.SPEC.hyperparameters):
        pytest.skip("every hyperparameter of this algorithm is optional")
    required = [hp.name for hp in module.SPEC.hyperparameters if hp.required and hp.name in sent]
    assert required, "the case sends no required hyperparameter"
    env = job_for(package, tmp_path, drop=(required[0],))
    with pytest.raises(AlgorithmClientError, match=required[0]):
        module.train(env)


@pytest.mark.parametrize("package", PACKAGES)
def test_invalid_value_is_a_client_error(package, tmp_path):
    module = load(package)
    numeric = next(
        hp
        for hp in module.SPEC.hyperparameters
        if hp.name in CASES[package].hyperparameters and hp.kind == "int"
    )
    env = job_for(package, tmp_path, extra={numeric.name: "not-a-number"})
    with pytest.raises(AlgorithmClientError, match=numeric.name):
        module.train(env)


# ------------------------------------------------------------------------------------------------
# Training and serving the tiny model


@dataclass
class Trained:
    module: ModuleType
    model: Any
    log: str
    query: np.ndarray | Requests


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Callable[[str], Trained]:
    """Trains each package once (with SageMaker's internal keys and a tuning metric), memoised."""
    cache: dict[str, Trained] = {}

    def get(package: str) -> Trained:
        if package not in cache:
            import contextlib

            module = load(package)
            case = CASES[package]
            extra = dict(INTERNAL_KEYS, _tuning_objective_metric=case.tuning_metric)
            env = job_for(package, tmp_path_factory.mktemp(package), extra=extra)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                module.train(env)
            files = [p for p in env.model_dir.rglob("*") if p.is_file()]
            assert files, f"{package} wrote no model files"
            X, _ = _data()
            query = case.query(X[:N_QUERY]) if case.query else X[:N_QUERY]
            cache[package] = Trained(module, module.load_model(env.model_dir), out.getvalue(), query)
        return cache[package]

    return get


@pytest.mark.parametrize("package", PACKAGES)
def test_training_log_yields_the_declared_metrics(package, trained):
    result = trained(package)
    found = metric_values(result.log, result.module.SPEC)
    for name in CASES[package].expected_metrics:
        assert name in found, f"{name} not in the log; found {sorted(found)}"
        assert math.isfinite(found[name])


def encode_request(X: np.ndarray | Requests, content_type: str) -> bytes:
    """``X`` in a request format, as a client would send it (RecordIO: the SDK's RecordSerializer, float64)."""
    if isinstance(X, Requests):
        return X.encode_as(content_type)
    if content_type == "text/csv":
        buf = io.StringIO()
        np.savetxt(buf, X, delimiter=",", fmt="%.9g")
        return buf.getvalue().encode()
    if content_type == "application/json":
        return json.dumps({"instances": [{"features": row} for row in X.tolist()]}).encode()
    if content_type == "application/jsonlines":
        return "".join(json.dumps({"features": row}) + "\n" for row in X.tolist()).encode()
    if content_type == "application/x-recordio-protobuf":
        from sagemaker.serializers import RecordSerializer

        payload = RecordSerializer().serialize(X.astype(np.float64))  # a BytesIO, as boto3 gets it
        return payload.read()
    if content_type in ("text/libsvm", "text/x-libsvm"):
        return "".join(
            " ".join(f"{j}:{v:.9g}" for j, v in enumerate(row)) + "\n" for row in X.tolist()
        ).encode()
    raise AssertionError(f"no encoder for {content_type}")


def decode_response(body: bytes, accept: str) -> list[Any]:
    """Per row: a dict key → list of floats (JSON, JSON Lines, RecordIO) or a flat list (CSV)."""

    def as_floats(value: Any) -> list[float]:
        return [float(v) for v in value] if isinstance(value, list) else [float(value)]

    if accept == "application/json":
        doc = json.loads(body)
        assert isinstance(doc, dict) and len(doc) == 1, doc
        (rows,) = doc.values()
        return [{k: as_floats(v) for k, v in row.items()} for row in rows]
    if accept == "application/jsonlines":
        return [
            {k: as_floats(v) for k, v in json.loads(line).items()}
            for line in body.decode().splitlines()
            if line.strip()
        ]
    if accept == "application/x-recordio-protobuf":
        from sagemaker.amazon.common import read_records

        rows = []
        for record in read_records(io.BytesIO(body)):
            assert not record.features, "responses carry outputs in label only"
            rows.append({k: [float(x) for x in v.float32_tensor.values] for k, v in record.label.items()})
        return rows
    if accept == "text/csv":
        return [[float(x) for x in line.split(",")] for line in body.decode().splitlines() if line.strip()]
    raise AssertionError(f"no decoder for {accept}")


def rows_of(package: str, body: bytes, accept: str) -> list[Any]:
    case = CASES[package]
    return case.rows(body, accept) if case.rows else decode_response(body, accept)


def _close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and np.allclose(a, b, rtol=1e-4, atol=1e-5)


def _flat(row: dict[str, list[float]]) -> list[float]:
    return [v for values in row.values() for v in values]


@pytest.mark.parametrize("package", PACKAGES)
def test_predict_answers_every_declared_format_pair(package, trained):
    result = trained(package)
    spec = result.module.SPEC
    reference: list[dict[str, list[float]]] | None = None
    for content_type, accept in itertools.product(spec.request_content_types, spec.response_accept_types):
        body, response_type = result.module.predict(
            result.model, encode_request(result.query, content_type), content_type, accept
        )
        assert response_type.split(";")[0].strip() == accept, (content_type, accept, response_type)
        rows = rows_of(package, body, accept)
        assert len(rows) == CASES[package].query_rows, (content_type, accept, body[:200])
        if reference is None and accept != "text/csv":
            reference = rows
        if reference is None:
            continue
        for got, want in zip(rows, reference):
            if accept == "text/csv":
                assert _close(got, _flat(want)), (content_type, accept, got, want)
            else:
                assert got.keys() == want.keys(), (content_type, accept, got, want)
                assert all(_close(got[k], want[k]) for k in want), (content_type, accept, got, want)
    assert reference is not None
    assert all(all(math.isfinite(v) for v in _flat(row)) for row in reference)


@pytest.mark.parametrize("package", PACKAGES)
def test_predict_with_any_accept_uses_a_declared_type(package, trained):
    result = trained(package)
    spec = result.module.SPEC
    content_type = spec.request_content_types[0]
    body, response_type = result.module.predict(
        result.model, encode_request(result.query, content_type), content_type, "*/*"
    )
    media = response_type.split(";")[0].strip()
    assert media in spec.response_accept_types
    assert len(rows_of(package, body, media)) == CASES[package].query_rows


@pytest.mark.parametrize("package", PACKAGES)
def test_undeclared_request_types_are_refused_with_4xx(package, trained):
    result = trained(package)
    spec = result.module.SPEC
    declared = set(spec.request_content_types)
    csv_body = encode_request(result.query, "text/csv")
    for content_type in REQUEST_UNIVERSE:
        if content_type in declared:
            continue
        with pytest.raises(InferenceError) as info:
            result.module.predict(result.model, csv_body, content_type, spec.response_accept_types[0])
        assert 400 <= info.value.status < 500, (content_type, info.value.status)


@pytest.mark.parametrize("package", PACKAGES)
def test_unsupported_accept_is_refused_with_4xx(package, trained):
    result = trained(package)
    spec = result.module.SPEC
    content_type = spec.request_content_types[0]
    with pytest.raises(InferenceError) as info:
        result.module.predict(
            result.model,
            encode_request(result.query, content_type),
            content_type,
            "application/x-unsupported-accept",
        )
    assert 400 <= info.value.status < 500


@pytest.mark.parametrize("package", PACKAGES)
def test_undeclared_accept_types_are_refused_with_406(package, trained):
    """``SPEC.response_accept_types`` is exactly what ``predict`` answers: anything else is a 406."""
    result = trained(package)
    spec = result.module.SPEC
    content_type = spec.request_content_types[0]
    body = encode_request(result.query, content_type)
    for accept in ACCEPT_UNIVERSE:
        if accept in spec.response_accept_types:
            continue
        with pytest.raises(InferenceError) as info:
            result.module.predict(result.model, body, content_type, accept)
        assert info.value.status == 406, (accept, info.value.status)


@pytest.mark.parametrize("package", PACKAGES)
def test_malformed_body_is_a_4xx(package, trained):
    result = trained(package)
    spec = result.module.SPEC
    for content_type in spec.request_content_types:
        with pytest.raises(InferenceError) as info:
            result.module.predict(
                result.model, b"\x00\xffnot a valid payload{", content_type, spec.response_accept_types[0]
            )
        assert 400 <= info.value.status < 500, content_type
