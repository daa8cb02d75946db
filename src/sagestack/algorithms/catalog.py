"""The catalog of built-in algorithms, built from each package's ``SPEC``, and its Markdown rendering.

``build_catalog()`` lists every SageMaker built-in algorithm repository (``registry.KNOWN_REPOSITORIES``):
those with a package here (``registry.ALGORITHM_PACKAGES``) with their image repositories, channels and
content types, hyperparameters, metric names and inference formats; the others as not yet available.
``render_markdown()`` turns it into ``docs/algorithms.md``; regenerate that file with::

    python -m sagestack.algorithms.catalog > docs/algorithms.md
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sagestack.algorithms import registry
from sagestack.algorithms.base import AlgorithmSpec, Hyperparameter

REGENERATE_COMMAND = "python -m sagestack.algorithms.catalog > docs/algorithms.md"

#: Display names of SageMaker's built-in algorithm repositories (algorithms.md §1.6).
DISPLAY_NAMES = MappingProxyType(
    {
        "sagemaker-xgboost": "XGBoost",
        "xgboost": "XGBoost (legacy 0.72)",
        "linear-learner": "Linear Learner",
        "kmeans": "K-Means",
        "pca": "PCA",
        "knn": "k-NN",
        "factorization-machines": "Factorization Machines",
        "randomcutforest": "Random Cut Forest",
        "lda": "LDA",
        "ntm": "Neural Topic Model",
        "forecasting-deepar": "DeepAR Forecasting",
        "blazingtext": "BlazingText",
        "object2vec": "Object2Vec",
        "ipinsights": "IP Insights",
        "seq2seq": "Sequence-to-Sequence",
        "image-classification": "Image Classification",
        "object-detection": "Object Detection",
        "semantic-segmentation": "Semantic Segmentation",
        "xgboost-neo": "XGBoost (Neo-compiled)",
        "image-classification-neo": "Image Classification (Neo-compiled)",
    }
)

#: Longest list of choices written out in full in the hyperparameter tables.
_MAX_CHOICES = 10


@dataclass(frozen=True)
class ChannelEntry:
    name: str
    required: bool
    content_types: tuple[str, ...]
    default_content_type: str
    input_modes: tuple[str, ...]
    distributions: tuple[str, ...]


@dataclass(frozen=True)
class HyperparameterEntry:
    name: str
    kind: str
    required: bool
    default: str  # as sent on the wire; "" when unset
    allowed: str  # choices / range, human-readable; "" when anything of the type goes
    description: str


@dataclass(frozen=True)
class AlgorithmEntry:
    """One row of the catalog. Unavailable algorithms carry only their name and repository."""

    title: str
    name: str
    package: str | None
    image_repositories: tuple[str, ...]
    available: bool
    channels: tuple[ChannelEntry, ...] = ()
    hyperparameters: tuple[HyperparameterEntry, ...] = ()
    metrics: tuple[str, ...] = ()
    request_content_types: tuple[str, ...] = ()
    response_accept_types: tuple[str, ...] = ()
    distributed_training: bool = False
    incremental_training: bool = False


def _wire(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def allowed_values(hp: Hyperparameter) -> str:
    """Choices or range of a declaration as text: ``a, b``; ``>= 0``; ``(0, 1]``."""
    if hp.choices is not None:
        values = [str(c) for c in hp.choices]
        if len(values) > _MAX_CHOICES:
            return f"one of {len(values)} values: {', '.join(values[:_MAX_CHOICES])}, …"
        return ", ".join(values)
    if hp.low is not None and hp.high is not None:
        left = "(" if hp.low_open else "["
        right = ")" if hp.high_open else "]"
        return f"{left}{_number(hp.low)}, {_number(hp.high)}{right}"
    if hp.low is not None:
        return f"{'>' if hp.low_open else '>='} {_number(hp.low)}"
    if hp.high is not None:
        return f"{'<' if hp.high_open else '<='} {_number(hp.high)}"
    if hp.kind == "bool":
        return "true, false"
    return ""


def _hyperparameter_entry(hp: Hyperparameter) -> HyperparameterEntry:
    return HyperparameterEntry(
        name=hp.name,
        kind=hp.kind,
        required=hp.required,
        default=_wire(hp.default),
        allowed=allowed_values(hp),
        description=hp.description,
    )


def canonical_types(content_types: Iterable[str]) -> tuple[str, ...]:
    """Content types with aliases folded (``csv`` → ``text/csv``, ``text/x-libsvm`` → ``text/libsvm``)."""
    from sagestack.formats.content_types import normalize

    return tuple(dict.fromkeys(normalize(t) or t for t in content_types))


def _entry(spec: AlgorithmSpec, package: str) -> AlgorithmEntry:
    return AlgorithmEntry(
        title=DISPLAY_NAMES.get(spec.image_repositories[0], spec.name),
        name=spec.name,
        package=package,
        image_repositories=spec.image_repositories,
        available=True,
        channels=tuple(
            ChannelEntry(
                c.name,
                c.required,
                canonical_types(c.content_types),
                c.default_content_type,
                c.input_modes,
                c.distributions,
            )
            for c in spec.channels
        ),
        hyperparameters=tuple(_hyperparameter_entry(hp) for hp in spec.hyperparameters),
        metrics=tuple(d["Name"] for d in spec.metric_definitions),
        request_content_types=canonical_types(spec.request_content_types),
        response_accept_types=canonical_types(spec.response_accept_types),
        distributed_training=spec.supports_distributed_training,
        incremental_training=spec.supports_incremental_training,
    )


def build_catalog() -> tuple[AlgorithmEntry, ...]:
    """Every known built-in algorithm: implemented ones first (by title), then the rest (by title)."""
    available: list[AlgorithmEntry] = []
    covered: set[str] = set()
    for package in sorted(set(registry.ALGORITHM_PACKAGES.values())):
        module = importlib.import_module(f"sagestack.algorithms.{package}")
        available.append(_entry(module.SPEC, package))
        covered.update(module.SPEC.image_repositories)
    missing = [
        AlgorithmEntry(
            title=DISPLAY_NAMES.get(repo, repo),
            name=repo,
            package=None,
            image_repositories=(repo,),
            available=False,
        )
        for repo in registry.KNOWN_REPOSITORIES - covered
    ]
    return tuple(sorted(available, key=_title_key)) + tuple(sorted(missing, key=_title_key))


def _title_key(entry: AlgorithmEntry) -> str:
    return entry.title.lower()


# ------------------------------------------------------------------------------------------------
# Markdown


def _code(values: Iterable[str]) -> str:
    return ", ".join(f"`{v}`" for v in values) or "—"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "—"


def _anchor(title: str) -> str:
    kept = "".join(ch for ch in title.lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _summary(entries: tuple[AlgorithmEntry, ...]) -> list[str]:
    rows = []
    for e in entries:
        if not e.available:
            continue
        train = e.channels[0] if e.channels else None
        rows.append(
            (
                f"[{e.title}](#{_anchor(e.title)})",
                _code(e.image_repositories),
                _code(c.name for c in e.channels),
                _code(train.content_types) if train else "—",
                _code(e.request_content_types),
                _code(e.response_accept_types),
            )
        )
    return _table(
        (
            "Algorithm",
            "Image repositories",
            "Channels",
            "Training content types",
            "Inference requests",
            "Inference responses",
        ),
        rows,
    )


def _section(e: AlgorithmEntry) -> list[str]:
    lines = [f"## {e.title}", ""]
    lines.append(
        f"- Image repositories: {_code(e.image_repositories)} (package `sagestack.algorithms.{e.package}`)"
    )
    lines.append(
        f"- Distributed training: {'yes' if e.distributed_training else 'no'}; "
        f"incremental training: {'yes' if e.incremental_training else 'no'}"
    )
    lines.append(f"- Inference requests (Content-Type): {_code(e.request_content_types)}")
    lines.append(f"- Inference responses (Accept): {_code(e.response_accept_types)}")
    lines += ["", "### Channels", ""]
    lines += _table(
        ("Channel", "Required", "Content types", "Default content type", "Input modes", "Distribution"),
        (
            (
                f"`{c.name}`",
                "yes" if c.required else "no",
                _code(c.content_types),
                f"`{c.default_content_type}`",
                ", ".join(c.input_modes),
                ", ".join(c.distributions),
            )
            for c in e.channels
        ),
    )
    lines += ["", "### Hyperparameters", ""]
    lines += _table(
        ("Name", "Type", "Required", "Default", "Allowed values", "Notes"),
        (
            (
                f"`{h.name}`",
                h.kind,
                "yes" if h.required else "no",
                f"`{h.default}`" if h.default else "—",
                _cell(h.allowed),
                _cell(h.description),
            )
            for h in e.hyperparameters
        ),
    )
    lines += ["", "### Metrics", ""]
    lines.append(_code(e.metrics) if e.metrics else "This algorithm publishes no metrics.")
    lines.append("")
    return lines


def render_markdown(entries: tuple[AlgorithmEntry, ...] | None = None) -> str:
    """``docs/algorithms.md``: a summary table, one section per available algorithm, then the rest."""
    entries = build_catalog() if entries is None else entries
    available = [e for e in entries if e.available]
    missing = [e for e in entries if not e.available]
    lines = [
        "# Built-in algorithms",
        "",
        "<!-- Generated from each algorithm's SPEC by sagestack.algorithms.catalog; do not edit by hand.",
        f"     Regenerate with: {REGENERATE_COMMAND} -->",
        "",
        (
            f"sagestack trains and hosts {len(available)} of SageMaker's built-in algorithms from their usual "
            "image URIs (`sagemaker.image_uris.retrieve(...)`); any account and region prefix is accepted. "
            "Hyperparameters arrive as strings, as the SageMaker SDK sends them; unknown names fail the job "
            "with a `ClientError`, and SageMaker's internal `_`-prefixed keys (such as "
            "`_tuning_objective_metric`) are accepted."
        ),
        "",
        "## Summary",
        "",
    ]
    lines += _summary(entries)
    lines.append("")
    for entry in available:
        lines += _section(entry)
    lines += ["## Not yet available", ""]
    lines.append(
        "These built-in algorithm images are recognised: training jobs and endpoints that use them "
        "fail with a reason saying they are not available yet."
    )
    lines.append("")
    lines += _table(
        ("Algorithm", "Image repository"), ((e.title, _code(e.image_repositories)) for e in missing)
    )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    sys.stdout.write(render_markdown())


if __name__ == "__main__":
    main()
