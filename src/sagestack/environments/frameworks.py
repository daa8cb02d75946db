"""Script-mode framework versions: what an image tag's framework version installs here.

A SageMaker framework image names its framework version in its tag (``sagemaker-scikit-learn:1.2-1-cpu-py3``
→ scikit-learn 1.2, ``sagemaker-xgboost:1.7-1`` → XGBoost 1.7, ``pytorch-training:2.1.0-cpu-py310`` →
PyTorch 2.1). :func:`resolve_framework` turns that into a :class:`FrameworkEnvironment`: the pip specs of a
virtual environment (the framework's release series, ``scikit-learn==1.2.*``, with the numpy / scipy /
pandas bounds its builds need) and the notes the job's log shows where what runs differs from what was
asked (a release with no build for this Python runs on the nearest one that has one; every PyTorch
version runs on the server's CPU torch, never a second torch).

The environment is layered on the server's: its ``site-packages`` comes first, then the server's (a
``.pth`` file, as the job venvs of remote functions do), so the framework and its numeric stack are the
asked-for versions while everything else a SageMaker container ships (boto3, the SDK, …) is found in the
server's environment. :class:`~sagestack.environments.EnvironmentCache` builds it (uv where installed,
else pip), cached by the digest of its specs.

Only the standard library here: ``python -m sagestack.environments.frameworks`` writes the table in
docs/framework-versions.md.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass, field

PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"


class UnknownFrameworkVersion(Exception):
    """The image tag names a framework version sagestack does not know; the message says which exist."""


@dataclass(frozen=True)
class Series:
    """One release series of a framework image: ``runs`` is the series installed (``1.1`` where ``1.0``
    has no build for this Python), ``specs`` the companion libraries, ``why`` the note when ``runs`` differs
    from what the tag asks for."""

    runs: str
    specs: tuple[str, ...] = ()
    why: str = ""


@dataclass(frozen=True)
class Framework:
    name: str  # the images' framework name (domain.images): sklearn, xgboost, pytorch
    label: str  # what users call it
    package: str  # the pip distribution
    module: str  # what a script imports
    series: dict[str, Series] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # tag version → series (xgboost "1" → "1.7")
    server: bool = False  # every version runs on the server's own installation (PyTorch)


_NUMPY1 = ("numpy<2", "scipy<1.14", "pandas<2.3")
_NO_CP311 = "{label} {asked} has no build for Python {python}; the job runs on {label} {runs}, the nearest release that has one"

FRAMEWORKS: dict[str, Framework] = {
    "sklearn": Framework(
        "sklearn",
        "scikit-learn",
        "scikit-learn",
        "sklearn",
        series={
            "0.20": Series("1.1", _NUMPY1, _NO_CP311),
            "0.23": Series("1.1", _NUMPY1, _NO_CP311),
            "1.0": Series("1.1", _NUMPY1, _NO_CP311),
            "1.2": Series("1.2", _NUMPY1),
            "1.4": Series("1.4", _NUMPY1),
        },
    ),
    "xgboost": Framework(
        "xgboost",
        "XGBoost",
        "xgboost",
        "xgboost",
        series={
            **{
                v: Series(v, (*_NUMPY1, "scikit-learn<1.6"))
                for v in ("0.90", "1.0", "1.2", "1.3", "1.5", "1.7")
            },
            "3.0": Series(
                "3.0",
                ("scikit-learn<1.8",),
                "XGBoost 3.0 runs as xgboost-cpu 3.0 (the CPU build; the xgboost wheel pulls CUDA libraries)",
            ),
        },
        aliases={"1": "1.7"},
    ),
    "pytorch": Framework("pytorch", "PyTorch", "torch", "torch", server=True),
}

#: Pip distributions that differ from ``Framework.package`` for a series.
_PACKAGE_OVERRIDES = {("xgboost", "3.0"): "xgboost-cpu"}


@dataclass(frozen=True)
class FrameworkEnvironment:
    """What a job of ``framework`` at the tag's ``requested`` version runs on. ``specs`` empty: the server's
    own environment (``notes`` say why). Duck-types :class:`~sagestack.environments.Requirements` for
    :class:`~sagestack.environments.EnvironmentCache` (``name``, ``framework``, ``version``, ``text``)."""

    framework: str
    label: str
    module: str
    requested: str
    version: str
    specs: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def uses_server(self) -> bool:
        return not self.specs

    @property
    def text(self) -> str:
        return "\n".join(self.specs) + "\n"

    @property
    def digest(self) -> str:
        # The layering .pth names the server's environment: another server environment, another venv.
        key = f"{self.text}\npython {PYTHON}\nprefix {sys.prefix}\n"
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    @property
    def name(self) -> str:
        return f"{self.framework}-{self.version}-py{PYTHON.replace('.', '')}-{self.digest}"

    @property
    def description(self) -> str:
        return f"{self.label} {self.version} ({', '.join(self.specs)})" if self.specs else self.label


def series_of(version: str) -> str:
    """``1.2`` of ``1.2``, ``1.2.1``, ``0.20.0``; ``0.90`` stays ``0.90``; ``1`` stays ``1``."""
    parts = version.split(".")
    return ".".join(parts[:2])


def resolve_framework(framework: str, requested: str | None) -> FrameworkEnvironment | None:
    """The environment for a framework image's tag version; None when sagestack builds none for this
    framework (TensorFlow, Hugging Face: the server's environment, as before). Raises
    :class:`UnknownFrameworkVersion` for a version no image of the framework has."""
    spec = FRAMEWORKS.get(framework)
    if spec is None:
        return None
    if spec.server:
        server = _server_version(spec.module)
        asked = requested or "(no version)"
        return FrameworkEnvironment(
            framework,
            spec.label,
            spec.module,
            asked,
            server or "not installed",
            (),
            (
                f"{spec.label} {asked} runs on the server's {spec.package} {server or '(not installed)'}: "
                f"sagestack never installs another {spec.package} (each build is GBs, most need CUDA)",
            ),
        )
    if not requested:
        requested = max(spec.series, key=_key)
    key = series_of(requested)
    key = spec.aliases.get(key, key)
    series = spec.series.get(key)
    if series is None or not re.fullmatch(r"\d+(\.\d+)*", requested):
        known = ", ".join(sorted(spec.series, key=_key))
        raise UnknownFrameworkVersion(
            f"{spec.label} {requested} is not a framework version of the SageMaker {spec.label} images; "
            f"sagestack runs {spec.label} {known}"
        )
    package = _PACKAGE_OVERRIDES.get((framework, series.runs), spec.package)
    notes = ()
    if series.why:
        notes = (series.why.format(label=spec.label, asked=key, runs=series.runs, python=PYTHON),)
    return FrameworkEnvironment(
        framework,
        spec.label,
        spec.module,
        requested,
        series.runs,
        (f"{package}=={series.runs}.*", *series.specs),
        notes,
    )


def _key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def _server_version(module: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def render_markdown() -> str:
    """docs/framework-versions.md: image tag version → what the job's environment installs."""
    lines = [
        "# Framework versions",
        "",
        "<!-- Generated by `python -m sagestack.environments.frameworks` (make docs); do not edit. -->",
        "",
        "Script-mode jobs and endpoints on SageMaker framework images (scikit-learn, XGBoost, PyTorch) run the",
        "user's code on the framework version the image tag names: a virtual environment per release series,",
        "built on first use from the package index and cached (see docs/framework-versions-guide.md). This",
        f"table is what each tag version installs here (Python {PYTHON}); the job's log repeats the notes.",
        "",
        "| Image | Tag version | Installs | Notes |",
        "|---|---|---|---|",
    ]
    images = {
        "sklearn": "sagemaker-scikit-learn",
        "xgboost": "sagemaker-xgboost",
        "pytorch": "pytorch-training, pytorch-inference",
    }
    for name, spec in FRAMEWORKS.items():
        if spec.server:
            note = (
                f"runs on the server's {spec.package} (the CPU build `sagestack[algorithms]` installs); "
                f"sagestack never installs another {spec.package}"
            )
            lines.append(f"| {images[name]} | every version | nothing (the server's environment) | {note} |")
            continue
        tags = sorted(spec.series, key=_key)
        for tag in tags:
            env = resolve_framework(name, tag)
            specs = ", ".join(f"`{s}`" for s in env.specs)
            aliases = [a for a, target in spec.aliases.items() if target == tag]
            shown = tag + "".join(f", {a}" for a in aliases)
            lines.append(f"| {images[name]} | {shown} | {specs} | {'; '.join(env.notes) or '—'} |")
    lines += [
        "",
        "Other framework images (TensorFlow training, Hugging Face) run on the server's environment as before;",
        "TensorFlow Serving endpoints have their own pinned environment (`environments/requirements/`).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
