"""The contract every built-in algorithm package implements.

An algorithm lives in ``sagestack.algorithms.<name>`` and exposes, at package level:

* ``SPEC``: an :class:`AlgorithmSpec` (hyperparameters, channels, metrics, inference formats);
* ``train(env: TrainingEnv) -> None``: reads ``env.channels``, writes the model into ``env.model_dir``,
  prints its log (and metric lines matched by ``SPEC.metric_definitions``) to stdout;
* ``load_model(model_dir: pathlib.Path) -> object``: loads what ``train`` wrote;
* ``predict(model, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]``: one invocation in
  SageMaker's request/response formats; raises :class:`InferenceError` for requests it cannot serve.

User mistakes (bad hyperparameters, bad data) raise :class:`AlgorithmClientError`; the job then fails
with ``ClientError: <message>`` as SageMaker reports it. Anything else is an algorithm failure.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagestack.formats.errors import InferenceError  # noqa: F401 (part of the algorithm contract)


class AlgorithmClientError(Exception):
    """A user mistake (hyperparameter, data, channel): reported as ``ClientError: ...``."""


class AlgorithmError(Exception):
    """An internal failure of the algorithm: reported as ``AlgorithmError: ...``."""


_REQUIRED = object()


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter as SageMaker declares it.

    ``kind``: ``"int" | "float" | "str" | "bool" | "list" | "json"``. ``choices`` restricts values;
    ``low``/``high`` bound numbers (``low_open``/``high_open`` make a bound exclusive); ``check`` is an
    extra predicate ``value -> error message or None``. ``default`` is the typed default; omit it (or
    pass ``required=True``) for required hyperparameters. A default of ``None`` means "unset".
    """

    name: str
    kind: str
    default: Any = None
    required: bool = False
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    check: Callable[[Any], str | None] | None = None
    description: str = ""

    def parse(self, raw: Any) -> Any:
        """Convert the wire value (a string) to the declared type and validate it."""
        value = _convert(self, raw)
        if self.choices is not None:
            items = value if self.kind == "list" else [value]
            for item in items:
                if item not in self.choices:
                    allowed = ", ".join(str(c) for c in self.choices)
                    raise AlgorithmClientError(
                        f"Hyperparameter {self.name}: value {raw!r} is not one of the allowed values "
                        f"[{allowed}]"
                    )
        if self.kind in ("int", "float"):
            if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
                raise AlgorithmClientError(
                    f"Hyperparameter {self.name}: value {raw!r} must be "
                    f"{'>' if self.low_open else '>='} {self.low}"
                )
            if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
                raise AlgorithmClientError(
                    f"Hyperparameter {self.name}: value {raw!r} must be "
                    f"{'<' if self.high_open else '<='} {self.high}"
                )
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise AlgorithmClientError(f"Hyperparameter {self.name}: {problem}")
        return value


def _convert(hp: Hyperparameter, raw: Any) -> Any:
    text = raw if isinstance(raw, str) else json.dumps(raw) if isinstance(raw, (list, dict)) else str(raw)
    text = text.strip()
    try:
        if hp.kind == "int":
            number = float(text)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if hp.kind == "float":
            number = float(text)
            if math.isnan(number):
                raise ValueError
            return number
        if hp.kind == "bool":
            lowered = text.lower()
            if lowered in ("true", "1"):
                return True
            if lowered in ("false", "0"):
                return False
            raise ValueError
        if hp.kind == "list":
            if text.startswith("["):
                value = json.loads(text)
                if not isinstance(value, list):
                    raise ValueError
                return value
            return [part.strip() for part in text.split(",") if part.strip()]
        if hp.kind == "json":
            return json.loads(text)
        return text
    except (ValueError, json.JSONDecodeError):
        raise AlgorithmClientError(
            f"Hyperparameter {hp.name}: value {raw!r} is not a valid {hp.kind}"
        ) from None


def validate_hyperparameters(
    spec: Sequence[Hyperparameter], raw: dict[str, Any], algorithm: str = "algorithm"
) -> dict[str, Any]:
    """Typed hyperparameters with defaults filled in; unknown names are rejected.

    Names starting with ``_`` (SageMaker-internal, e.g. ``_tuning_objective_metric``) and the SDK's
    ``sagemaker_*`` bookkeeping keys are accepted and kept as strings.
    """
    by_name = {hp.name: hp for hp in spec}
    result: dict[str, Any] = {}
    for name, value in raw.items():
        if name.startswith("_") or name.startswith("sagemaker_"):
            result[name] = value
            continue
        hp = by_name.get(name)
        if hp is None:
            raise AlgorithmClientError(
                f"Additional hyperparameters are not allowed ({name!r} was unexpected) for {algorithm}"
            )
        result[name] = hp.parse(value)
    missing = [hp.name for hp in spec if hp.required and hp.name not in result]
    if missing:
        raise AlgorithmClientError(f"Missing required hyperparameter(s): {', '.join(missing)}")
    for hp in spec:
        if hp.name not in result:
            result[hp.name] = hp.default
    return result


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    required: bool = False
    content_types: tuple[str, ...] = ("application/x-recordio-protobuf", "text/csv")
    default_content_type: str = "application/x-recordio-protobuf"
    input_modes: tuple[str, ...] = ("File", "Pipe", "FastFile")
    distributions: tuple[str, ...] = ("FullyReplicated", "ShardedByS3Key")


@dataclass(frozen=True)
class AlgorithmSpec:
    """What the platform needs to know about an algorithm without importing its math."""

    name: str  # e.g. "xgboost", "linear-learner"
    image_repositories: tuple[str, ...]  # ECR repository names, e.g. ("sagemaker-xgboost", "xgboost")
    hyperparameters: tuple[Hyperparameter, ...]
    channels: tuple[ChannelSpec, ...]
    metric_definitions: tuple[dict, ...] = ()  # [{"Name": ..., "Regex": ...}]
    request_content_types: tuple[str, ...] = ()
    response_accept_types: tuple[str, ...] = ()
    supports_distributed_training: bool = False
    supports_incremental_training: bool = False

    def channel(self, name: str) -> ChannelSpec | None:
        return next((c for c in self.channels if c.name == name), None)


@dataclass(frozen=True)
class Channel:
    """One input channel as the job sees it (``input/data/<name>/`` plus inputdataconfig.json)."""

    name: str
    path: Path
    content_type: str | None = None
    input_mode: str = "File"
    record_wrapper_type: str | None = None
    s3_distribution_type: str = "FullyReplicated"
    compression_type: str | None = None


@dataclass
class TrainingEnv:
    """The SageMaker training contract (the ``/opt/ml`` layout) as an object."""

    root: Path
    hyperparameters: dict[str, str]
    channels: dict[str, Channel]
    hosts: list[str] = field(default_factory=lambda: ["algo-1"])
    current_host: str = "algo-1"
    num_cpus: int = 1
    num_gpus: int = 0
    job_name: str = ""

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def failure_path(self) -> Path:
        return self.root / "output" / "failure"

    @property
    def input_config_dir(self) -> Path:
        return self.root / "input" / "config"

    @classmethod
    def from_root(cls, root: str | os.PathLike) -> TrainingEnv:
        """Read the layout a job directory holds (``input/config/*.json``)."""
        root = Path(root)
        config = root / "input" / "config"
        hps = _read_json(config / "hyperparameters.json", {})
        data_config = _read_json(config / "inputdataconfig.json", {})
        resource = _read_json(config / "resourceconfig.json", {})
        channels = {
            name: Channel(
                name=name,
                path=root / "input" / "data" / name,
                content_type=cfg.get("ContentType"),
                input_mode=cfg.get("TrainingInputMode", "File"),
                record_wrapper_type=cfg.get("RecordWrapperType"),
                s3_distribution_type=cfg.get("S3DistributionType", "FullyReplicated"),
                compression_type=cfg.get("CompressionType"),
            )
            for name, cfg in data_config.items()
        }
        return cls(
            root=root,
            hyperparameters={k: str(v) for k, v in hps.items()},
            channels=channels,
            hosts=list(resource.get("hosts", ["algo-1"])),
            current_host=resource.get("current_host", "algo-1"),
            num_cpus=int(os.environ.get("SM_NUM_CPUS", os.cpu_count() or 1)),
            num_gpus=int(os.environ.get("SM_NUM_GPUS", 0)),
            job_name=os.environ.get("TRAINING_JOB_NAME", ""),
        )


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default


def channel_content_type(spec: AlgorithmSpec, channel: Channel) -> str:
    """The channel's content type (parameters stripped), defaulting as the algorithm does, validated."""
    from sagestack.formats.content_types import normalize

    cspec = spec.channel(channel.name)
    if cspec is None:
        allowed = ", ".join(c.name for c in spec.channels)
        raise AlgorithmClientError(
            f"Channel {channel.name!r} is not supported by {spec.name}; supported channels: {allowed}"
        )
    ctype = normalize(channel.content_type) if channel.content_type else cspec.default_content_type
    if ctype not in cspec.content_types:
        raise AlgorithmClientError(
            f"Content type {channel.content_type!r} is not supported for channel {channel.name!r} of "
            f"{spec.name}; supported: {', '.join(cspec.content_types)}"
        )
    return ctype


def reader_content_type(spec: AlgorithmSpec, channel: Channel) -> str:
    """The validated content type with its parameters kept (``text/csv;label_size=0``), for readers."""
    normalized = channel_content_type(spec, channel)
    return channel.content_type if channel.content_type else normalized


def validate_channels(spec: AlgorithmSpec, channels: dict[str, Channel]) -> None:
    """Every channel is declared with a supported content type; every required channel is present."""
    for channel in channels.values():
        channel_content_type(spec, channel)
    for cspec in spec.channels:
        if cspec.required and cspec.name not in channels:
            raise AlgorithmClientError(f"The {cspec.name} channel is required by {spec.name}")
