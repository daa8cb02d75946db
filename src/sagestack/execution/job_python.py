"""A job's own Python environment: a virtual environment layered on the server's.

Containers that bring their own runtime (the SageMaker SDK's remote functions and ``@step`` functions on
the base-Python / SageMaker Distribution images, a ``ContainerEntrypoint`` on a framework image) call
``python``, ``pip install -r requirements.txt``, ``sudo chmod`` and ``conda`` as they would in their image.
Here they run as local processes, so the job gets a venv under its own directory whose interpreter is the
server's and whose ``site-packages`` sees every package of the server's environment (a ``.pth`` file adds
the server's site directories after the venv's own). On a framework image (scikit-learn 1.2-1, XGBoost
1.7-1, …) the framework environment of the tag's version comes between the two, so ``python`` in the
command imports the tag's versions, as script mode does. ``pip install`` then finds what is already installed
and puts anything else in the job's venv — never in the server's environment. The venv's ``bin`` also holds
the small commands the image contract expects: ``pip``/``pip3`` (this venv's pip), ``torchrun`` (this
venv's, where torch is installed), ``sudo`` (the job already owns its directories), ``conda``/``mamba``
(not available here: a clear error) and ``amazon_sagemaker_scheduler`` (the SageMaker Distribution image's
notebook-job entry point: papermill on this venv's Python, :mod:`.notebook_job`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import venv
from pathlib import Path

from ..environments import layer_on_server

CONDA_UNAVAILABLE = (
    "sagestack: conda is not available here: the job runs with the server's Python {version} in a "
    "virtual environment layered on the server's packages. Give dependencies as a requirements.txt "
    "(pip) instead of a conda environment.yml, and do not set job_conda_env."
)

_SUDO = """#!/bin/sh
# sagestack: the job's process already owns its directories; run the command as this user.
while [ $# -gt 0 ]; do
    case "$1" in
        -u|-g|-U|-C|-D|-h|-p|-r|-t|-T) shift 2 ;;
        --) shift; break ;;
        -*) shift ;;
        *) break ;;
    esac
done
if [ "$1" = "chmod" ] || [ "$1" = "chown" ]; then
    echo "sagestack: sudo $*: skipped (the job already owns its directories)"
    exit 0
fi
exec "$@"
"""

_PIP = """#!/bin/sh
exec "$(dirname "$0")/python" -m pip "$@"
"""

_NOTEBOOK_SCHEDULER = """#!/bin/sh
exec "$(dirname "$0")/python" -m sagestack.execution.notebook_job "$@"
"""

_TORCHRUN = """#!/bin/sh
exec "$(dirname "$0")/python" -m torch.distributed.run "$@"
"""


def create(directory: Path, base_python: str | None = None) -> Path:
    """Create the layered venv at ``directory`` (idempotent); return its ``bin`` directory. With
    ``base_python`` (the interpreter of the image's framework environment, :mod:`.framework_env`), that
    environment's packages come before the server's: the image tag's versions win."""
    bin_dir = directory / ("Scripts" if sys.platform == "win32" else "bin")
    if not (directory / "pyvenv.cfg").exists():
        venv.EnvBuilder(symlinks=sys.platform != "win32", with_pip=False, clear=False).create(directory)
    layer_on_server(directory, Path(base_python).parent.parent if base_python else None)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    conda = "#!/bin/sh\necho " + _sh_quote(CONDA_UNAVAILABLE.format(version=version)) + " >&2\nexit 1\n"
    commands = {
        "pip": _PIP,
        "pip3": _PIP,
        "sudo": _SUDO,
        "conda": conda,
        "mamba": conda,
        "amazon_sagemaker_scheduler": _NOTEBOOK_SCHEDULER,
    }
    if importlib.util.find_spec("torch") is not None:
        commands["torchrun"] = _TORCHRUN  # its workers then see the job's packages too
    for name, text in commands.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(0o755)
    return bin_dir


def environment(directory: Path, env: dict[str, str], base_python: str | None = None) -> dict[str, str]:
    """``env`` with the layered venv at ``directory`` first on PATH (created if needed; layered on the
    framework environment of ``base_python`` where given, then on the server's packages)."""
    bin_dir = create(directory, base_python)
    out = dict(env)
    out["VIRTUAL_ENV"] = str(directory)
    out["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", os.defpath)])
    out.pop("PYTHONHOME", None)
    out.pop("PIP_TARGET", None)
    out.pop("PIP_USER", None)
    return out


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
