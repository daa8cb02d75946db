"""One settings object, built once from CLI flags and ``SAGESTACK_*`` environment variables.

Every field of :class:`Settings` carries its own description (``field(metadata=...)``): the help text,
how a value is parsed and which ``sagestack`` commands take it as a flag. The environment variable is
``SAGESTACK_<FIELD NAME>`` and the flag ``--<field-name>``. The argparse flags (``cli.py``), the
environment parsing (:meth:`Settings.from_env`) and ``docs/configuration.md`` (``python -m
sagestack.settings``) are all generated from that one description.

Precedence: a flag beats the environment variable, which beats the default.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_PORT = 5066  # clear of LocalStack (4566), moto (5000) and the usual 8080
DEFAULT_HOST = "127.0.0.1"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "000000000000"
LOG_LEVELS = ("debug", "info", "warning", "error")
EXECUTORS = ("local", "ray")
ENV_PREFIX = "SAGESTACK_"

# Which commands take a setting as a flag.
SERVE = ("serve",)
CLIENT = ("serve", "env")  # what a client needs to find the server
DATA = ("serve", "env", "status", "reset")  # where the data lives


class SettingsError(ValueError):
    """A setting's value cannot be used (names the variable or flag and the accepted values)."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "sagestack"


def _path(value: str) -> Path:
    return Path(value).expanduser()


def _log_level(value: str) -> str:
    lowered = value.strip().lower()
    if lowered not in LOG_LEVELS:
        raise ValueError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
    return lowered


def _s3_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value.strip())
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"{value!r} is not s3://BUCKET[/PREFIX][?endpoint_url=URL&region=REGION]")
    return value.strip()


def _executor(value: str) -> str:
    lowered = value.strip().lower()
    if lowered not in EXECUTORS:
        raise ValueError(f"{value!r} is not one of {', '.join(EXECUTORS)}")
    return lowered


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in _TRUE + _FALSE:
        raise ValueError(f"{value!r} is not one of {', '.join(_TRUE + _FALSE)}")
    return lowered in _TRUE


#: What runs the images that are neither built-in algorithms nor framework images (docs/containers.md).
CONTAINER_ENGINES = ("auto", "podman", "docker", "none")


def _container_engine(value: str) -> str:
    lowered = value.strip().lower()
    if lowered not in CONTAINER_ENGINES:
        raise ValueError(f"{value!r} is not one of {', '.join(CONTAINER_ENGINES)}")
    return lowered


def _setting(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    parse: Callable[[str], Any] = str,
    commands: tuple[str, ...] = SERVE,
    default_text: str | None = None,
    metavar: str | None = None,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A settings field with its description. ``commands``: the ``sagestack`` commands that take it as a
    flag (empty: environment variable only). ``default_text``: how the docs show a computed default."""
    metadata = {
        "help": help,
        "parse": parse,
        "commands": commands,
        "default_text": default_text,
        "metavar": metavar,
    }
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    host: str = _setting(
        DEFAULT_HOST,
        commands=CLIENT,
        metavar="ADDRESS",
        help="the address the server binds to and clients reach it on. 127.0.0.1 keeps it on this machine; "
        "0.0.0.0 (or ::) exposes every API to the network (see the Security section of the README)",
    )
    port: int = _setting(
        DEFAULT_PORT, parse=int, commands=CLIENT, metavar="N", help="the one port every service answers on"
    )
    data_dir: Path = _setting(
        parse=_path,
        commands=DATA,
        metavar="DIR",
        default_factory=default_data_dir,
        default_text="`$XDG_DATA_HOME/sagestack` (`~/.local/share/sagestack`)",
        help="where metadata, S3 objects, job directories, endpoint models, logs and the default key pair "
        "live; a restarted server carries on from it",
    )
    database_url: str | None = _setting(
        None,
        metavar="URL",
        default_text="SQLite: `<data-dir>/metadata.db`",
        help="SQLAlchemy URL of the metadata store, e.g. postgresql+psycopg://user@host/db",
    )
    region: str = _setting(DEFAULT_REGION, commands=CLIENT, help="the region the server answers as")
    account_id: str = _setting(
        DEFAULT_ACCOUNT_ID, metavar="ID", help="the 12-digit account id of the default account"
    )
    access_key_id: str | None = _setting(
        None,
        metavar="KEY",
        default_text="random, kept in `<data-dir>/credentials`",
        help="the default account's access key id",
    )
    secret_access_key: str | None = _setting(
        None,
        metavar="SECRET",
        default_text="random, kept in `<data-dir>/credentials`",
        help="the default account's secret access key",
    )
    strict_roles: bool = _setting(
        False,
        parse=_bool,
        metavar="BOOL",
        help="off (the default): any well-formed IAM role ARN, of any account, names a role that exists "
        "with the permissions SageMaker needs (IAM GetRole and SimulatePrincipalPolicy, STS AssumeRole "
        "answer for it), so code written for an AWS account runs unchanged. On: only the built-in role and "
        "roles made with CreateRole exist (see the Security section of the README)",
    )
    job_user: str = _setting(
        "nobody",
        commands=SERVE,
        metavar="USER",
        help="the OS user (name or uid) whose identity training and processing jobs' code and model "
        "workers' inference code (endpoints, batch transform) run with when "
        "the server runs as root; `root` keeps the server's user (see the Security section of the "
        "user guide)",
    )
    log_level: str = _setting(
        "info",
        parse=_log_level,
        metavar="LEVEL",
        help="debug, info, warning or error: sagestack's and uvicorn's loggers. At info, one line per "
        "API call (service, operation, status, duration, error code, request id)",
    )
    reconcile_interval: float = _setting(
        0.5,
        parse=float,
        metavar="SECONDS",
        help="how often the control loops (training, transform, endpoints) look for work",
    )
    cluster: bool = _setting(
        False,
        parse=_bool,
        metavar="BOOL",
        help="several servers share this database (--database-url, PostgreSQL) and data dir: any server "
        "answers any call; each job, endpoint and control loop is owned by one server at a time through "
        "leases in the database, and a server that dies hands its work to the others "
        "(docs/deployment-servers.md). Off: one server per data dir (its lock file says so)",
    )
    lease_seconds: float = _setting(
        5.0,
        parse=float,
        metavar="SECONDS",
        help="with --cluster: how long a server's leases (its jobs, endpoints, loops) outlive its last "
        "renewal (renewed every third of it); a dead server's work moves to another within about this long",
    )
    objects_url: str | None = _setting(
        None,
        parse=_s3_url,
        metavar="URL",
        default_text="local: `<data-dir>/objects`",
        help="keep the bytes of S3 objects in a remote S3-compatible service: "
        "s3://BUCKET[/PREFIX][?endpoint_url=URL&region=REGION] (endpoint_url for MinIO, Ceph, another "
        "sagestack…). The object index (keys, metadata, versions, uploads) stays in the database; reads are "
        "cached under <data-dir>/objects/cache (docs/deployment-servers.md)",
    )
    objects_access_key: str | None = _setting(
        None,
        commands=(),
        metavar="KEY",
        default_text="boto3's credential chain",
        help="the access key id for --objects-url",
    )
    objects_secret_key: str | None = _setting(
        None,
        commands=(),
        metavar="SECRET",
        default_text="boto3's credential chain",
        help="the secret access key for --objects-url",
    )
    objects_region: str | None = _setting(
        None,
        commands=(),
        metavar="REGION",
        default_text="the URL's region, else us-east-1",
        help="the region of the --objects-url service",
    )
    max_cpus: int | None = _setting(
        None,
        parse=int,
        metavar="N",
        default_text="the machine's cores",
        help="CPUs training jobs may use together; jobs that do not fit wait in the queue",
    )
    executor: str = _setting(
        "local",
        parse=_executor,
        metavar="KIND",
        help="where jobs and endpoint instances run: local (processes on this machine) or ray (Ray tasks "
        "and actors on the cluster at --ray-address; see docs/deployment-ray.md)",
    )
    ray_address: str | None = _setting(
        None,
        metavar="ADDRESS",
        default_text="`auto` (the Ray cluster this machine belongs to)",
        help="the Ray cluster the ray executor uses (host:port of its GCS, or ray://host:port)",
    )
    max_memory_mb: int | None = _setting(
        None,
        parse=int,
        metavar="MB",
        default_text="the machine's memory",
        help="memory training jobs may use together (MiB); jobs that do not fit wait in the queue",
    )
    serving_metrics_interval: float = _setting(
        5.0,
        parse=float,
        metavar="SECONDS",
        help="how often endpoint metrics (Invocations, ModelLatency, …) are written to the metric store",
    )
    target_tracking_alarms: str = _setting(
        "60,3,15",
        metavar="P,H,L",
        help="the CloudWatch alarms target-tracking scaling creates: period seconds, breaching periods to "
        "scale out, breaching periods to scale in (AWS's: 60,3,15)",
    )
    serverless_idle_seconds: float = _setting(
        300.0,
        parse=float,
        metavar="SECONDS",
        help="serverless endpoints stop their worker after this many seconds without requests",
    )
    serverless_warm_pool: int = _setting(
        1,
        parse=int,
        metavar="N",
        help="serverless endpoints: worker processes kept started, with their framework already imported, "
        "per framework runtime in use, so a cold start only loads the model (0: none)",
    )
    mme_max_models: int | None = _setting(
        None,
        parse=int,
        metavar="N",
        default_text="bounded by memory only",
        help="multi-model endpoints: the most models one instance keeps loaded (least recently used "
        "ones are unloaded)",
    )
    sdk_v3_python: Path | None = _setting(
        None,
        parse=_path,
        metavar="PYTHON",
        default_text="none",
        help="a Python interpreter with the SageMaker Python SDK v3 (sagemaker>=3): endpoints serving models "
        "SDK v3's ModelBuilder built (code/inference.py loading serve.pkl) run their worker with it when the "
        "server's own Python has SDK v2; typically the python of the environment that built the model",
    )
    container_engine: str = _setting(
        "auto",
        parse=_container_engine,
        metavar="ENGINE",
        help="the container engine that runs images which are neither built-in algorithms nor framework "
        "images (bring your own container): podman, docker, auto (podman, else docker, if on PATH) or none "
        "(such images fail with a reason). The engine's own configuration applies (containers.conf, "
        "CONTAINERS_CONF); images are looked up under the exact URI the job names (see docs/containers.md)",
    )
    framework_versions: bool = _setting(
        True,
        parse=_bool,
        metavar="BOOL",
        help="on (the default): script-mode jobs on scikit-learn and XGBoost images run the user's code on the "
        "framework version the image tag names, in an environment built on first use from the package index "
        "(uv, else pip) and cached in the env cache dir (docs/framework-versions.md). Off: they run on the "
        "server's own packages (no downloads)",
    )
    env_cache_dir: Path | None = _setting(
        None,
        parse=_path,
        metavar="DIR",
        default_text="`$XDG_CACHE_HOME/sagestack/envs` (`~/.cache/sagestack/envs`)",
        help="where framework environments are built and kept (a venv per framework version, e.g. TensorFlow for "
        "TensorFlow Serving endpoints; about 1.6 GB each); shared by every data dir, built once on first use",
    )

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'metadata.db'}"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def client_dir(self) -> Path:
        return self.data_dir / "client"

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        """Defaults, then ``SAGESTACK_*`` variables, then ``overrides`` (the flags; None: not given).
        Raises :class:`SettingsError` naming the variable whose value cannot be parsed."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in specs():
            raw = env.get(spec.env)
            if raw in (None, ""):
                continue
            try:
                values[spec.name] = spec.parse(raw)
            except ValueError as exc:
                raise SettingsError(f"{spec.env}={raw!r}: {_reason(exc, spec)}") from None
        for name, value in overrides.items():
            if value is None:
                continue
            spec = SPECS_BY_NAME[name]
            if isinstance(value, str) and spec.parse is not str:
                try:
                    value = spec.parse(value)
                except ValueError as exc:
                    raise SettingsError(f"{spec.flag} {value!r}: {_reason(exc, spec)}") from None
            values[name] = value
        if values.get("data_dir") is not None:
            values["data_dir"] = Path(values["data_dir"]).expanduser().resolve()
        return cls().with_overrides(**values)


def _reason(exc: ValueError, spec: SettingSpec) -> str:
    if spec.parse in (int, float):
        return f"expected {'an integer' if spec.parse is int else 'a number'}"
    return str(exc)


@dataclass(frozen=True)
class SettingSpec:
    """One setting as the CLI, the environment and the docs see it."""

    name: str
    help: str
    parse: Callable[[str], Any]
    commands: tuple[str, ...]
    default: Any
    default_text: str | None
    metavar: str | None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def choices(self) -> tuple[str, ...] | None:
        return {_log_level: LOG_LEVELS, _container_engine: CONTAINER_ENGINES, _executor: EXECUTORS}.get(
            self.parse
        )

    def shown_default(self) -> str:
        if self.default_text:
            return self.default_text
        if self.default is None:
            return "none"
        return f"`{self.default}`"


def specs() -> list[SettingSpec]:
    out = []
    for f in dataclasses.fields(Settings):
        meta = f.metadata
        default = f.default if f.default is not dataclasses.MISSING else None
        out.append(
            SettingSpec(
                f.name,
                meta["help"],
                meta["parse"],
                meta["commands"],
                default,
                meta["default_text"],
                meta["metavar"],
            )
        )
    return out


SPECS_BY_NAME: dict[str, SettingSpec] = {spec.name: spec for spec in specs()}


# -- docs/configuration.md --------------------------------------------------------------------------

#: ``SAGESTACK_*`` variables that are not server settings.
OTHER_VARIABLES = (
    (
        "SAGESTACK_ENDPOINT_URL",
        "set by `sagestack env` for clients: the botocore plugin it writes sends "
        "requests meant for `*.amazonaws.com` (the SageMaker SDK's hard-coded STS endpoint) there",
    ),
    (
        "SAGESTACK_LINEAR_LEARNER_CACHE_BYTES",
        "a training job's `Environment`: bytes of training data the "
        "built-in Linear Learner keeps in memory (default: half the available memory, at most 16 GiB)",
    ),
    (
        "SAGESTACK_TEST_STORE_URL",
        "tests only: run the test suite's shared server on this database URL (e.g. PostgreSQL)",
    ),
    ("SAGESTACK_TEST_DATABASE_URL", "tests only: the PostgreSQL URL the store tests use"),
    (
        "SAGESTACK_TEST_REMOTE_OBJECTS",
        "tests only: `1` keeps the shared server's object bytes in a second sagestack (`--objects-url`)",
    ),
)

COMMANDS = (
    ("serve", "start the server (runs until stopped; Ctrl-C or SIGTERM stops it cleanly)"),
    ("env", "print the shell exports that point AWS clients at the server (`--json` for JSON)"),
    (
        "status",
        "is a server running on the data dir: its URL and pid, jobs running, endpoints and their "
        "instances, disk used (`--json` for JSON)",
    ),
    (
        "reset",
        "delete everything in the data dir, after confirmation (`--yes` to skip it); refuses while a "
        "server runs on it",
    ),
    ("coverage", "print implemented vs. all operations per service (`--markdown` for docs/coverage.md)"),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    lines = [
        "# Configuration",
        "",
        "<!-- Generated by `python -m sagestack.settings > docs/configuration.md` (or `make docs`) from the "
        "Settings object in src/sagestack/settings.py; a test fails when this file is stale. -->",
        "",
        "Every setting of the server has an environment variable, `SAGESTACK_<NAME>`, and most have a flag "
        "on `sagestack serve`. A flag beats the variable, which beats the default. Settings are read once, "
        "at start.",
        "",
        "| variable | flag | default | meaning |",
        "|---|---|---|---|",
    ]
    for spec in specs():
        flag = f"`{spec.flag} {spec.metavar or spec.name.upper()}`" if spec.commands else "—"
        if spec.commands and spec.commands != SERVE:
            flag += " (" + ", ".join(spec.commands) + ")"
        lines.append(f"| `{spec.env}` | {flag} | {_cell(spec.shown_default())} | {_cell(spec.help)} |")
    lines += [
        "",
        "Flags marked with commands are taken by each of those `sagestack` commands, so `sagestack env "
        "--port 6000` describes the server `sagestack serve --port 6000` started; the others are `serve` "
        "flags.",
        "",
        "## Commands",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    lines += [f"| `sagestack {name}` | {_cell(text)} |" for name, text in COMMANDS]
    lines += [
        "",
        "`sagestack <command> --help` lists each command's flags.",
        "",
        "## Other variables",
        "",
        "| variable | meaning |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {_cell(text)} |" for name, text in OTHER_VARIABLES]
    lines += [
        "",
        "Training jobs and endpoint workers also see `SAGESTACK_*` variables the server sets for them "
        "(`SAGESTACK_JOB_ROOT`, `SAGESTACK_IMAGE_TAG`, …); they are internal and not meant to be set by "
        "hand.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
