"""Common request and response formats of the built-in algorithms (spec algorithms.md §1.3).

Requests: ``text/csv`` (rows, no label, optional ``label_size`` parameter), ``application/json``
(``{"instances": [...]}``), ``application/jsonlines`` (one instance per line) and
``application/x-recordio-protobuf``. An instance is ``{"features": [...]}``,
``{"data": {"features": {"values": [...]}}}``, the sparse ``{"data": {"features": {"keys": [...],
"shape": [d], "values": [...]}}}``, or a bare list of numbers.

Responses: ``{"predictions": [...]}`` (JSON), one object per line (JSON Lines), one Record per row
with every output in ``label`` (RecordIO-protobuf), or one line per record (CSV).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sagestack.formats import content_types as ct
from sagestack.formats import recordio_protobuf
from sagestack.formats.errors import InferenceError
from sagestack.formats.recordio import FormatError

REQUEST_TYPES = (ct.CSV, ct.JSON, ct.JSONLINES, ct.RECORDIO_PROTOBUF)
RESPONSE_TYPES = (ct.JSON, ct.JSONLINES, ct.RECORDIO_PROTOBUF, ct.CSV)


# --------------------------------------------------------------------------------------------------
# Requests


def request_kind(content_type: str | None, request_types: Sequence[str]) -> str:
    """The request's normalized content type; one not in ``request_types`` → ``InferenceError(415)``."""
    kind = ct.normalize(content_type)
    if kind not in request_types:
        raise InferenceError(
            f"Content type {content_type!r} is not supported; supported: {', '.join(request_types)}",
            status=415,
        )
    return kind


def response_kind(accept: str | None, accept_types: Sequence[str], default: str = ct.JSON) -> str:
    """The response's content type for ``accept``: the first of a comma-separated list, ``default`` for
    a missing or ``*/*`` Accept; one not in ``accept_types`` → ``InferenceError(406)``."""
    kind = ct.normalize((accept or "").split(",")[0])
    if kind in ("", ct.ANY):
        kind = ct.normalize(default)
    if kind not in accept_types:
        raise InferenceError(
            f"Accept type {accept!r} is not supported; supported: {', '.join(accept_types)}", status=406
        )
    return kind


def decode_request(
    body: bytes | Any, content_type: str | None, request_types: Sequence[str] = REQUEST_TYPES
) -> Any:
    """The request's rows: float32 ``np.ndarray`` (n × d), or ``scipy.sparse.csr_matrix`` when any
    instance is sparse. ``body`` is bytes (or a binary file object). A content type not in
    ``request_types`` → ``InferenceError(415)``; bad body → 400."""
    if hasattr(body, "read"):
        body = body.read()
    kind = request_kind(content_type, request_types)
    if not body or not body.strip():
        raise InferenceError("The request body is empty", status=400)
    try:
        if kind == ct.CSV:
            return _decode_csv(body, content_type or "")
        if kind == ct.RECORDIO_PROTOBUF:
            return recordio_protobuf.decode(body).features
        if kind == ct.JSON:
            return _rows(_json_instances(_load_json(body)))
        return _rows([_load_json(line) for line in body.splitlines() if line.strip()])
    except FormatError as exc:
        raise InferenceError(str(exc), status=400) from None


def decode_rows(
    body: bytes | Any,
    content_type: str | None,
    feature_dim: int,
    *,
    request_types: Sequence[str] = REQUEST_TYPES,
    dense: bool = False,
) -> Any:
    """The request's rows for a model of ``feature_dim`` features (else ``InferenceError(400)``).

    Sparse rows whose highest keys are absent (JSON without ``shape``) are widened to ``feature_dim``.
    ``dense``: C-contiguous float32 rows, all finite; otherwise sparse requests stay sparse."""
    try:
        X = decode_request(body, content_type, request_types)
    except InferenceError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise InferenceError(f"Unable to parse the {content_type} request: {exc}", status=400) from None
    if X.ndim != 2 or X.shape[0] == 0:
        raise InferenceError("The request contains no records", status=400)
    if hasattr(X, "tocsr"):
        if X.shape[1] > feature_dim:
            raise InferenceError(
                f"The request has feature indices up to {X.shape[1] - 1} but the model has "
                f"feature_dim={feature_dim}",
                status=400,
            )
        if X.shape[1] < feature_dim:
            X = X.tocsr()
            X.resize((X.shape[0], feature_dim))
        if not dense:
            return X
        X = X.toarray()
    if X.shape[1] != feature_dim:
        raise InferenceError(
            f"The request has {X.shape[1]} features per record but the model expects {feature_dim}",
            status=400,
        )
    if not dense:
        return X
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        raise InferenceError("The request contains NaN or infinite feature values", status=400)
    return X


def _decode_csv(body: bytes, content_type: str) -> np.ndarray:
    from sagestack.formats.tabular import parse_csv_bytes

    label_size = ct.parameters(content_type).get("label_size", "0")
    try:
        skip = int(label_size)
    except ValueError:
        raise InferenceError(f"Invalid label_size {label_size!r} in content type", status=400) from None
    matrix = parse_csv_bytes(body)
    if skip < 0 or skip > matrix.shape[1]:
        raise InferenceError(f"Invalid label_size {label_size!r} for {matrix.shape[1]} columns", status=400)
    return np.ascontiguousarray(matrix[:, skip:]) if skip else matrix


def _load_json(text: bytes | str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InferenceError(f"The request body is not valid JSON: {exc}", status=400) from None


def _json_instances(doc: Any) -> list[Any]:
    if isinstance(doc, dict):
        if "instances" in doc:
            instances = doc["instances"]
            if not isinstance(instances, list):
                raise InferenceError('"instances" must be a JSON array', status=400)
            return instances
        if "features" in doc or "data" in doc:
            return [doc]
        raise InferenceError('JSON requests must have an "instances" array', status=400)
    if isinstance(doc, list):
        if doc and all(_is_number(v) for v in doc):
            return [doc]  # a bare numeric array is one dense vector
        return doc
    raise InferenceError("JSON requests must be an object or an array", status=400)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _instance(inst: Any) -> tuple[list[Any], list[int] | None, int | None]:
    """(values, keys or None, width or None) of one instance."""
    if isinstance(inst, list):
        return inst, None, None
    if not isinstance(inst, dict):
        raise InferenceError(f"Invalid instance {inst!r}", status=400)
    if "features" in inst:
        feats = inst["features"]
        if isinstance(feats, list):
            return feats, None, None
        if isinstance(feats, dict):
            inst = {"data": {"features": feats}}
        else:
            raise InferenceError('"features" must be an array', status=400)
    data = inst.get("data")
    feats = data.get("features") if isinstance(data, dict) else None
    if not isinstance(feats, dict) or not isinstance(feats.get("values"), list):
        raise InferenceError(
            'An instance needs "features" or "data": {"features": {"values": [...]}}', status=400
        )
    keys = feats.get("keys")
    if keys is None:
        return feats["values"], None, None
    shape = feats.get("shape")
    if not isinstance(keys, list) or len(keys) != len(feats["values"]):
        raise InferenceError('"keys" must be an array as long as "values"', status=400)
    width = None
    if shape is not None:
        if not isinstance(shape, list) or not shape or not _is_number(shape[0]):
            raise InferenceError('"shape" must be an array like [feature_dim]', status=400)
        width = int(shape[0])
    return feats["values"], keys, width


def _rows(instances: Sequence[Any]) -> Any:
    if not instances:
        raise InferenceError("The request has no instances", status=400)
    parsed = [_instance(inst) for inst in instances]
    try:
        if all(keys is None for _, keys, _ in parsed):
            widths = {len(values) for values, _, _ in parsed}
            if len(widths) > 1:
                raise InferenceError(
                    f"Instances have different numbers of features: {sorted(widths)}", status=400
                )
            return np.asarray([values for values, _, _ in parsed], dtype=np.float32).reshape(len(parsed), -1)
        import scipy.sparse as sp

        counts = np.array([len(values) for values, _, _ in parsed], dtype=np.int64)
        data = np.asarray([v for values, _, _ in parsed for v in values], dtype=np.float32)
        cols = np.asarray(
            [k for values, keys, _ in parsed for k in (keys if keys is not None else range(len(values)))],
            dtype=np.int64,
        )
    except (TypeError, ValueError) as exc:
        raise InferenceError(f"Feature values must be numbers: {exc}", status=400) from None
    if cols.shape[0] and cols.min() < 0:
        raise InferenceError("Sparse keys must be non-negative", status=400)
    width = max([w for _, _, w in parsed if w is not None] + [int(cols.max(initial=-1)) + 1])
    indptr = np.concatenate(([0], np.cumsum(counts)))
    return sp.csr_matrix((data, cols, indptr), shape=(len(parsed), width))


# --------------------------------------------------------------------------------------------------
# Responses


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def records_from_columns(columns: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``{"score": (n,), "projection": (n, k)}`` → ``[{"score": s0, "projection": [...]}, ...]``."""
    names = list(columns)
    lists = [np.asarray(columns[name]).tolist() for name in names]
    return [dict(zip(names, row)) for row in zip(*lists)]


def _csv_field(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_csv_field(v) for v in value)
    return str(value)


def encode_response(
    records: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    accept: str | None,
    *,
    key: str = "predictions",
    default: str = ct.JSON,
    accept_types: Sequence[str] = RESPONSE_TYPES,
) -> tuple[bytes, str]:
    """Encode predictions for ``accept``; returns (body, content type).

    ``records`` is one dict per input row, or a dict of columns (arrays with one entry per row).
    ``key`` is the JSON top-level key (``"projections"`` for PCA, ``"scores"`` for RCF). Missing or
    ``*/*`` Accept uses ``default``; the first of a comma-separated list is used; anything not in
    ``accept_types`` (an algorithm's ``SPEC.response_accept_types``) → ``InferenceError(406)``."""
    kind = response_kind(accept, accept_types, default)
    if isinstance(records, Mapping):
        if kind == ct.RECORDIO_PROTOBUF:
            return recordio_protobuf.encode_label_columns(records), kind
        records = records_from_columns(records)
    if kind == ct.RECORDIO_PROTOBUF:
        return recordio_protobuf.encode_records(records), kind
    plain = [_jsonable(dict(rec)) for rec in records]
    if kind == ct.JSON:
        return json.dumps({key: plain}).encode(), kind
    if kind == ct.JSONLINES:
        return "".join(json.dumps(rec) + "\n" for rec in plain).encode(), kind
    return "".join(",".join(_csv_field(v) for v in rec.values()) + "\n" for rec in plain).encode(), kind
