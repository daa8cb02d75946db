"""Settings: one description per field gives the environment variable, the flag and the docs line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sagestack.cli import build_parser, settings_from_args
from sagestack.settings import LOG_LEVELS, Settings, SettingsError, _bool, _s3_url, specs

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = {
    int: "7",
    float: "2.5",
    _bool: "yes",
    _s3_url: "s3://bucket/prefix?endpoint_url=http://127.0.0.1:9",
}
#: Variables the server sets for the processes it starts (not configuration).
INTERNAL = {
    "SAGESTACK_JOB_ROOT",
    "SAGESTACK_RUNNER",
    "SAGESTACK_JOB_CONFIG",
    "SAGESTACK_PRIVATE_OPT_ML",
    "SAGESTACK_SERVER_PID",  # a job process: the server it dies with (execution/entry.py)
    "SAGESTACK_IMAGE_TAG",
    "SAGESTACK_SPARK_RENDEZVOUS",
    # a job host's peers on a Ray cluster: algo-N → node address (execution/training/supervision.py)
    "SAGESTACK_HOST_ADDRESSES",
    # a Ray node agent's host process: the agent it dies with, the job it belongs to (execution/ray_host.py)
    "SAGESTACK_AGENT_PID",
    "SAGESTACK_RAY_JOB",
    # a Lambda invocation's process: its request id, invoked ARN and deadline (execution/functions.py)
    "SAGESTACK_LAMBDA_REQUEST_ID",
    "SAGESTACK_LAMBDA_INVOKED_ARN",
    "SAGESTACK_LAMBDA_DEADLINE_MS",
}


def test_every_setting_is_described():
    for spec in specs():
        assert spec.help and spec.env == "SAGESTACK_" + spec.name.upper()
        assert spec.flag == "--" + spec.name.replace("_", "-")


def test_every_variable_is_parsed(tmp_path):
    env = {}
    for spec in specs():
        env[spec.env] = SAMPLES.get(
            spec.parse, spec.choices[-1] if spec.choices else str(tmp_path / spec.name)
        )
    settings = Settings.from_env(env)
    for spec in specs():
        value = getattr(settings, spec.name)
        assert value == spec.parse(env[spec.env]) or value == Path(env[spec.env]).resolve(), spec.name
    assert Settings.from_env({"SAGESTACK_PORT": "", "SAGESTACK_LOG_LEVEL": "WARNING"}).port == 5066
    assert Settings.from_env({"SAGESTACK_LOG_LEVEL": "WARNING"}).log_level == "warning"


def test_bad_values_name_the_variable():
    with pytest.raises(SettingsError, match="SAGESTACK_PORT='eighty': expected an integer"):
        Settings.from_env({"SAGESTACK_PORT": "eighty"})
    with pytest.raises(SettingsError, match="SAGESTACK_LOG_LEVEL='loud'.*debug, info, warning, error"):
        Settings.from_env({"SAGESTACK_LOG_LEVEL": "loud"})
    with pytest.raises(SettingsError, match="--max-cpus 'many'"):
        Settings.from_env({}, max_cpus="many")


def test_container_engine_is_one_of_the_engines():
    assert Settings.from_env({}).container_engine == "auto"
    assert Settings.from_env({"SAGESTACK_CONTAINER_ENGINE": "Podman"}).container_engine == "podman"
    with pytest.raises(SettingsError, match="SAGESTACK_CONTAINER_ENGINE='rkt'.*auto, podman, docker, none"):
        Settings.from_env({"SAGESTACK_CONTAINER_ENGINE": "rkt"})


def test_strict_roles_is_a_switch():
    assert Settings.from_env({}).strict_roles is False
    for raw, value in (("1", True), ("TRUE", True), ("on", True), ("0", False), ("no", False)):
        assert Settings.from_env({"SAGESTACK_STRICT_ROLES": raw}).strict_roles is value
    with pytest.raises(SettingsError, match="SAGESTACK_STRICT_ROLES='maybe'"):
        Settings.from_env({"SAGESTACK_STRICT_ROLES": "maybe"})
    args = build_parser().parse_args(["serve", "--strict-roles", "true"])
    assert settings_from_args(args).strict_roles is True


def test_job_user_defaults_to_nobody():
    assert Settings.from_env({}).job_user == "nobody"
    assert Settings.from_env({"SAGESTACK_JOB_USER": "root"}).job_user == "root"
    args = build_parser().parse_args(["serve", "--job-user", "daemon"])
    assert settings_from_args(args).job_user == "daemon"


def test_flags_beat_variables_which_beat_defaults(tmp_path):
    env = {"SAGESTACK_PORT": "6001", "SAGESTACK_REGION": "eu-west-1", "SAGESTACK_MAX_CPUS": "3"}
    args = build_parser().parse_args(
        [
            "serve",
            "--port",
            "6002",
            "--data-dir",
            str(tmp_path),
            "--log-level",
            "DEBUG",
            "--mme-max-models",
            "4",
        ]
    )
    overrides = {spec.name: getattr(args, spec.name, None) for spec in specs()}
    settings = Settings.from_env(env, **overrides)
    got = (settings.port, settings.region, settings.max_cpus, settings.mme_max_models)
    assert got == (6002, "eu-west-1", 3, 4)
    assert settings.log_level == "debug" and settings.data_dir == tmp_path.resolve()
    assert Settings.from_env({}).port == 5066 and Settings.from_env({}).log_level in LOG_LEVELS


def test_each_command_takes_the_flags_its_settings_name(tmp_path):
    parser = build_parser()
    for command in ("serve", "env", "status", "reset"):
        args = parser.parse_args([command, "--data-dir", str(tmp_path)])
        assert settings_from_args(args).data_dir == tmp_path.resolve()
    assert parser.parse_args(["env", "--port", "6003"]).port == "6003"
    with pytest.raises(SystemExit):
        parser.parse_args(["reset", "--port", "6003"])
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--log-level", "loud"])


def test_every_sagestack_variable_in_the_code_is_documented():
    """A SAGESTACK_* name read anywhere in src/ is a setting or listed in docs/configuration.md."""
    doc = (ROOT / "docs" / "configuration.md").read_text()
    names = set()
    for path in (ROOT / "src").rglob("*.py"):
        names |= set(re.findall(r"SAGESTACK_[A-Z][A-Z0-9_]*[A-Z0-9]", path.read_text()))
    missing = sorted(n for n in names - INTERNAL if f"`{n}`" not in doc)
    assert not missing, f"undocumented variables (add a setting or an OTHER_VARIABLES line): {missing}"


def test_executor_is_local_unless_ray_is_chosen():
    assert Settings.from_env({}).executor == "local" and Settings.from_env({}).ray_address is None
    settings = Settings.from_env({"SAGESTACK_EXECUTOR": "Ray", "SAGESTACK_RAY_ADDRESS": "127.0.0.1:6379"})
    assert (settings.executor, settings.ray_address) == ("ray", "127.0.0.1:6379")
    with pytest.raises(SettingsError, match="SAGESTACK_EXECUTOR='kubernetes'.*local, ray"):
        Settings.from_env({"SAGESTACK_EXECUTOR": "kubernetes"})
    args = build_parser().parse_args(["serve", "--executor", "ray", "--ray-address", "10.0.0.5:6379"])
    assert (settings_from_args(args).executor, settings_from_args(args).ray_address) == (
        "ray",
        "10.0.0.5:6379",
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--executor", "slurm"])
