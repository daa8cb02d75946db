"""Built-in algorithm models trained on AWS (``model_algo-1`` in SageMaker's MXNet layouts) load and serve.

Fixtures in data/mxnet_aws/ were written by MXNet 1.9.1 (make_fixtures.py there); expected.json holds
what MXNet computes with them. Other layouts are written here with sagestack's NDArray writer.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sagestack.algorithms import factorization_machines, kmeans, knn, linear_learner, pca
from sagestack.algorithms.aws_artifacts import AWSModelError
from sagestack.formats import mxnet_ndarray

DATA = Path(__file__).parent / "data" / "mxnet_aws"
EXPECTED = json.loads((DATA / "expected.json").read_text())
X = np.array(EXPECTED["x_test"], dtype=np.float32)


def model_dir(tmp_path: Path, fixture: str | None = None, raw: bytes | None = None) -> Path:
    target = tmp_path / "model"
    target.mkdir(exist_ok=True)
    if fixture is not None:
        shutil.copy(DATA / fixture, target / "model_algo-1")
    else:
        (target / "model_algo-1").write_bytes(raw)
    return target


def invoke(module, model, rows: np.ndarray = X, accept: str = "application/json") -> dict:
    body = json.dumps({"instances": [{"features": row} for row in rows.tolist()]}).encode()
    out, content_type = module.predict(model, body, "application/json", accept)
    assert content_type == accept.split(";")[0]
    return json.loads(out)


def zipped(files: dict[str, bytes | dict]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, json.dumps(content) if isinstance(content, dict) else content)
    return out.getvalue()


def test_kmeans_centroid_list(tmp_path):
    model = kmeans.load_model(model_dir(tmp_path, "kmeans-model_algo-1"))
    assert model.k == 3 and model.feature_dim == 4
    rows = invoke(kmeans, model)["predictions"]
    want = EXPECTED["kmeans"]
    assert [r["closest_cluster"] for r in rows] == [float(c) for c in want["closest_cluster"]]
    np.testing.assert_allclose(
        [r["distance_to_cluster"] for r in rows], want["distance_to_cluster"], rtol=1e-5
    )


def test_pca_mean_v_s(tmp_path):
    model = pca.load_model(model_dir(tmp_path, "pca-model_algo-1"))
    assert model.num_components == 2 and model.feature_dim == 4
    rows = invoke(pca, model)["projections"]
    np.testing.assert_allclose(
        [r["projection"] for r in rows], EXPECTED["pca"]["projection"], rtol=1e-5, atol=1e-6
    )


def test_pca_without_mean_does_not_centre(tmp_path):
    v = np.eye(3, 2, dtype=np.float32)
    model = pca.load_model(model_dir(tmp_path, raw=mxnet_ndarray.save({"v": v, "s": np.ones(2, np.float32)})))
    rows = invoke(pca, model, np.array([[1.0, 2.0, 3.0]], np.float32))["projections"]
    assert rows == [{"projection": [1.0, 2.0]}]


@pytest.mark.parametrize(
    "fixture,key",
    [
        ("linear_learner-binary-model_algo-1", "linear_learner_binary"),
        ("linear_learner-regressor-model_algo-1", "linear_learner_regressor"),
    ],
)
def test_linear_learner_module_checkpoint(tmp_path, fixture, key):
    """The graph around fc0 (feature normalisation, label scaling) is folded into the weights."""
    model = linear_learner.load_model(model_dir(tmp_path, fixture))
    rows = invoke(linear_learner, model)["predictions"]
    scores = [r["score"] for r in rows]
    np.testing.assert_allclose(scores, EXPECTED[key]["score"], rtol=2e-5, atol=1e-6)
    if key == "linear_learner_binary":
        assert model.predictor_type == "binary_classifier" and model.threshold == 0.5
        assert [r["predicted_label"] for r in rows] == [int(s >= 0.5) for s in scores]
    else:
        assert model.predictor_type == "regressor" and "predicted_label" not in rows[0]


def _ll_archive(weight: np.ndarray, bias: np.ndarray, head: str | None, side: dict) -> bytes:
    nodes = [
        {"op": "null", "name": "data", "inputs": []},
        {"op": "null", "name": "fc0_weight", "inputs": []},
        {"op": "null", "name": "fc0_bias", "inputs": []},
        {
            "op": "FullyConnected",
            "name": "fc0",
            "attrs": {"num_hidden": str(weight.shape[0])},
            "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]],
        },
    ]
    if head:
        nodes += [
            {"op": "null", "name": "out_label", "inputs": []},
            {"op": head, "name": "out", "inputs": [[3, 0, 0], [4, 0, 0]]},
        ]
    symbol = {"nodes": nodes, "arg_nodes": [0, 1, 2], "heads": [[len(nodes) - 1, 0, 0]]}
    params = mxnet_ndarray.save(
        {"arg:fc0_weight": weight.astype(np.float32), "arg:fc0_bias": bias.astype(np.float32)}
    )
    return zipped(
        {
            "additional-params.json": side,
            "manifest.json": {},
            "mx-mod-symbol.json": symbol,
            "mx-mod-0000.params": params,
        }
    )


def test_linear_learner_multiclass_softmax(tmp_path):
    weight = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]])
    model = linear_learner.load_model(
        model_dir(tmp_path, raw=_ll_archive(weight, np.zeros(3), "SoftmaxOutput", {}))
    )
    assert model.predictor_type == "multiclass_classifier" and model.num_classes == 3
    rows = invoke(linear_learner, model)["predictions"]
    assert [r["predicted_label"] for r in rows] == np.argmax(X[:, :3], axis=1).tolist()
    np.testing.assert_allclose([sum(r["score"]) for r in rows], 1.0, rtol=1e-6)


def test_linear_learner_hinge_and_threshold_from_the_side_files(tmp_path):
    """Inferred: a raw output named binary_classifier is a hinge model; a *threshold* number counts."""
    weight, bias = np.array([[1.0, -1.0, 0.5, 0.0]]), np.array([0.1])
    side = {"predictor_type": "binary_classifier", "calibration": {"score_threshold": 0.3}}
    model = linear_learner.load_model(
        model_dir(tmp_path, raw=_ll_archive(weight, bias, "LinearRegressionOutput", side))
    )
    assert (model.predictor_type, model.loss, model.threshold) == ("binary_classifier", "hinge_loss", 0.3)
    rows = invoke(linear_learner, model)["predictions"]
    margins = X.astype(np.float64) @ weight[0] + bias[0]
    np.testing.assert_allclose([r["score"] for r in rows], margins, rtol=1e-6)
    assert [r["predicted_label"] for r in rows] == (margins >= 0.3).astype(int).tolist()


def test_linear_learner_non_linear_graph_is_refused(tmp_path):
    nodes = [
        {"op": "null", "name": "data", "inputs": []},
        {"op": "square", "name": "sq", "inputs": [[0, 0, 0]]},
        {"op": "null", "name": "fc0_weight", "inputs": []},
        {"op": "null", "name": "fc0_bias", "inputs": []},
        {
            "op": "FullyConnected",
            "name": "fc0",
            "attrs": {"num_hidden": "1"},
            "inputs": [[1, 0, 0], [2, 0, 0], [3, 0, 0]],
        },
    ]
    params = mxnet_ndarray.save(
        {"arg:fc0_weight": np.ones((1, 4), np.float32), "arg:fc0_bias": np.zeros(1, np.float32)}
    )
    raw = zipped({"mx-mod-symbol.json": {"nodes": nodes, "heads": [[4, 0, 0]]}, "mx-mod-0000.params": params})
    with pytest.raises(AWSModelError, match="not linear in its input"):
        linear_learner.load_model(model_dir(tmp_path, raw=raw))


def test_factorization_machines(tmp_path):
    model = factorization_machines.load_model(model_dir(tmp_path, "factorization_machines-model_algo-1"))
    assert model.predictor_type == "binary_classifier" and model.params.V.shape == (4, 2)
    rows = invoke(factorization_machines, model)["predictions"]
    np.testing.assert_allclose(
        [r["score"] for r in rows], EXPECTED["factorization_machines"]["score"], rtol=1e-5
    )


def test_factorization_machines_older_parameter_names(tmp_path):
    """Older images: Linear_Plus_Bias_weight (1, d), Linear_Plus_Bias_bias and v (k, d); regressor."""
    fixture = mxnet_ndarray.read_artifact((DATA / "factorization_machines-model_algo-1").read_bytes())
    args = fixture.params()[0]
    params = {
        "arg:Linear_Plus_Bias_weight": args["w1_weight"].T,
        "arg:Linear_Plus_Bias_bias": args["w0_weight"],
        "arg:v": args["v"].T,
    }
    raw = zipped(
        {
            "params": mxnet_ndarray.save(params),
            "meta.json": {"training_parameters": {"feature_dim": "4", "predictor_type": "regressor"}},
        }
    )
    model = factorization_machines.load_model(model_dir(tmp_path, raw=raw))
    assert model.predictor_type == "regressor"
    scores = [r["score"] for r in invoke(factorization_machines, model)["predictions"]]
    logits = np.log(np.array(EXPECTED["factorization_machines"]["score"]))
    logits -= np.log1p(-np.array(EXPECTED["factorization_machines"]["score"]))
    np.testing.assert_allclose(scores, logits, rtol=1e-4, atol=1e-5)


def _knn_dir(tmp_path: Path, meta: dict, metric: str = "L2") -> tuple[Path, np.ndarray, np.ndarray]:
    faiss = pytest.importorskip("faiss")
    rng = np.random.default_rng(3)
    points = rng.normal(size=(30, 4)).astype(np.float32)
    labels = (points[:, 0] > 0).astype(np.float32)
    index = faiss.IndexFlatL2(4) if metric == "L2" else faiss.IndexFlatIP(4)
    index.add(points)
    target = tmp_path / "knn"
    target.mkdir()
    faiss.write_index(index, str(target / "model_algo-1"))
    labels.tofile(target / "model_algo-1.labels")
    (target / "model_algo-1.json").write_text(json.dumps(meta))
    return target, points, labels


def test_knn_documented_metadata_only(tmp_path):
    meta = {
        "k": 3,
        "predictor_type": "classifier",
        "dimension_reduction": None,
        "normalize": False,
        "version": "1.0",
    }
    path, points, labels = _knn_dir(tmp_path, meta)
    model = knn.load_model(path)
    assert model.meta["index_metric"] == "L2" and model.input_dim == 4
    rows = invoke(knn, model, X, "application/json; verbose=true")["predictions"]
    distances = np.linalg.norm(X[:, None, :] - points[None], axis=2)
    nearest = np.argsort(distances, axis=1)[:, :3]
    for row, ids, d in zip(rows, nearest, distances):
        np.testing.assert_allclose(row["distances"], np.sort(d)[:3], rtol=1e-5)
        assert row["predicted_label"] == float(np.bincount(labels[ids].astype(int)).argmax())


def test_knn_dimension_reduction_of_aws_cannot_be_reproduced(tmp_path):
    meta = {
        "k": 3,
        "predictor_type": "regressor",
        "normalize": False,
        "version": "1.0",
        "dimension_reduction": {"type": "sign", "seed": 3, "target_dim": 4, "input_dim": 20},
    }
    path, _, _ = _knn_dir(tmp_path, meta)
    with pytest.raises(AWSModelError, match="dimension_reduction 'sign' \\(seed 3\\)"):
        knn.load_model(path)


@pytest.mark.parametrize(
    "module,raw,message",
    [
        (kmeans, b"not an ndarray file", "neither an MXNet NDArray file nor a zip"),
        (pca, mxnet_ndarray.save([np.zeros((2, 2), np.float32)]), "not the arrays v and s"),
        (kmeans, mxnet_ndarray.save([np.zeros(3, np.float32)]), "not a matrix"),
        (
            factorization_machines,
            zipped({"params": mxnet_ndarray.save({"arg:w": np.zeros(2, np.float32)})}),
            "not w0_weight, w1_weight and v",
        ),
        (
            linear_learner,
            zipped({"mx-mod-0000.params": mxnet_ndarray.save({"arg:x": np.zeros(2, np.float32)})}),
            "without fc0_weight",
        ),
    ],
)
def test_unreadable_aws_artifacts_are_client_errors(tmp_path, module, raw, message):
    with pytest.raises(AWSModelError, match=message):
        module.load_model(model_dir(tmp_path, raw=raw))
