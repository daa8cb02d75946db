"""XGBoost models written by older XGBoost releases (as models trained on AWS by older images are):
the legacy binary format, pickles of 0.x / 1.0-1.2 boosters, and the container's best_ntree_limit.

Fixtures in data/xgboost_legacy/ were written by xgboost 0.90, 1.0.2 and 1.7.6 (make_fixtures.py
there); expected-<version>.json holds what that release predicted for them.
"""

from __future__ import annotations

import json
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")

from sagestack.algorithms import xgboost as alg
from sagestack.algorithms.xgboost import legacy_format
from sagestack.algorithms.xgboost.legacy_format import LegacyModelError
from sagestack.algorithms.xgboost.training import load_checkpoint

DATA = Path(__file__).parent / "data" / "xgboost_legacy"
VERSIONS = ("0.90", "1.0.2", "1.7.6")
CASES = [
    (version, name)
    for version in VERSIONS
    for name in ("binary_logistic", "multi_softprob", "gblinear", "early_stopped")
]


def expected(version: str) -> dict:
    return json.loads((DATA / f"expected-{version}.json").read_text())


def x_test(version: str = "0.90") -> np.ndarray:
    return np.array(expected(version)["x_test"], dtype=np.float64).astype(np.float32)


def model_dir(tmp_path: Path, version: str, name: str) -> Path:
    target = tmp_path / f"{version}-{name}"
    target.mkdir()
    shutil.copy(DATA / expected(version)["models"][name]["file"], target / "xgboost-model")
    return target


def csv_body(X: np.ndarray) -> bytes:
    return "\n".join(",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in X).encode()


@pytest.mark.parametrize("version,name", CASES)
def test_models_of_older_releases_serve_their_predictions(tmp_path, monkeypatch, version, name):
    monkeypatch.setenv("SAGESTACK_IMAGE_TAG", "1.0-1")
    model = alg.load_model(model_dir(tmp_path, version, name))
    body, content_type = alg.predict(model, csv_body(x_test(version)), "text/csv", "application/json")
    scores = [row["score"] for row in json.loads(body)["predictions"]]
    want = expected(version)["models"][name]["predictions"]
    np.testing.assert_allclose(np.array(scores, dtype=np.float64), np.array(want), rtol=2e-6, atol=2e-7)
    assert content_type == "application/json"
    pickled = name == "early_stopped"
    assert model.formats == ["pkl_format" if pickled else "xgb_format"]


@pytest.mark.parametrize("version", VERSIONS)
def test_pickled_best_ntree_limit_is_what_the_container_predicts_with(tmp_path, monkeypatch, version):
    """The container predicts with ``ntree_limit=booster.best_ntree_limit``: the early-stopped model
    keeps two rounds after its best, which do not count."""
    monkeypatch.setenv("SAGESTACK_IMAGE_TAG", "0.90-2")
    case = expected(version)["models"]["early_stopped"]
    model = alg.load_model(model_dir(tmp_path, version, "early_stopped"))
    assert case["best_ntree_limit"] == 1 and model.booster.num_boosted_rounds() == 3
    assert model.iteration_ends == [1]
    got = alg.serving._predict_array(model, x_test(version))
    np.testing.assert_allclose(got, case["predictions"], rtol=2e-6)
    assert not np.allclose(got, case["all_trees"], rtol=1e-3)
    np.testing.assert_allclose(model.booster.inplace_predict(x_test(version)), case["all_trees"], rtol=2e-6)


def test_best_ntree_limit_attribute_counts_for_images_with_xgboost_1_4_to_1_7(tmp_path, monkeypatch):
    """XGBoost 1.4+ restores ``best_ntree_limit`` from the model attributes on ``load_model`` (images
    1.5-1, 1.7-1); earlier images and XGBoost 3 do not."""
    booster = legacy_format.load_booster((DATA / "binary_logistic-1.7.6.model").read_bytes())
    assert booster.attr("best_ntree_limit") == "3" and booster.num_boosted_rounds() == 3
    booster.set_attr(best_ntree_limit="2")
    path = tmp_path / "m"
    path.mkdir()
    (path / "xgboost-model").write_bytes(bytes(booster.save_raw("json")))
    for tag, ends in (("1.7-1", [2]), ("1.5-1", [2]), ("1.3-1", [None]), ("3.0-5", [None])):
        monkeypatch.setenv("SAGESTACK_IMAGE_TAG", tag)
        assert alg.load_model(path).iteration_ends == ends, tag


# ------------------------------------------------------------------------------------------------
# The converter


def test_converted_document_is_xgboost_json_schema():
    raw = (DATA / "multi_softprob-0.90.model").read_bytes()
    doc = json.loads(legacy_format.convert(raw))
    learner = doc["learner"]
    assert learner["learner_model_param"] == {
        "base_score": "0.5",
        "boost_from_average": "1",
        "num_class": "3",
        "num_feature": "5",
        "num_target": "1",
    }
    assert learner["objective"] == {"name": "multi:softprob", "softmax_multiclass_param": {"num_class": "3"}}
    model = learner["gradient_booster"]["model"]
    assert model["gbtree_model_param"]["num_trees"] == "6" and model["tree_info"] == [0, 1, 2, 0, 1, 2]
    tree = model["trees"][0]
    n = int(tree["tree_param"]["num_nodes"])
    assert tree["parents"][0] == 0x7FFFFFFF and tree["left_children"][0] == 1
    for key in (
        "base_weights",
        "default_left",
        "left_children",
        "loss_changes",
        "parents",
        "right_children",
        "split_conditions",
        "split_indices",
        "split_type",
        "sum_hessian",
    ):
        assert len(tree[key]) == n, key
    leaves = [i for i in range(n) if tree["left_children"][i] == -1]
    assert leaves and all(tree["right_children"][i] == -1 for i in leaves)


def test_pre_1_0_base_score_is_stored_as_the_margin():
    """0.90 stored logit(0.3) for base_score=0.3; the JSON holds 0.3 back (exactly, in float32)."""
    doc = json.loads(legacy_format.convert((DATA / "binary_logistic-0.90.model").read_bytes()))
    assert doc["learner"]["learner_model_param"]["base_score"] == repr(float(np.float32(0.3)))
    stored = struct.unpack("<f", (DATA / "binary_logistic-0.90.model").read_bytes()[:4])[0]
    assert stored == pytest.approx(np.log(0.3 / 0.7), rel=1e-6)
    doc = json.loads(legacy_format.convert((DATA / "binary_logistic-1.7.6.model").read_bytes()))
    assert float(doc["learner"]["learner_model_param"]["base_score"]) == pytest.approx(0.3)
    assert "objective" not in doc["learner"]["attributes"]  # 1.x keep the objective's JSON there


def test_header_variants_give_the_same_model():
    """0.x files have no ``binf`` header, 1.x have one, 1.0-1.2 pickles wrap the binary in
    ``CONFIG-offset:``, and very old files wrote the objective's length in 32 bits."""
    raw = (DATA / "binary_logistic-0.90.model").read_bytes()
    reference = legacy_format.convert(raw)
    assert legacy_format.convert(b"binf" + raw) == reference
    config = b'{"Learner": {}}'
    assert legacy_format.convert(b"CONFIG-offset:" + struct.pack("<q", len(raw)) + raw + config) == reference
    (length,) = struct.unpack_from("<Q", raw, 136)
    old = raw[:136] + struct.pack("<Q", length << 32) + b"\0\0\0\0" + raw[144:]
    assert legacy_format.convert(old) == reference


@pytest.mark.parametrize(
    "raw,message",
    [
        (b"", "it ends at byte 0"),
        (
            b"not a model at all, just some text that is long enough to fill the learner parameters" * 3,
            "not an XGBoost model",
        ),
        (b"bs64abcdefgh", "base64"),
        (np.random.default_rng(0).bytes(4000), "not an XGBoost model"),
    ],
)
def test_garbage_is_a_client_error(raw, message):
    with pytest.raises(LegacyModelError, match=message):
        legacy_format.convert(raw)


def test_truncated_model_names_where_it_ends():
    raw = (DATA / "multi_softprob-0.90.model").read_bytes()
    with pytest.raises(
        LegacyModelError,
        match=r"model file is not an XGBoost model: it ends at byte 1000 "
        r"while reading the (nodes|node statistics) of tree \d",
    ):
        legacy_format.convert(raw[:1000])


def test_unloadable_model_file_names_the_file(tmp_path):
    (tmp_path / "xgboost-model").write_bytes(b"\x00" * 64)
    with pytest.raises(
        LegacyModelError, match="Model xgboost-model cannot be loaded: model file is not an XGBoost model"
    ):
        alg.load_model(tmp_path)


def test_pickles_of_other_objects_are_refused_without_running_them(tmp_path):
    marker = tmp_path / "ran"
    evil = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    with pytest.raises(LegacyModelError, match="references os.system, not an XGBoost Booster"):
        legacy_format.read_pickled_booster(evil)
    (tmp_path / "xgboost-model").write_bytes(evil)
    with pytest.raises(LegacyModelError, match="cannot be loaded"):
        alg.load_model(tmp_path)
    assert not marker.exists()
    with pytest.raises(LegacyModelError, match="pickle of dict"):
        legacy_format.read_pickled_booster(pickle.dumps({"handle": b"x"}, protocol=2))


def test_python2_protocol_0_pickle_of_a_0_x_booster(tmp_path):
    """SageMaker's first XGBoost image (Python 2, xgboost 0.72) pickled with protocol 0: the handle is
    a latin-1 ``unicode`` rebuilt into a bytearray, keys are ``str``."""
    raw = (DATA / "binary_logistic-0.90.model").read_bytes()
    text = raw.decode("latin1")
    escaped = text.replace("\\", "\\u005c").replace("\n", "\\u000a")
    blob = (
        "ccopy_reg\n_reconstructor\np0\n(cxgboost.core\nBooster\np1\nc__builtin__\nobject\np2\nNtp3\nRp4\n"
        "(dp5\nS'best_ntree_limit'\np6\nI2\nsS'handle'\np7\nc__builtin__\nbytearray\np8\n(V"
        + escaped
        + "\np9\nS'latin-1'\np10\ntp11\nRp12\nsb."
    ).encode("raw_unicode_escape")
    assert legacy_format.looks_like_pickle(blob)
    state = legacy_format.read_pickled_booster(blob)
    assert state.handle == raw and state.best_ntree_limit == 2
    (tmp_path / "xgboost-model").write_bytes(blob)
    model = alg.load_model(tmp_path)
    assert model.formats == ["pkl_format"] and model.iteration_ends == [2]


def test_json_and_ubjson_models_load_natively():
    booster = legacy_format.load_booster((DATA / "gblinear-1.7.6.model").read_bytes())
    for fmt in ("json", "ubj"):
        again = legacy_format.load_booster(bytes(booster.save_raw(fmt)))
        dtest = xgb.DMatrix(x_test())  # gblinear has no in-place prediction
        np.testing.assert_array_equal(again.predict(dtest), booster.predict(dtest))


def test_training_resumes_from_a_legacy_binary_checkpoint(tmp_path):
    (tmp_path / "xgboost-checkpoint.2").write_bytes((DATA / "binary_logistic-0.90.model").read_bytes())
    booster, next_round = load_checkpoint(tmp_path)
    assert next_round == 3 and booster.num_boosted_rounds() == 3


def _as_float32(tree):
    if isinstance(tree, dict):
        return {k: _as_float32(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_as_float32(v) for v in tree]
    if isinstance(tree, float):
        return float(np.float32(tree))
    return tree


def test_conversion_is_the_json_xgboost_1_7_writes_for_the_same_model():
    """xgboost 1.7.6 saved the same booster as binary and as JSON: the converter's document is the
    same (numbers compared as float32; base_score's text differs: "5E-1" vs "0.5")."""
    mine = json.loads(legacy_format.convert((DATA / "multi_softprob-1.7.6.model").read_bytes()))
    reference = json.loads((DATA / "multi_softprob-1.7.6.json").read_text())
    for doc in (mine, reference):
        param = doc["learner"]["learner_model_param"]
        param["base_score"] = float(param["base_score"])
    assert _as_float32(mine) == _as_float32(reference)
