"""Content types of the built-in algorithms: canonical names, aliases, parameters.

SageMaker compares content types case-insensitively and ignores parameters such as
``;label_size=1`` when choosing a reader (spec algorithms.md §1.1, §2.1 "Accepted ContentType values").
"""

from __future__ import annotations

from types import MappingProxyType

CSV = "text/csv"
LIBSVM = "text/libsvm"
PARQUET = "application/x-parquet"
RECORDIO_PROTOBUF = "application/x-recordio-protobuf"
RECORDIO = "application/x-recordio"
JSON = "application/json"
JSONLINES = "application/jsonlines"
IMAGE = "application/x-image"
NPY = "application/x-npy"
TEXT = "text/plain"
ANY = "*/*"

_ALIASES = MappingProxyType(
    {
        "csv": CSV,
        "text/csv": CSV,
        "libsvm": LIBSVM,
        "text/libsvm": LIBSVM,
        "text/x-libsvm": LIBSVM,
        "application/x-libsvm": LIBSVM,
        "parquet": PARQUET,
        "application/x-parquet": PARQUET,
        "recordio-protobuf": RECORDIO_PROTOBUF,
        "application/x-recordio-protobuf": RECORDIO_PROTOBUF,
        "json": JSON,
        "application/json": JSON,
        "jsonlines": JSONLINES,
        "application/jsonlines": JSONLINES,
        "application/x-jsonlines": JSONLINES,
        "application/x-recordio": RECORDIO,
        "application/x-image": IMAGE,
        "application/x-npy": NPY,
    }
)


def normalize(content_type: str | None) -> str:
    """Canonical form: lower-case, parameters dropped, aliases mapped (``"csv"`` → ``"text/csv"``,
    ``"text/x-libsvm"`` → ``"text/libsvm"``, ...). Unknown types are returned lower-cased and
    stripped; ``None`` or blank gives ``""``."""
    if not content_type:
        return ""
    base = content_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def parameters(content_type: str | None) -> dict[str, str]:
    """The ``key=value`` parameters of a content type (keys lower-cased, quotes removed):
    ``"text/csv; label_size=1"`` → ``{"label_size": "1"}``."""
    if not content_type or ";" not in content_type:
        return {}
    result: dict[str, str] = {}
    for part in content_type.split(";")[1:]:
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not key:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        result[key] = value if sep else ""
    return result


def matches(content_type: str | None, *candidates: str) -> bool:
    """Whether ``content_type`` normalizes to one of ``candidates`` (themselves normalized)."""
    ct = normalize(content_type)
    return any(ct == normalize(c) for c in candidates)
