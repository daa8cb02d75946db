"""A worker's own ``/opt/ml/model``: the container's model directory bound there in a private mount
namespace, for inference code that reads the fixed path (SDK v3 ModelBuilder's ``inference.py`` opens
``/opt/ml/model/code/serve.pkl``). Possible where the OS lets the server create namespaces (usually as
root); otherwise the worker says so and the code sees the host's ``/opt/ml``."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

OPT_ML_MODEL = Path("/opt/ml/model")
CLONE_NEWNS = 0x00020000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18


def private_namespace() -> str | None:
    """Give this process its own mount namespace (mounts made here are seen by it and its children
    only); None on success, else why not."""
    if sys.platform != "linux":
        return f"{sys.platform} has no mount namespaces"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        return f"unshare(CLONE_NEWNS) failed: {os.strerror(ctypes.get_errno())}"
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return f"making mounts private failed: {os.strerror(ctypes.get_errno())}"
    return None


def bind_model_dir(model_dir: str) -> str | None:
    """Bind ``model_dir`` on /opt/ml/model in this process's own mount namespace (:func:`private_namespace`
    first); None on success, else why not."""
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        OPT_ML_MODEL.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create {OPT_ML_MODEL}: {exc}"
    if libc.mount(str(model_dir).encode(), str(OPT_ML_MODEL).encode(), None, MS_BIND, None) != 0:
        return f"bind mount on {OPT_ML_MODEL} failed: {os.strerror(ctypes.get_errno())}"
    return None
