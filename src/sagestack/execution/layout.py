"""The SageMaker training contract on disk (``/opt/ml``) and the toolkit's ``SM_*`` environment."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

OPT_ML = Path("/opt/ml")


def inside(root: Path, path: Path) -> Path | None:
    """``path`` when it resolves (symbolic links followed) to ``root`` or below it, else None."""
    base, real = Path(os.path.realpath(root)), Path(os.path.realpath(path))
    return path if real == base or base in real.parents else None


@dataclass(frozen=True)
class HostLayout:
    """One host's ``/opt/ml`` tree: ``root`` on disk; ``visible`` is what the job sees (``/opt/ml`` when a
    private mount namespace is available, else ``root`` itself)."""

    root: Path
    visible: Path

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def own(self, *parts: str) -> Path | None:
        """``path(*parts)`` when no symbolic link leads it out of ``root``, else None: the server (root)
        never reads or uploads a file of someone else's that a job (another user) linked into its tree."""
        return inside(self.root, self.path(*parts))

    def seen(self, *parts: str) -> str:
        return str(self.visible.joinpath(*parts))

    def create(self) -> None:
        for part in (
            "input/config",
            "input/data",
            "model",
            "output/data",
            "output/metrics",
            "output/profiler",
            "checkpoints",
            "code",
        ):
            self.path(part).mkdir(parents=True, exist_ok=True)


def _decode(value: str):
    """Hyperparameters as the toolkit delivers them: JSON-decoded where they are JSON."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def user_hyperparameters(hps: dict[str, str]) -> dict:
    return {k: _decode(v) for k, v in hps.items() if not k.startswith("sagemaker_")}


def cmd_args(hps: dict) -> list[str]:
    args: list[str] = []
    for key, value in sorted(hps.items()):
        args.append(f"--{key}")
        args.append(value if isinstance(value, str) else json.dumps(value))
    return args


def write_config(
    layout: HostLayout,
    hyperparameters: dict[str, str],
    input_config: dict,
    resource_config: dict,
    checkpoint_config: dict | None = None,
) -> None:
    config = layout.path("input", "config")
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps(input_config))
    (config / "resourceconfig.json").write_text(json.dumps(resource_config))
    if checkpoint_config:
        (config / "checkpointconfig.json").write_text(json.dumps(checkpoint_config))


def training_environment(
    layout: HostLayout,
    *,
    job_name: str,
    hyperparameters: dict[str, str],
    input_config: dict,
    resource_config: dict,
    num_cpus: int,
    num_gpus: int,
    region: str,
    program: str | None = None,
    job_arn: str = "",
) -> dict[str, str]:
    """The ``SM_*`` variables the sagemaker-training-toolkit sets (and TRAINING_JOB_NAME etc.)."""
    hps = user_hyperparameters(hyperparameters)
    channels = sorted(input_config)
    current = resource_config["current_host"]
    hosts = resource_config["hosts"]
    module_name = (program or "").rsplit(".py", 1)[0] if program else ""
    env = {
        "SM_MODEL_DIR": layout.seen("model"),
        "SM_INPUT_DIR": layout.seen("input"),
        "SM_INPUT_CONFIG_DIR": layout.seen("input", "config"),
        "SM_OUTPUT_DIR": layout.seen("output"),
        "SM_OUTPUT_DATA_DIR": layout.seen("output", "data"),
        "SM_OUTPUT_INTERMEDIATE_DIR": layout.seen("output", "intermediate"),
        "SM_CHECKPOINT_DIR": layout.seen("checkpoints"),
        "SM_MODULE_DIR": hyperparameters.get("sagemaker_submit_directory", "").strip('"'),
        "SM_MODULE_NAME": module_name,
        "SM_USER_ENTRY_POINT": program or "",
        "SM_HOSTS": json.dumps(hosts),
        "SM_CURRENT_HOST": current,
        "SM_CURRENT_INSTANCE_TYPE": resource_config.get("current_instance_type", ""),
        "SM_CURRENT_INSTANCE_GROUP": resource_config.get("current_group_name", "homogeneousCluster"),
        "SM_INSTANCE_GROUPS": json.dumps(
            [g["instance_group_name"] for g in resource_config.get("instance_groups", [])]
        ),
        "SM_IS_HETERO": "false",
        "SM_NETWORK_INTERFACE_NAME": resource_config.get("network_interface_name", "eth0"),
        "SM_NUM_CPUS": str(num_cpus),
        "SM_NUM_GPUS": str(num_gpus),
        "SM_NUM_NEURONS": "0",
        "SM_LOG_LEVEL": str(_decode(hyperparameters.get("sagemaker_container_log_level", "20"))),
        "SM_FRAMEWORK_MODULE": "",
        "SM_FRAMEWORK_PARAMS": "{}",
        "SM_HPS": json.dumps(hps),
        "SM_CHANNELS": json.dumps(channels),
        "SM_INPUT_DATA_CONFIG": json.dumps(input_config),
        "SM_RESOURCE_CONFIG": json.dumps(resource_config),
        "SM_USER_ARGS": json.dumps(cmd_args(hps)),
        "SM_MASTER_ADDR": hosts[0],
        "SM_MASTER_PORT": "7777",
        "TRAINING_JOB_NAME": job_name,
        "TRAINING_JOB_ARN": job_arn,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "PYTHONUNBUFFERED": "1",
    }
    for channel in channels:
        env[f"SM_CHANNEL_{channel.upper()}"] = layout.seen("input", "data", channel)
    for key, value in hps.items():
        env[f"SM_HP_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    env["SM_TRAINING_ENV"] = json.dumps(
        {
            "additional_framework_parameters": {},
            "channel_input_dirs": {c: layout.seen("input", "data", c) for c in channels},
            "current_host": current,
            "current_instance_type": resource_config.get("current_instance_type", ""),
            "framework_module": "",
            "hosts": hosts,
            "hyperparameters": hps,
            "input_config_dir": layout.seen("input", "config"),
            "input_data_config": input_config,
            "input_dir": layout.seen("input"),
            "is_master": current == hosts[0],
            "job_name": job_name,
            "log_level": int(env["SM_LOG_LEVEL"]) if env["SM_LOG_LEVEL"].isdigit() else 20,
            "master_hostname": hosts[0],
            "model_dir": layout.seen("model"),
            "module_dir": env["SM_MODULE_DIR"],
            "module_name": module_name,
            "network_interface_name": env["SM_NETWORK_INTERFACE_NAME"],
            "num_cpus": num_cpus,
            "num_gpus": num_gpus,
            "output_data_dir": layout.seen("output", "data"),
            "output_dir": layout.seen("output"),
            "output_intermediate_dir": layout.seen("output", "intermediate"),
            "resource_config": resource_config,
            "user_entry_point": program or "",
        }
    )
    return env


def inherited_environment() -> dict[str, str]:
    """What a job process keeps from the server's environment (PATH, locale, HOME, proxies…)."""
    keep = (
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "TMPDIR",
        "VIRTUAL_ENV",
        "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE",
        "SSL_CERT_FILE",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_FIND_LINKS",
        "PIP_NO_INDEX",
        "PYTHONPATH",
    )
    return {k: os.environ[k] for k in keep if k in os.environ}
