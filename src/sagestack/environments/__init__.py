"""Framework environments: a virtual environment per (framework, version), built on demand and cached.

Some framework images need a library the server does not install (TensorFlow for ``tensorflow-inference``
endpoints). Their work runs in a venv built with pip from a requirements file of pins committed with the
package (``environments/requirements/<framework>[-<version>].txt``; the ``framework-version:`` comment
names the version the pins install). :func:`resolve` picks the file for what an image tag asks for;
:meth:`EnvironmentCache.ensure` builds the venv once under the cache directory, named by the framework,
the version and the pins' hash, and returns its Python.

A build happens under a file lock (``<name>.lock``), so
concurrent endpoints — in this process or another server on the same cache — build it once and never see
half an environment (a venv counts as built once its marker file is written, last). A failed build raises :class:`EnvironmentBuildError` with the tail of pip's output.

Script-mode framework versions (:mod:`.frameworks`: scikit-learn, XGBoost by image tag) are environments
of the same cache built from pip specs instead of a pins file: installed with uv where it is installed
(:func:`find_uv`; pip otherwise) and layered on the server's environment (:func:`layer_on_server`).

Only the standard library here: callers (the serving controller, the training and processing runs) run a
worker or a job's code with ``EnvironmentCache.ensure(...)`` as its interpreter.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import site
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REQUIREMENTS_DIR = Path(__file__).resolve().parent / "requirements"
MARKER = "sagestack-environment.json"
BUILD_TIMEOUT_S = 1800.0
_VERSION = re.compile(r"^#\s*framework-version:\s*(\S+)", re.M)


class EnvironmentUnavailable(Exception):
    """Base class: no environment for what was asked."""


class NoEnvironment(EnvironmentUnavailable):
    """No pinned requirements serve this framework version."""


class EnvironmentBuildError(EnvironmentUnavailable):
    """Building the venv failed; ``tail`` is the end of pip's (or venv's) output."""

    def __init__(self, message: str, tail: str = ""):
        super().__init__(message)
        self.tail = tail


@dataclass(frozen=True)
class Requirements:
    """What one environment installs: ``framework`` at ``version`` from the pins in ``path``."""

    framework: str
    version: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text()

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]

    @property
    def name(self) -> str:
        """The cache entry's directory name."""
        return f"{self.framework}-{self.version}-py{sys.version_info[0]}{sys.version_info[1]}-{self.digest}"


def available(framework: str) -> list[Requirements]:
    """The pinned environments for a framework (one per requirements file)."""
    found = []
    for path in sorted(REQUIREMENTS_DIR.glob(f"{framework}*.txt")):
        stem = path.stem
        if stem != framework and not stem.startswith(framework + "-"):
            continue
        match = _VERSION.search(path.read_text())
        if match:
            found.append(Requirements(framework, match.group(1), path))
    return found


def _major(version: str) -> str:
    return version.split(".", 1)[0]


def resolve(framework: str, requested: str | None) -> Requirements:
    """The environment serving ``framework`` at the version an image tag asks for (``2.19``, ``2.16.1``).

    An exact pin wins (``<framework>-<version>.txt``); otherwise the newest pinned release of the same
    major version (TensorFlow 2.x keeps SavedModels loadable across minors). Raises :class:`NoEnvironment`."""
    options = available(framework)
    if not options:
        raise NoEnvironment(f"sagestack has no pinned {framework} environment")
    if not requested:
        return max(options, key=lambda r: _version_key(r.version))
    for option in options:
        if option.version == requested or option.version.startswith(requested + "."):
            return option
    same_major = [r for r in options if _major(r.version) == _major(requested)]
    if not same_major:
        pinned = ", ".join(r.version for r in options)
        raise NoEnvironment(
            f"{framework} {requested} has no build for this Python "
            f"({sys.version_info[0]}.{sys.version_info[1]}); sagestack runs {framework} {pinned}"
        )
    return max(same_major, key=lambda r: _version_key(r.version))


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.+-]", version))


class EnvironmentCache:
    """Built venvs under ``root`` (``<root>/<framework>-<version>-py<XY>-<hash>/``)."""

    def __init__(self, root: Path, python: str | None = None):
        self.root = Path(root)
        self.python = python or sys.executable
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def path(self, req: Requirements) -> Path:
        return self.root / req.name

    def python_of(self, req: Requirements) -> Path:
        return self.path(req) / "bin" / "python"

    def ready(self, req: Requirements) -> bool:
        return (self.path(req) / MARKER).exists() and self.python_of(req).exists()

    def info(self, req: Requirements) -> dict:
        """The built environment's marker (what was installed, how long the build took); {} if not built."""
        try:
            return json.loads((self.path(req) / MARKER).read_text())
        except (OSError, ValueError):
            return {}

    def ensure(self, req: Requirements, log=None) -> Path:
        """The venv's Python, building the venv first when it is not cached (minutes: pip downloads).
        ``log``: a callable taking progress lines."""
        if self.ready(req):
            return self.python_of(req)
        with self._lock:
            lock = self._locks.setdefault(req.name, threading.Lock())
        with lock:  # threads of this process
            self.root.mkdir(parents=True, exist_ok=True)
            with open(self.root / f"{req.name}.lock", "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)  # other processes sharing the cache
                try:
                    if not self.ready(req):
                        self._build(req, log)
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        return self.python_of(req)

    def _build(self, req, log) -> None:
        if getattr(req, "specs", None) is not None:
            return self._build_specs(req, log)
        target = self.path(req)
        started = time.monotonic()
        say = log or (lambda line: None)
        say(
            f"Building the {req.framework} {req.version} environment in {target} (pip install -r {req.path.name})"
        )
        try:
            # A venv is not relocatable: it is built at its final path (leftovers of an interrupted build
            # cleared first) and counts as built once the marker file is written, last.
            if target.exists():
                shutil.rmtree(target)
            _run([self.python, "-m", "venv", str(target)], "creating the virtual environment")
            python = str(target / "bin" / "python")
            _run(
                [
                    python,
                    "-m",
                    "pip",
                    "install",
                    "--no-input",
                    "--disable-pip-version-check",
                    "-r",
                    str(req.path),
                ],
                f"pip install -r {req.path.name}",
            )
            seconds = time.monotonic() - started
            (target / MARKER).write_text(
                json.dumps(
                    {
                        "framework": req.framework,
                        "version": req.version,
                        "requirements": req.text,
                        "built_at": time.time(),
                        "build_seconds": round(seconds, 1),
                    }
                )
            )
            say(f"Built the {req.framework} {req.version} environment in {seconds:.0f}s")
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise

    def _build_specs(self, req, log) -> None:
        """A framework environment (:class:`.frameworks.FrameworkEnvironment`): a venv of the server's
        Python with ``req.specs`` installed (uv when found, else pip), layered on the server's packages."""
        target = self.path(req)
        started = time.monotonic()
        say = log or (lambda line: None)
        uv = find_uv()
        tool = "uv" if uv else "pip"
        say(f"Building the {req.description} environment in {target} ({tool})")
        try:
            if target.exists():
                shutil.rmtree(target)
            python = str(target / "bin" / "python")
            if uv:
                _run(
                    [uv, "venv", "--quiet", "--python", self.python, str(target)],
                    "creating the virtual environment",
                )
                _run(
                    [uv, "pip", "install", "--python", python, *req.specs],
                    f"uv pip install {' '.join(req.specs)}",
                )
            else:
                _run([self.python, "-m", "venv", str(target)], "creating the virtual environment")
                _run(
                    [python, "-m", "pip", "install", "--no-input", "--disable-pip-version-check", *req.specs],
                    f"pip install {' '.join(req.specs)}",
                )
            layer_on_server(target)
            seconds = time.monotonic() - started
            (target / MARKER).write_text(
                json.dumps(
                    {
                        "framework": req.framework,
                        "version": req.version,
                        "requirements": req.text,
                        "installed": _installed(target),
                        "installer": tool,
                        "built_at": time.time(),
                        "build_seconds": round(seconds, 1),
                    }
                )
            )
            say(f"Built the {req.description} environment in {seconds:.1f}s")
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise


#: The ``.pth`` file that puts the server's site directories after an environment's own.
SERVER_LAYER_PTH = "_sagestack_server_environment.pth"


def server_site_directories() -> list[str]:
    """The server's site-packages directories (its venv's, or the interpreter's), existing ones only."""
    seen: list[str] = []
    user = [site.getusersitepackages()] if site.ENABLE_USER_SITE else []  # as the server sees them
    for path in [*site.getsitepackages(), *user]:
        if path and os.path.isdir(path) and path not in seen:
            seen.append(path)
    return seen


def site_packages(directory: Path) -> Path:
    if sys.platform == "win32":
        return directory / "Lib" / "site-packages"
    return directory / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def layer_on_server(directory: Path, base: Path | None = None) -> None:
    """Make the venv at ``directory`` see the server's packages after its own (a ``.pth`` file); with
    ``base`` (another venv of the server's Python, e.g. a framework environment), that venv's packages
    come between the two."""
    packages = site_packages(directory)
    packages.mkdir(parents=True, exist_ok=True)
    layers = ([str(site_packages(base))] if base is not None else []) + server_site_directories()
    lines = [f"import site; site.addsitedir({path!r})" for path in layers]
    (packages / SERVER_LAYER_PTH).write_text("\n".join(lines) + "\n")


def find_uv() -> str | None:
    """uv's binary: the ``uv`` package's (``pip install uv``), else ``uv`` on PATH; None without uv."""
    try:
        import uv  # type: ignore[import-not-found]

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError, AttributeError):
        pass
    return shutil.which("uv")


def _installed(target: Path) -> dict[str, str]:
    """Distribution → version in the venv's own site-packages (its ``*.dist-info`` folders)."""
    found = {}
    for info in sorted(site_packages(target).glob("*.dist-info")):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        found[name.lower().replace("_", "-")] = version
    return found


def _run(args: list[str], what: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    try:
        proc = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=BUILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise EnvironmentBuildError(
            f"{what} did not finish in {BUILD_TIMEOUT_S:.0f}s",
            _tail((exc.output or b"").decode("utf-8", "replace")),
        ) from None
    except OSError as exc:
        raise EnvironmentBuildError(f"{what} could not start: {exc}") from None
    if proc.returncode != 0:
        raise EnvironmentBuildError(
            f"{what} failed (exit code {proc.returncode})", _tail(proc.stdout.decode("utf-8", "replace"))
        )


def _tail(output: str, lines: int = 6, chars: int = 800) -> str:
    kept = [line.strip() for line in output.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-chars:]


def environment_cache(platform) -> EnvironmentCache:
    """The platform's one cache of framework environments (``--env-cache-dir``)."""
    return platform.component(
        "environments", lambda p: EnvironmentCache(p.settings.env_cache_dir or default_cache_dir())
    )


def install_requirements_command(python: str, target: Path, requirements: Path) -> list[str]:
    """The command that installs a job's ``requirements.txt`` into ``target`` (a per-job folder put on the
    job's PYTHONPATH: the shared environment ``python`` belongs to is never changed), for ``python``'s
    version and platform: uv when found, else pip."""
    uv = find_uv()
    if uv:
        return [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            python,
            "--target",
            str(target),
            "-r",
            str(requirements),
        ]
    return [python, "-m", "pip", "install", "--quiet", "--target", str(target), "-r", str(requirements)]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sagestack" / "envs"
