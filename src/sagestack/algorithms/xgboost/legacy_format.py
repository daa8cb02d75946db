"""XGBoost models written by older XGBoost releases: the legacy binary format and old pickles.

XGBoost before 2.1 saved ``Booster.save_model("xgboost-model")`` in a little-endian binary layout,
and pickled boosters (images before 1.3-1) carry that layout, or XGBoost 1.0-1.2's
``CONFIG-offset:`` serialisation around it, in their ``handle``. The installed XGBoost (3.x) reads only
JSON and UBJSON, so this module parses the binary layout with numpy and writes the same model in
XGBoost's JSON model schema (the one XGBoost 1.7, the last release that wrote both, produces for it).

The layout, as XGBoost 0.72 … 1.7 read it (all integers little-endian):

``[b"binf"]``
    optional header (1.0 and later write it; 0.x files and pickled handles have none).
``LearnerModelParam`` (136 bytes)
    float32 base_score; uint32 num_feature; int32 num_class; int32 contain_extra_attrs;
    int32 contain_eval_metrics; uint32 major_version, minor_version (0 before 1.0); uint32 num_target;
    int32 boost_from_average; int32 reserved[25].
objective name, booster name
    strings: uint64 length, then the bytes (a length ≥ 2³² is an old 32-bit length in the high
    half, followed by four padding bytes).
booster
    ``gbtree``: GBTreeModelParam (160 bytes: int32 num_trees, num_parallel_tree (num_roots before
    1.0), num_feature, pad; int64 num_pbuffer; int32 num_output_group, size_leaf_vector,
    reserved[32]), the trees, then int32 tree_info[num_trees] (the output group of each tree).
    A tree: TreeParam (148 bytes: int32 num_roots, num_nodes, num_deleted, max_depth, num_feature,
    size_leaf_vector, reserved[31]); num_nodes nodes of 20 bytes (int32 parent, bit 31 set for a
    left child, -1 for the root; int32 left, right child, -1 for a leaf; uint32 split feature, bit
    31 = missing values go left, all ones = deleted node; float32 split threshold or leaf value);
    num_nodes stats of 16 bytes (float32 loss_chg, sum_hess, base_weight; int32 leaf_child_cnt);
    before 1.0, a float vector (uint64 count + values) when size_leaf_vector ≠ 0.
    ``dart``: a gbtree, then the float vector weight_drop (when num_trees ≠ 0).
    ``gblinear``: GBLinearModelParam (136 bytes: uint32 num_feature; int32 num_output_group;
    int32 reserved[32]; both 0 from 1.0 on, where the learner's num_feature and num_class count), then
    the float vector of (num_feature + 1) × num_output_group weights,
    the biases last.
attributes
    when contain_extra_attrs: uint64 count, then (key, value) string pairs. 1.0+ store the
    objective's parameters as JSON under ``objective`` and the evaluation metrics under ``metrics``.
before 1.0 only
    ``count:poisson`` appends max_delta_step as a string; contain_eval_metrics appends uint64
    count + metric names.

``base_score``: before 1.0 the file holds the margin (``ProbToMargin`` already applied); 1.0+ hold
the value the user gave. JSON holds the user value, which the loading XGBoost turns into the margin
with the objective's link, so the converter writes the value whose margin is the one the writing
release used (``binary:logitraw`` took the logit of base_score before 1.4, the identity since).
"""

from __future__ import annotations

import io
import json
import math
import pickle
import struct
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError

#: XGBoost 1.0-1.2 serialisation (pickles): header, int64 length of the binary model, model, JSON config.
SERIALISATION_HEADER = b"CONFIG-offset:"
BINARY_HEADER = b"binf"
#: The JSON schema written: XGBoost 1.7's, which every XGBoost from 1.6 on loads.
JSON_SCHEMA_VERSION = [1, 7, 6]

_LEARNER_PARAM = struct.Struct("<fIiiiIIIi100x")
_GBTREE_PARAM = struct.Struct("<iiiiqii128x")
_TREE_PARAM = struct.Struct("<iiiiii124x")
_GBLINEAR_PARAM = struct.Struct("<Ii128x")
_NODE = np.dtype(
    [("parent", "<i4"), ("cleft", "<i4"), ("cright", "<i4"), ("sindex", "<u4"), ("value", "<f4")]
)
_STAT = np.dtype(
    [("loss_chg", "<f4"), ("sum_hess", "<f4"), ("base_weight", "<f4"), ("leaf_child_cnt", "<i4")]
)
_MAX_COUNT = 1 << 31
_BOOSTERS = ("gbtree", "dart", "gblinear")

#: Objective parameters XGBoost 1.7 writes for each objective; files before 1.0 do not store them.
_REG_LOSS = {"reg_loss_param": {"scale_pos_weight": "1"}}
_LAMBDA_RANK = {"lambda_rank_param": {"fix_list_weight": "0", "num_pairsample": "1"}}
_OBJECTIVE_PARAMS: dict[str, dict[str, Any]] = {
    "reg:squarederror": _REG_LOSS,
    "reg:squaredlogerror": _REG_LOSS,
    "reg:logistic": _REG_LOSS,
    "binary:logistic": _REG_LOSS,
    "binary:logitraw": _REG_LOSS,
    "reg:pseudohubererror": {"pseudo_huber_param": {"huber_slope": "1"}},
    "reg:tweedie": {"tweedie_regression_param": {"tweedie_variance_power": "1.5"}},
    "count:poisson": {"poisson_regression_param": {"max_delta_step": "0.7"}},
    "rank:pairwise": _LAMBDA_RANK,
    "rank:ndcg": _LAMBDA_RANK,
    "rank:map": _LAMBDA_RANK,
}
#: Objectives whose base_score → margin link is the logit / the log (in the loading XGBoost).
_LOGIT_LINK = ("reg:logistic", "binary:logistic")
_LOG_LINK = ("count:poisson", "reg:gamma", "reg:tweedie", "survival:cox", "survival:aft")


class LegacyModelError(AlgorithmClientError):
    """The bytes are not a model this module can read (reported as the model's load failure)."""


# ------------------------------------------------------------------------------------------------
# Detection


def is_json_or_ubjson(raw: bytes) -> bool:
    """JSON and UBJSON models both start with ``{`` (the installed XGBoost reads them itself)."""
    return raw[:1] == b"{"


def looks_like_pickle(raw: bytes) -> bool:
    """Protocol 2+ starts with PROTO (0x80, version); protocols 0/1 (Python 2's default) usually
    start with GLOBAL ``c`` (``ccopy_reg\\n_reconstructor``) or MARK ``(``."""
    if raw[:1] == b"\x80":
        return len(raw) > 1 and 2 <= raw[1] <= 5
    return raw[:1] in (b"c", b"(") and b"\n" in raw[:200]


# ------------------------------------------------------------------------------------------------
# Pickled boosters


@dataclass
class PickledBooster:
    """The state a pickled ``xgboost.core.Booster`` carries (without running any other code)."""

    handle: bytes | None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def best_ntree_limit(self) -> int | None:
        value = self.attributes.get("best_ntree_limit")
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None


class _BoosterState:
    """Stands in for ``xgboost.core.Booster`` while unpickling: keeps the state dict."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


#: What an unpickled Booster may reference besides the Booster class itself.
_ALLOWED_GLOBALS = {
    ("copy_reg", "_reconstructor"),
    ("copyreg", "_reconstructor"),
    ("__builtin__", "object"),
    ("builtins", "object"),
    ("__builtin__", "bytearray"),
    ("builtins", "bytearray"),
    ("__builtin__", "set"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _BoosterUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name == "Booster" and module.startswith("xgboost"):
            return _BoosterState
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the pickle references {module}.{name}, not an XGBoost Booster")


def read_pickled_booster(raw: bytes) -> PickledBooster:
    """The state of a pickled Booster, from any XGBoost and Python 2 or 3, without importing xgboost.

    Only the classes a Booster's pickle needs are resolved; anything else is refused."""
    try:
        obj = _BoosterUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        raise LegacyModelError(f"model file is a pickle but not of an XGBoost Booster: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - truncated / corrupt pickle streams raise many types
        raise LegacyModelError(f"model file is not a readable pickle: {type(exc).__name__}: {exc}") from None
    if not isinstance(obj, _BoosterState) or not isinstance(getattr(obj, "state", None), dict):
        raise LegacyModelError(f"model file is a pickle of {type(obj).__name__}, not of an XGBoost Booster")
    state = dict(obj.state)
    handle = state.pop("handle", None)
    if isinstance(handle, str):  # a Python 2 str unpickled as latin-1 text
        handle = handle.encode("latin1")
    return PickledBooster(bytes(handle) if handle is not None else None, state)


# ------------------------------------------------------------------------------------------------
# Binary reader


class _Reader:
    def __init__(self, raw: bytes):
        self.raw = memoryview(raw)
        self.pos = 0

    @property
    def remaining(self) -> int:
        return len(self.raw) - self.pos

    def take(self, size: int, what: str) -> memoryview:
        if size < 0 or size > self.remaining:
            raise LegacyModelError(
                f"model file is not an XGBoost model: it ends at byte {len(self.raw)} while reading {what} "
                f"({size} bytes at offset {self.pos})"
            )
        chunk = self.raw[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, layout: struct.Struct, what: str) -> tuple:
        return layout.unpack(self.take(layout.size, what))

    def u64(self, what: str) -> int:
        return struct.unpack("<Q", self.take(8, what))[0]

    def count(self, what: str) -> int:
        value = self.u64(what)
        if value >= _MAX_COUNT:
            raise LegacyModelError(f"model file is not an XGBoost model: implausible {what} {value}")
        return value

    def string(self, what: str) -> str:
        return self._text(self.take(self.count(f"length of {what}"), what), what)

    def name(self, what: str) -> str:
        """The objective name, with the pre-0.6 32-bit length quirk."""
        length = self.u64(f"length of {what}")
        if length >= 0xFFFFFFFF:
            self.take(4, f"padding of {what}")
            length >>= 32
        if length >= 256:
            raise LegacyModelError(f"model file is not an XGBoost model: implausible {what} length {length}")
        return self._text(self.take(length, what), what)

    def floats(self, what: str) -> np.ndarray:
        n = self.count(f"size of {what}")
        return np.frombuffer(self.take(4 * n, what), dtype="<f4").copy()

    def array(self, dtype: np.dtype, n: int, what: str) -> np.ndarray:
        return np.frombuffer(self.take(dtype.itemsize * n, what), dtype=dtype).copy()

    @staticmethod
    def _text(chunk: memoryview, what: str) -> str:
        try:
            text = bytes(chunk).decode("utf-8")
        except UnicodeDecodeError:
            raise LegacyModelError(f"model file is not an XGBoost model: {what} is not text") from None
        if not text.isprintable():
            raise LegacyModelError(f"model file is not an XGBoost model: {what} {text[:40]!r} is not a name")
        return text


# ------------------------------------------------------------------------------------------------
# Conversion


@dataclass
class LegacyModel:
    """What the binary file says, before it becomes JSON."""

    version: tuple[int, int]
    base_score: float
    num_feature: int
    num_class: int
    objective: str
    booster: str
    gbm: dict[str, Any]
    attributes: dict[str, str]
    boost_from_average: int = 1
    max_delta_step: str | None = None


def split_serialised(raw: bytes) -> bytes:
    """The binary model inside XGBoost 1.0-1.2's ``CONFIG-offset:`` serialisation (the JSON
    configuration after it holds training parameters only)."""
    start = len(SERIALISATION_HEADER)
    if len(raw) < start + 8:
        raise LegacyModelError("model file is not an XGBoost model: truncated CONFIG-offset header")
    (offset,) = struct.unpack("<q", raw[start : start + 8])
    if not 0 < offset <= len(raw) - start - 8:
        raise LegacyModelError(f"model file is not an XGBoost model: CONFIG-offset {offset} is out of range")
    return raw[start + 8 : start + 8 + offset]


def read_binary(raw: bytes) -> LegacyModel:
    """Parse the legacy binary layout (with or without ``binf``, or inside ``CONFIG-offset:``)."""
    if raw.startswith(SERIALISATION_HEADER):
        raw = split_serialised(raw)
    if raw[:4] == b"bs64":
        raise LegacyModelError("model file is an XGBoost base64 model, which no XGBoost since 0.6 reads")
    reader = _Reader(raw)
    if raw[:4] == BINARY_HEADER:
        reader.take(4, "header")
    (
        base_score,
        num_feature,
        num_class,
        extra_attrs,
        _eval_metrics,
        major,
        minor,
        _num_target,
        boost_from_average,
    ) = reader.unpack(_LEARNER_PARAM, "the learner parameters")
    if num_class < 0 or num_feature >= _MAX_COUNT or major > 2:
        raise LegacyModelError("model file is not an XGBoost model: the learner parameters are not valid")
    objective = reader.name("objective name")
    booster = reader.string("booster name")
    if booster not in _BOOSTERS:
        raise LegacyModelError(
            f"model file is not an XGBoost model: booster {booster[:40]!r} is not one of {', '.join(_BOOSTERS)}"
        )
    if booster == "gblinear":
        gbm = _read_gblinear(reader, num_feature, max(num_class, 1))
    else:
        gbm = _read_gbtree(reader, dart=booster == "dart")
    attributes: dict[str, str] = {}
    if extra_attrs:
        for _ in range(reader.count("attribute count")):
            key = reader.string("attribute name")
            attributes[key] = bytes(reader.take(reader.count("attribute length"), "attribute")).decode(
                "utf-8", errors="replace"
            )
    model = LegacyModel(
        version=(major, minor),
        base_score=base_score,
        num_feature=num_feature,
        num_class=num_class,
        objective=objective,
        booster=booster,
        gbm=gbm,
        attributes=attributes,
        boost_from_average=1 if major == 0 else boost_from_average,
    )
    if major == 0 and objective == "count:poisson" and reader.remaining >= 8:
        model.max_delta_step = reader.string("max_delta_step")
    return model


def _read_gbtree(reader: _Reader, dart: bool) -> dict[str, Any]:
    (num_trees, num_parallel_tree, _num_feature, _pad, _pbuffer, _groups, _leaf_vector) = reader.unpack(
        _GBTREE_PARAM, "the gbtree parameters"
    )
    if not 0 <= num_trees < _MAX_COUNT:
        raise LegacyModelError(f"model file is not an XGBoost model: implausible tree count {num_trees}")
    trees = [_read_tree(reader, i) for i in range(num_trees)]
    tree_info = reader.array(np.dtype("<i4"), num_trees, "tree_info")
    if num_trees and (tree_info.min() < 0 or tree_info.max() >= _MAX_COUNT):
        raise LegacyModelError("model file is not an XGBoost model: tree_info holds invalid output groups")
    model = {
        "gbtree_model_param": {
            "num_parallel_tree": str(max(num_parallel_tree, 1)),
            "num_trees": str(num_trees),
            "size_leaf_vector": "0",
        },
        "tree_info": tree_info.tolist(),
        "trees": trees,
    }
    gbtree = {"model": model, "name": "gbtree"}
    if not dart:
        return gbtree
    weight_drop = reader.floats("weight_drop") if num_trees else np.zeros(0, np.float32)
    if weight_drop.size != num_trees:
        raise LegacyModelError(
            f"model file is not an XGBoost model: {weight_drop.size} dart weights for {num_trees} trees"
        )
    return {"gbtree": gbtree, "name": "dart", "weight_drop": _floats(weight_drop)}


def _read_tree(reader: _Reader, index: int) -> dict[str, Any]:
    what = f"tree {index}"
    _roots, num_nodes, num_deleted, _depth, num_feature, leaf_vector = reader.unpack(_TREE_PARAM, what)
    if not 0 < num_nodes < _MAX_COUNT or not 0 <= num_deleted < num_nodes:
        raise LegacyModelError(f"model file is not an XGBoost model: {what} has {num_nodes} nodes")
    nodes = reader.array(_NODE, num_nodes, f"the nodes of {what}")
    stats = reader.array(_STAT, num_nodes, f"the node statistics of {what}")
    if leaf_vector:
        reader.floats(f"the leaf vector of {what}")  # never used by any release; dropped like 1.x does
    for child in ("cleft", "cright"):
        if np.any((nodes[child] < -1) | (nodes[child] >= num_nodes)):
            raise LegacyModelError(f"model file is not an XGBoost model: {what} has child ids out of range")
    sindex = nodes["sindex"]
    n = int(num_nodes)
    return {
        "base_weights": _floats(stats["base_weight"]),
        "categories": [],
        "categories_nodes": [],
        "categories_segments": [],
        "categories_sizes": [],
        "default_left": (sindex >> 31).astype(np.int64).tolist(),
        "id": index,
        "left_children": nodes["cleft"].tolist(),
        "loss_changes": _floats(stats["loss_chg"]),
        "parents": (nodes["parent"].view("<u4") & 0x7FFFFFFF).astype(np.int64).tolist(),
        "right_children": nodes["cright"].tolist(),
        "split_conditions": _floats(nodes["value"]),
        "split_indices": (sindex & 0x7FFFFFFF).astype(np.int64).tolist(),
        "split_type": [0] * n,
        "sum_hessian": _floats(stats["sum_hess"]),
        "tree_param": {
            "num_deleted": str(num_deleted),
            "num_feature": str(num_feature),
            "num_nodes": str(n),
            "size_leaf_vector": "0",
        },
    }


def _read_gblinear(reader: _Reader, learner_features: int, learner_groups: int) -> dict[str, Any]:
    num_feature, groups = reader.unpack(_GBLINEAR_PARAM, "the gblinear parameters")
    if num_feature == 0 and groups == 0:  # 1.0+ leave these to the learner parameters
        num_feature, groups = learner_features, learner_groups
    weights = reader.floats("the linear weights")
    if groups < 1 or weights.size != (num_feature + 1) * groups:
        raise LegacyModelError(
            f"model file is not an XGBoost model: {weights.size} linear weights for "
            f"{num_feature} features and {groups} output groups"
        )
    return {"model": {"weights": _floats(weights)}, "name": "gblinear"}


def _floats(values: np.ndarray) -> list[float]:
    """float32 values as Python floats (exact; ``NaN``/``Infinity`` are valid in XGBoost's JSON)."""
    return values.astype(np.float64).tolist()


def to_json_document(model: LegacyModel) -> dict[str, Any]:
    """The model in XGBoost's JSON schema (``Booster.load_model`` reads it)."""
    objective = _canonical_objective(model.objective)
    attributes = dict(model.attributes)
    saved_objective = attributes.pop("objective", None)
    attributes.pop("metrics", None)
    poisson_step = attributes.pop("count_poisson_max_delta_step", None) or model.max_delta_step
    objective_doc = _objective_document(objective, saved_objective, model.num_class, poisson_step)
    learner = {
        "attributes": attributes,
        "feature_names": [],
        "feature_types": [],
        "gradient_booster": model.gbm,
        "learner_model_param": {
            "base_score": _float_text(_json_base_score(model, objective_doc["name"])),
            "boost_from_average": str(int(model.boost_from_average)),
            "num_class": str(model.num_class),
            "num_feature": str(model.num_feature),
            "num_target": "1",
        },
        "objective": objective_doc,
    }
    return {"learner": learner, "version": list(JSON_SCHEMA_VERSION)}


def convert(raw: bytes) -> bytes:
    """Legacy binary model bytes → JSON model bytes."""
    return json.dumps(to_json_document(read_binary(raw)), separators=(",", ":")).encode()


def _canonical_objective(name: str) -> str:
    name = name.removeprefix("gpu:")
    return "reg:squarederror" if name == "reg:linear" else name


def _objective_document(
    name: str, saved: str | None, num_class: int, poisson_step: str | None
) -> dict[str, Any]:
    if saved:  # 1.0+: the objective's own configuration
        try:
            doc = json.loads(saved)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("name"), str):
            doc["name"] = _canonical_objective(doc["name"])
            return doc
    doc = {"name": name}
    doc.update(json.loads(json.dumps(_OBJECTIVE_PARAMS.get(name, {}))))
    if name.startswith("multi:"):
        doc["softmax_multiclass_param"] = {"num_class": str(num_class)}
    if name == "count:poisson" and poisson_step:
        doc["poisson_regression_param"] = {"max_delta_step": poisson_step}
    return doc


def _json_base_score(model: LegacyModel, objective: str) -> float:
    """The base_score to write so that the loading XGBoost's margin is the writer's margin."""
    stored = np.float32(model.base_score)
    if model.version[0] >= 1:
        if objective == "binary:logitraw" and model.version < (1, 4) and 0 < stored < 1:
            return float(_logit32(stored))  # 1.0-1.3 took the logit; 1.4+ use base_score as the margin
        return float(stored)
    margin = stored  # before 1.0 the file holds the margin
    if objective in _LOGIT_LINK:
        return float(_inverse_logit32(margin))
    if objective in _LOG_LINK:
        return float(np.float32(math.exp(float(margin)))) if float(margin) < 88 else float(stored)
    return float(stored)


def _logit32(p: np.float32) -> np.float32:
    """XGBoost's float32 ``-log(1/p - 1)``."""
    with np.errstate(divide="ignore", over="ignore"):
        return np.float32(-np.log(np.float32(np.float32(1.0) / p) - np.float32(1.0)))


def _inverse_logit32(margin: np.float32) -> np.float32:
    """The float32 p whose XGBoost logit is closest to ``margin`` (exact where one exists)."""
    guess = np.float32(1.0 / (1.0 + math.exp(-float(margin)))) if abs(float(margin)) < 80 else np.float32(0.5)
    candidates = [guess]
    for direction in (np.float32(0), np.float32(1)):
        p = guess
        for _ in range(4):
            p = np.nextafter(p, direction)
            candidates.append(p)
    best, best_err = guess, math.inf
    for p in candidates:
        if not 0 < p < 1:
            continue
        err = abs(float(_logit32(p)) - float(margin))
        if err < best_err:
            best, best_err = p, err
    return best


def _float_text(value: float) -> str:
    return repr(float(np.float32(value)))


# ------------------------------------------------------------------------------------------------
# Loading into the installed XGBoost


def load_booster(raw: bytes) -> Any:
    """A ``Booster`` from model bytes of any XGBoost release: JSON and UBJSON as they are, the
    legacy binary layout (with or without ``binf``, or inside ``CONFIG-offset:``) through JSON."""
    import xgboost as xgb

    native = is_json_or_ubjson(raw)
    document = bytearray(raw) if native else bytearray(convert(raw))
    booster = xgb.Booster()
    try:
        booster.load_model(document)
    except xgb.core.XGBoostError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        what = "" if native else " (converted from the legacy binary format)"
        raise LegacyModelError(f"model file is not an XGBoost model{what}: {reason}") from None
    return booster


def booster_from_pickle(raw: bytes, state: PickledBooster) -> Any:
    """The Booster of a pickle whose state :func:`read_pickled_booster` returned.

    Handles from XGBoost ≥ 1.3 (JSON/UBJSON snapshots) unpickle natively; older ones (the legacy
    binary layout, bare or inside ``CONFIG-offset:``) are converted."""
    import xgboost as xgb

    if state.handle is None:
        raise LegacyModelError("model file is a pickled XGBoost Booster without a model")
    if not is_json_or_ubjson(state.handle):
        return load_booster(state.handle)
    # read_pickled_booster allowed only a Booster and plain builtins: unpickling runs no other code.
    try:
        with warnings.catch_warnings():  # "loading a serialized model from an older version": expected here
            warnings.simplefilter("ignore", UserWarning)
            booster = pickle.loads(raw, encoding="latin1")
    except Exception as exc:  # noqa: BLE001 - XGBoostError and pickle errors alike
        raise LegacyModelError(
            f"model file is a pickled XGBoost Booster this XGBoost cannot read: {exc}"
        ) from None
    if not isinstance(booster, xgb.Booster):
        raise LegacyModelError(
            f"model file is a pickle of {type(booster).__name__}, not of an XGBoost Booster"
        )
    return booster
