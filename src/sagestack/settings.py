"""One settings object, built once from CLI flags and ``SAGESTACK_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_PORT = 5066  # clear of LocalStack (4566), moto (5000) and the usual 8080
DEFAULT_HOST = "127.0.0.1"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "000000000000"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "sagestack"


@dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    access_key_id: str | None = None
    secret_access_key: str | None = None
    log_level: str = "info"
    reconcile_interval: float = 0.5
    max_cpus: int | None = None  # capacity for jobs and workers; default: the machine's cores
    max_memory_mb: int | None = None
    # How often the serving layer writes endpoint metrics (Invocations, …) to the metric store, seconds.
    serving_metrics_interval: float = 5.0
    # The CloudWatch alarms target tracking creates: "period,AlarmHigh datapoints,AlarmLow datapoints".
    # AWS's are 60 s periods, 3 breaching periods to scale out and 15 to scale in ("60,3,15").
    target_tracking_alarms: str = "60,3,15"
    # Serverless endpoints stop their worker after this many idle seconds (AWS: a few minutes).
    serverless_idle_seconds: float = 300.0
    # Multi-model endpoints: most models one instance keeps loaded (None: bounded by memory only).
    mme_max_models: int | None = None

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
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(f"SAGESTACK_{name}")
            return value if value not in (None, "") else None

        values: dict = {
            "host": get("HOST"),
            "port": int(get("PORT")) if get("PORT") else None,
            "data_dir": Path(get("DATA_DIR")).expanduser() if get("DATA_DIR") else None,
            "database_url": get("DATABASE_URL"),
            "region": get("REGION"),
            "account_id": get("ACCOUNT_ID"),
            "access_key_id": get("ACCESS_KEY_ID"),
            "secret_access_key": get("SECRET_ACCESS_KEY"),
            "log_level": get("LOG_LEVEL"),
            "max_cpus": int(get("MAX_CPUS")) if get("MAX_CPUS") else None,
            "max_memory_mb": int(get("MAX_MEMORY_MB")) if get("MAX_MEMORY_MB") else None,
            "serving_metrics_interval": float(get("SERVING_METRICS_INTERVAL"))
            if get("SERVING_METRICS_INTERVAL") else None,
            "target_tracking_alarms": get("TARGET_TRACKING_ALARMS"),
            "serverless_idle_seconds": float(get("SERVERLESS_IDLE_SECONDS"))
            if get("SERVERLESS_IDLE_SECONDS") else None,
            "mme_max_models": int(get("MME_MAX_MODELS")) if get("MME_MAX_MODELS") else None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values and values["data_dir"] is not None:
            values["data_dir"] = Path(values["data_dir"]).expanduser().resolve()
        return cls().with_overrides(**values)
