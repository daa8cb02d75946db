"""AWS Lambda (rest-json): Python functions from zip packages (ZipFile or S3), run for real in a process
per invocation (execution.functions), versions, tags. The package is served back for GetFunction's
Code.Location at ``/_sagestack/lambda-code/…`` (see :func:`code_path`)."""

from __future__ import annotations

from pathlib import Path

from ...domain import functions as domain
from ..registry import OperationTable
from . import functions, invocations
from .common import errors

OPERATIONS = OperationTable("lambda", errors).merge(functions.OPERATIONS, invocations.OPERATIONS)
CODE_PREFIX = "/_sagestack/lambda-code/"


def code_path(platform, path: str) -> Path | None:
    """The package file a ``/_sagestack/lambda-code/<account>/<region>/<name>/<token>`` URL names (the
    token is the package's own, so the URL works unsigned, as Lambda's presigned S3 URL does)."""
    parts = path[len(CODE_PREFIX) :].split("/")
    if len(parts) != 4:
        return None
    account, region, name, token = parts
    row = platform.resources.get(account, region, domain.TYPE, name)
    if row is None:
        return None
    for data in [row.data, *row.data.get("Versions", {}).values()]:
        code = data.get("_Code") or {}
        if code.get("Token") == token and Path(code["Path"]).exists():
            return Path(code["Path"])
    return None
