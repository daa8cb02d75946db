"""Functions (AWS Lambda): the function record, its two status machines, and where its code lives.

A function is a resource of type ``lambda-function`` named by its function name; its description is the
``$LATEST`` configuration (Lambda's ``FunctionConfiguration``) plus private members (``_Code``: the
stored package). Published versions are copies of it under ``Versions``.

``State`` (Pending → Active | Failed) and ``LastUpdateStatus`` (InProgress → Successful | Failed) are
written through :func:`domain.state.mutate`; the functions reconciler prepares the code (unpacks it) and
moves them on. Packages live under ``<data dir>/functions/<account>/<region>/<name>/<sha256>.zip``,
unpacked next to it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import uuid
import zipfile
from pathlib import Path

from ..store.resources import Resource
from .state import StateMachine, mutate

TYPE = "lambda-function"
STATE = StateMachine(
    "function", {"Pending": {"Active", "Failed"}, "Active": {"Pending"}, "Failed": {"Pending"}}, field="State"
)
UPDATE = StateMachine(
    "function update",
    {"InProgress": {"Successful", "Failed"}, "Successful": {"InProgress"}, "Failed": {"InProgress"}},
    field="LastUpdateStatus",
)
#: The runtimes sagestack runs (with the server's Python or a matching interpreter, see execution.functions).
PYTHON_RUNTIMES = ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14")
MAX_ZIP = 50 * 1024 * 1024


class FunctionError(Exception):
    """``kind``: NotFound, Exists, InvalidParameter, InvalidZip, Conflict, NotReady."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def function_arn(account: str, region: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def parse_function_ref(ref: str) -> tuple[str | None, str, str | None]:
    """(account or None, name, qualifier or None) from a name, a partial ARN (``123:function:name``) or
    an ARN, each optionally with ``:qualifier``."""
    ref = (ref or "").strip()
    if ref.startswith("arn:"):
        parts = ref.split(":")
        if len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "function":
            raise FunctionError(
                "InvalidParameter",
                f"1 validation error detected: Value '{ref}' at 'functionName' "
                "failed to satisfy constraint: Member must satisfy regular expression pattern",
            )
        return parts[4], parts[6], (parts[7] if len(parts) == 8 else None)
    parts = ref.split(":")
    if len(parts) >= 3 and parts[1] == "function":
        return parts[0], parts[2], (parts[3] if len(parts) > 3 else None)
    if len(parts) == 2:
        return None, parts[0], parts[1]
    return None, ref, None


def timestamp(when: dt.datetime | None = None) -> str:
    """Lambda's LastModified text: ``2026-12-07T09:45:14.123+0000``."""
    when = when or dt.datetime.now(dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


# -- code packages ---------------------------------------------------------------------------------


def check_zip(data: bytes) -> None:
    if len(data) > MAX_ZIP:
        raise FunctionError("InvalidParameter", f"Unzipped size must be smaller than {MAX_ZIP} bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            bad = archive.testzip()
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError):
        raise FunctionError(
            "InvalidZip", "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from None
    if bad is not None or any(n.startswith("/") or ".." in Path(n).parts for n in names):
        raise FunctionError(
            "InvalidZip", "Could not unzip uploaded file. Please check your file, then try to upload again."
        )


def code_dir(data_dir: Path, account: str, region: str, name: str) -> Path:
    return Path(data_dir) / "functions" / account / region / name


def store_package(data_dir: Path, account: str, region: str, name: str, data: bytes) -> dict:
    """Write a package; its ``_Code`` record (path, sha256 hex, size) and Lambda's CodeSha256/CodeSize."""
    check_zip(data)
    digest = hashlib.sha256(data)
    folder = code_dir(data_dir, account, region, name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest.hexdigest()}.zip"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return {
        "_Code": {"Path": str(path), "Sha": digest.hexdigest(), "Token": uuid.uuid4().hex},
        "CodeSha256": base64.b64encode(digest.digest()).decode(),
        "CodeSize": len(data),
    }


def unpacked_dir(function: Resource | dict) -> Path:
    data = function.data if isinstance(function, Resource) else function
    code = data["_Code"]
    return Path(code["Path"]).with_suffix("")


def unpack(function: Resource | dict) -> Path:
    """The function's code unpacked (once per package) — the folder a run imports the handler from."""
    data = function.data if isinstance(function, Resource) else function
    target = unpacked_dir(data)
    if target.is_dir():
        return target
    staging = target.with_name(target.name + f".{uuid.uuid4().hex[:8]}.partial")
    with zipfile.ZipFile(data["_Code"]["Path"]) as archive:
        archive.extractall(staging)
    try:
        staging.replace(target)
    except OSError:  # unpacked meanwhile by someone else
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return target


# -- records ---------------------------------------------------------------------------------------


def configuration(function: Resource, qualifier: str | None = None) -> dict:
    """The FunctionConfiguration Lambda answers (no private members)."""
    data = function.data
    if qualifier and qualifier != "$LATEST":
        data = data.get("Versions", {}).get(qualifier)
        if data is None:
            raise FunctionError("NotFound", f"Function not found: {function.arn}:{qualifier}")
    return {k: v for k, v in data.items() if not k.startswith("_") and k != "Versions"}


def resolve(resources, account: str, region: str, ref: str) -> tuple[Resource, str | None]:
    """The function a name/ARN names, and the qualifier it carries."""
    owner, name, qualifier = parse_function_ref(ref)
    function = resources.get(owner or account, region, TYPE, name)
    if function is None:
        raise FunctionError(
            "NotFound", f"Function not found: {function_arn(owner or account, region, name, qualifier)}"
        )
    if qualifier and qualifier != "$LATEST" and qualifier not in function.data.get("Versions", {}):
        raise FunctionError(
            "NotFound", f"Function not found: {function_arn(owner or account, region, name, qualifier)}"
        )
    return function, qualifier


def mark_ready(resources, function: Resource, error: str | None = None) -> Resource | None:
    """After the code was prepared: Pending → Active (or Failed), InProgress → Successful (or Failed)."""

    def change(row: Resource) -> str | None:
        data = row.data
        if data.get("_Code", {}).get("Sha") != function.data.get("_Code", {}).get("Sha"):
            return None  # the code changed meanwhile: prepared next pass
        new_state = None
        if data.get("State") == "Pending":
            new_state = "Failed" if error else "Active"
            if error:
                data.update(StateReason=error, StateReasonCode="InvalidZipFileException")
            else:
                data.pop("StateReason", None)
                data.pop("StateReasonCode", None)
        if data.get("LastUpdateStatus") == "InProgress":
            UPDATE.check("InProgress", "Failed" if error else "Successful")
            data["LastUpdateStatus"] = "Failed" if error else "Successful"
            if error:
                data["LastUpdateStatusReason"] = error
            else:
                data.pop("LastUpdateStatusReason", None)
        return new_state

    return mutate(resources, function.account_id, function.region, TYPE, function.name, change, STATE)


def start_update(data: dict) -> None:
    """A change of code or configuration: LastUpdateStatus → InProgress (the reconciler finishes it)."""
    UPDATE.check(data.get("LastUpdateStatus"), "InProgress")
    data["LastUpdateStatus"] = "InProgress"
    data["LastModified"] = timestamp()
    data["RevisionId"] = str(uuid.uuid4())


def needs_preparing(function: Resource) -> bool:
    return function.data.get("State") == "Pending" or function.data.get("LastUpdateStatus") == "InProgress"
