"""The process a training or processing host runs: ``python -m sagestack.execution.entry``.

It gives the job its own ``/opt/ml`` (a private mount namespace bound to the host's directory) where the
OS allows it, sets the toolkit's ``SM_*`` environment, then runs a built-in algorithm's ``train(env)``
or the user's script the way the sagemaker-training-toolkit does. Everything it prints is the job log.
Failures land in ``output/failure`` (``ClientError: …`` for user mistakes, ``AlgorithmError: …``).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path

from .. import job_sandbox
from ..environments import install_requirements_command
from ..sandbox import NEEDS, no_network
from . import job_python
from .layout import OPT_ML, HostLayout, cmd_args, training_environment, user_hyperparameters

CLONE_NEWNS = 0x00020000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def private_opt_ml(root: Path) -> str | None:
    """Bind ``root`` on ``/opt/ml`` in a new mount namespace; None on success, else why not."""
    if sys.platform != "linux":
        return f"{sys.platform} has no mount namespaces"
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        return f"unshare(CLONE_NEWNS) failed: {os.strerror(ctypes.get_errno())}"
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return f"making mounts private failed: {os.strerror(ctypes.get_errno())}"
    try:
        OPT_ML.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create {OPT_ML}: {exc}"
    if libc.mount(str(root).encode(), str(OPT_ML).encode(), None, MS_BIND, None) != 0:
        return f"bind mount on {OPT_ML} failed: {os.strerror(ctypes.get_errno())}"
    return None


def bind_hosts(root: Path, hosts: list[str], addresses: dict[str, str] | None = None) -> str | None:
    """In the job's mount namespace, make ``algo-1 … algo-N`` resolve: to ``addresses`` (the nodes of a
    cluster the hosts run on), else to 127.0.0.1 (all hosts are local processes)."""
    try:
        original = Path("/etc/hosts").read_text()
    except OSError:
        original = "127.0.0.1 localhost\n"
    path = root.parent / f".{root.name}.hosts"
    lines = [f"{(addresses or {}).get(host, '127.0.0.1')} {host}" for host in hosts]
    path.write_text(original.rstrip("\n") + "\n" + "\n".join(lines) + "\n")
    if _libc().mount(str(path).encode(), b"/etc/hosts", None, MS_BIND, None) != 0:
        return f"bind mount on /etc/hosts failed: {os.strerror(ctypes.get_errno())}"
    return None


def private_tmp(layout: HostLayout) -> str:
    """The job's own temporary directory (TMPDIR, TMP, TEMP), under its directory: removed with it."""
    path = layout.path(".sagestack", "tmp")
    path.mkdir(parents=True, exist_ok=True)
    for name in ("TMPDIR", "TMP", "TEMP"):
        os.environ[name] = str(path)
    return str(path)


def confine(layout: HostLayout, config: dict) -> None:
    """In the job's mount namespace: its own ``/tmp``, the data dir (key pair, store, other jobs) and the
    directories the job user cannot traverse hidden but for what the job needs, then the process becomes
    the job user (``SAGESTACK_JOB_USER``) when the server runs as root. Each outcome is one log line."""
    if layout.visible != OPT_ML:
        print(
            f"sagestack: /tmp is shared and the job's code runs as {_user_name(os.geteuid())} "
            "(no private mount namespace)",
            flush=True,
        )
        return
    spark = layout.root.parent / ".spark" if config.get("spark") else None
    if spark is not None:
        spark.mkdir(exist_ok=True)
    # A warm pool's persistent cache (execution/training/run.py): shared by the pool's jobs, all of them
    # the job user's.
    pool_cache = os.environ.get("SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY")
    shared = [p for p in (spark, Path(pool_cache) if pool_cache else None) if p is not None and p.is_dir()]
    needed = job_sandbox.runtime_paths(config.get("python"))
    uv = _uv_dir()
    if uv:
        needed.append(uv)
    outcome = job_sandbox.confine(
        what="job",
        user_name=os.environ.get("SAGESTACK_JOB_USER", ""),
        tmp=layout.path(".sagestack", "tmp"),
        home=layout.path(".sagestack", "home"),
        own=[layout.root, *shared],
        needed=needed,
        hide=[os.environ.get("SAGESTACK_DATA_DIR")],
    )
    if outcome.user is not None:
        bind_to_server()  # a change of user clears the parent-death signal
    for line in outcome.lines:
        print(f"sagestack: {line}", flush=True)


def _user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _uv_dir() -> str | None:
    from ..environments import find_uv

    uv = find_uv()
    return str(Path(uv).parent) if uv else None


def write_failure(layout: HostLayout, text: str) -> None:
    path = layout.path("output", "failure")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def bind_to_server() -> None:
    """The job dies with the server that started it (Linux): when that process ends, the kernel sends
    this one SIGUSR2 (PR_SET_PDEATHSIG) and the handler kills the job's whole process group — the user's
    script included — so another server that takes the job over (``--cluster``) never races a run
    orphaned here."""
    server = os.environ.get("SAGESTACK_SERVER_PID")
    if not server or sys.platform != "linux":
        return

    def die(*_):
        os.killpg(os.getpgid(0), signal.SIGKILL)

    signal.signal(signal.SIGUSR2, die)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGUSR2)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - best effort
        return
    if os.getppid() != int(server):  # the server died before the line above
        die()


def main() -> int:
    bind_to_server()
    root = Path(os.environ["SAGESTACK_JOB_ROOT"])
    runner = os.environ["SAGESTACK_RUNNER"]
    config = json.loads(os.environ["SAGESTACK_JOB_CONFIG"])
    visible = root
    if os.environ.get("SAGESTACK_PRIVATE_OPT_ML") == "1":
        problem = private_opt_ml(root)
        if problem is None:
            visible = OPT_ML
            print(f"sagestack: {OPT_ML} is this job's own directory (private mount namespace)", flush=True)
            addresses = json.loads(os.environ.get("SAGESTACK_HOST_ADDRESSES") or "{}")
            hosts_problem = bind_hosts(root, config.get("hosts") or ["algo-1"], addresses)
            if hosts_problem:
                print(f"sagestack: host names algo-N do not resolve ({hosts_problem})", flush=True)
        else:
            print(
                f"sagestack: no private {OPT_ML} ({problem}); the job runs with the SM_* paths under {root}",
                flush=True,
            )
    layout = HostLayout(root, visible)
    if config.get("network_isolation"):
        problem = no_network()
        if problem is not None:  # never run a job that asked for isolation with the host's network
            message = (
                f"ClientError: EnableNetworkIsolation is set and this server cannot isolate the job: "
                f"{problem} ({NEEDS})"
            )
            print(f"sagestack: {message}", flush=True)
            write_failure(layout, message)
            return 2
        print(
            "sagestack: network isolation: the job runs in its own network namespace (no network)", flush=True
        )
    private_tmp(layout)
    confine(layout, config)
    if runner == "processing":
        return run_processing(layout, config)
    if runner == "builtin":
        return run_builtin(layout, config)
    cfg_dir = layout.path("input", "config")
    hyperparameters = json.loads((cfg_dir / "hyperparameters.json").read_text())
    input_config = json.loads((cfg_dir / "inputdataconfig.json").read_text())
    resource_config = json.loads((cfg_dir / "resourceconfig.json").read_text())
    program = hyperparameters.get("sagemaker_program")
    program = json.loads(program) if program and program.startswith('"') else program
    env = training_environment(
        layout,
        job_name=config["job_name"],
        hyperparameters=hyperparameters,
        input_config=input_config,
        resource_config=resource_config,
        num_cpus=config["num_cpus"],
        num_gpus=config["num_gpus"],
        region=config["region"],
        program=program,
        job_arn=config.get("job_arn", ""),
    )
    os.environ.update(env)
    os.chdir(layout.visible)
    if runner == "algorithm":
        return run_algorithm(layout, config)
    return run_script(layout, config, hyperparameters, program)


def run_algorithm(layout: HostLayout, config: dict) -> int:
    from ..algorithms import registry
    from ..algorithms.base import AlgorithmClientError, TrainingEnv

    os.environ["SAGESTACK_IMAGE_TAG"] = config.get("image_tag") or ""
    module = registry.load(config["algorithm"])
    try:
        module.train(TrainingEnv.from_root(layout.visible))
    except AlgorithmClientError as exc:
        print(f"ClientError: {exc}", flush=True)
        write_failure(layout, f"ClientError: {exc}")
        return 2
    except Exception as exc:  # an algorithm failure, not the user's
        traceback.print_exc()
        write_failure(layout, f"AlgorithmError: {type(exc).__name__}: {exc}")
        return 1
    return 0


def run_script(layout: HostLayout, config: dict, hyperparameters: dict, program: str | None) -> int:
    code_dir = layout.path("code")
    env = dict(os.environ)
    # The image's framework version (framework_env.py) or the server's Python.
    python = config.get("python") or sys.executable
    if config.get("python"):  # `python`, `pip` in the script: the framework environment's first
        env["PATH"] = os.pathsep.join([str(Path(python).parent), env.get("PATH", os.defpath)])
    deps = layout.path("code", ".sagestack-deps")
    requirements = code_dir / "requirements.txt"
    if requirements.exists() and not config.get("entrypoint"):
        # A per-job layer over the (shared, never changed) environment, first on the script's PYTHONPATH.
        print(f"sagestack: installing {requirements.name}", flush=True)
        result = subprocess.run(
            install_requirements_command(python, deps, requirements),
            stdout=sys.stdout,
            stderr=sys.stdout,
        )
        if result.returncode != 0:
            write_failure(
                layout,
                "ClientError: InstallRequirementsError: pip install -r requirements.txt "
                f"failed with exit code {result.returncode}",
            )
            return result.returncode
    paths = [str(layout.visible / "code")] + ([str(deps)] if deps.exists() else [])
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if config.get("entrypoint"):
        command = list(config["entrypoint"]) + list(config.get("arguments") or [])
        problem = container_problem(layout, command)
        if problem:
            print(f"sagestack: {problem}", flush=True)
            write_failure(layout, problem)
            return 2
        # The container's own runtime (python, pip, sudo, conda) as a venv layered on the image's framework
        # environment (where it has one) and the server's packages.
        env = job_python.environment(layout.path(".sagestack", "venv"), env, config.get("python"))
    else:
        if not program:
            write_failure(layout, "ClientError: no training script: sagemaker_program is not set")
            return 2
        if not (code_dir / program).exists():
            write_failure(
                layout,
                f"ClientError: the training script {program} is not in the source "
                f"directory (sagemaker_submit_directory)",
            )
            return 2
        args = cmd_args(user_hyperparameters(hyperparameters))
        command = (
            [python, program, *args]
            if program.endswith(".py")
            else ["/bin/sh", "-c", " ".join([program, *args])]
        )
    code, message = run_command(command, cwd=str(layout.visible / "code"), env=env)
    if code != 0 and not layout.path("output", "failure").exists():
        write_failure(
            layout,
            f"AlgorithmError: ExecuteUserScriptError:\nExitCode {code}\n"
            f'ErrorMessage "{message}"\nCommand "{" ".join(command)}"',
        )
    return code


def run_builtin(layout: HostLayout, config: dict) -> int:
    """A built-in processing image (the Model Monitor analyzer, Clarify — ``domain.images``
    BUILTIN_PROCESSING_MODULES): its module's ``run_container(root, environ)`` runs in this process with
    the job's environment. Shared by all of them: the first instance alone works when the module says so;
    a stop (SIGTERM) unwinds the program (so that what it holds — Clarify's shadow endpoint — is cleaned
    up); the module's ``CLIENT_ERRORS`` fail the job ``ClientError: …``, anything else
    ``AlgorithmError: …``; ``sagestack_network_isolation`` tells it the job has no network."""
    import importlib

    module = importlib.import_module(config["module"])
    if config.get("entrypoint"):
        print(
            f"sagestack: the image {config.get('image')} ignores ContainerEntrypoint / ContainerArguments",
            flush=True,
        )
    hosts = config.get("hosts") or ["algo-1"]
    resource = layout.path("config", "resourceconfig.json")
    current = json.loads(resource.read_text()).get("current_host") if resource.is_file() else hosts[0]
    if getattr(module, "FIRST_HOST_ONLY", False) and current != hosts[0]:
        print(f"sagestack: the analysis runs on {hosts[0]}; {current} has nothing to do", flush=True)
        return 0
    os.chdir(layout.root)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    environ = {**os.environ, "job_name": config.get("job_name", "")}
    for key in ("SAGESTACK_JOB_ROOT", "SAGESTACK_RUNNER", "SAGESTACK_JOB_CONFIG", "SAGESTACK_PRIVATE_OPT_ML"):
        environ.pop(key, None)
    if config.get("network_isolation"):
        environ["sagestack_network_isolation"] = "1"
    try:
        module.run_container(layout.root, environ)
    except tuple(getattr(module, "CLIENT_ERRORS", ())) as exc:
        print(f"ClientError: {exc}", flush=True)
        write_failure(layout, f"ClientError: {exc}"[:1024])
        return 2
    except Exception as exc:  # the built-in program's failure, not the user's
        traceback.print_exc()
        write_failure(layout, f"AlgorithmError: {type(exc).__name__}: {exc}"[:1024])
        return 1
    return 0


#: The SageMaker SDK's remote-function bootstrap (``@remote``, ``RemoteExecutor``, ``@step``).
REMOTE_FUNCTION_CHANNEL = "sagemaker_remote_function_bootstrap"


def container_problem(layout: HostLayout, command: list[str]) -> str | None:
    """The failure text of an entrypoint that cannot run here (it needs the container's own ``/opt/ml``,
    or a conda environment), else None. The SDK re-raises a ``RuntimeEnvironmentError: …`` reason on the
    caller's side."""
    if not any(REMOTE_FUNCTION_CHANNEL in arg for arg in command):
        return None
    if "--job_conda_env" in command:
        env_name = command[command.index("--job_conda_env") + 1 :][:1]
        return (
            f"ClientError: RuntimeEnvironmentError: job_conda_env {' '.join(env_name)!r} cannot be used: "
            f"conda environments are not available in sagestack; the function runs with the server's "
            f"Python {sys.version_info.major}.{sys.version_info.minor} in a virtual environment layered on "
            f"the server's packages. Remove job_conda_env and give dependencies as a requirements.txt."
        )
    if layout.visible != OPT_ML:
        return (
            "ClientError: RuntimeEnvironmentError: the SageMaker SDK's remote-function runtime "
            f"(job_driver.sh and its bootstrap) uses {OPT_ML} itself, and this job could not get its own "
            f"{OPT_ML} (a private mount namespace needs Linux and a server running as root or with "
            "CAP_SYS_ADMIN); run the server as root (e.g. in its container image)."
        )
    return None


def run_command(command: list[str], *, cwd: str, env: dict) -> tuple[int, str]:
    """Run the job's command, its stderr echoed into the log; (exit code, its last non-empty stderr line)."""
    print("sagestack: invoking " + " ".join(command), flush=True)
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=sys.stdout, stderr=subprocess.PIPE)
    tail: list[str] = []
    assert process.stderr is not None
    for raw in process.stderr:
        line = raw.decode("utf-8", "replace")
        sys.stdout.write(line)
        sys.stdout.flush()
        tail.append(line.rstrip("\n"))
        del tail[:-20]
    code = process.wait()
    return code, next((line for line in reversed(tail) if line.strip()), "")


def run_processing(layout: HostLayout, config: dict) -> int:
    """A processing container: ``ContainerEntrypoint`` + ``ContainerArguments`` with the job's Environment,
    the server's Python first on PATH, ``pip install`` going to a job-private directory."""
    entrypoint = list(config.get("entrypoint") or [])
    if not entrypoint:
        write_failure(
            layout,
            f"ClientError: AppSpecification.ContainerEntrypoint is required here: the image "
            f"{config.get('image')} has no entrypoint sagestack can run (the SDK's processors set "
            f"one; give Processor(entrypoint=[...]) for a plain Processor).",
        )
        return 2
    command = entrypoint + list(config.get("arguments") or [])
    if layout.visible != OPT_ML:  # no private /opt/ml: point the command's /opt/ml paths at the job's root
        command = [
            str(layout.root) + arg[len(str(OPT_ML)) :]
            if arg == str(OPT_ML) or arg.startswith(str(OPT_ML) + "/")
            else arg
            for arg in command
        ]
    env = dict(os.environ)
    for key in ("SAGESTACK_JOB_ROOT", "SAGESTACK_RUNNER", "SAGESTACK_JOB_CONFIG", "SAGESTACK_PRIVATE_OPT_ML"):
        env.pop(key, None)
    deps = layout.visible / ".sagestack" / "pip"
    env["PIP_TARGET"] = str(deps)  # requirements.txt installs stay with the job, not in the server's venv
    env["PYTHONPATH"] = os.pathsep.join([str(deps)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if config.get("python"):  # the image's framework version (framework_env.py): its python first on PATH
        env["PATH"] = os.pathsep.join([str(Path(config["python"]).parent), env.get("PATH", os.defpath)])
    if config.get("spark"):  # the Spark images' smspark-submit, on PATH
        bin_dir = layout.path(".sagestack", "bin")
        bin_dir.mkdir(parents=True, exist_ok=True)
        shim = bin_dir / "smspark-submit"
        shim.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" -m sagestack.execution.processing.smspark_submit "$@"\n'
        )
        shim.chmod(0o755)
        env["PATH"] = os.pathsep.join([str(layout.visible / ".sagestack" / "bin"), env.get("PATH", "")])
        # Where a multi-instance job's instances meet to form the Spark cluster: the job's own directory.
        env["SAGESTACK_SPARK_RENDEZVOUS"] = str(layout.root.parent / ".spark")
    try:
        code, message = run_command(command, cwd=str(layout.visible), env=env)
    except OSError as exc:
        write_failure(layout, f"ClientError: cannot run the ContainerEntrypoint {entrypoint[0]!r}: {exc}")
        return 127
    if code != 0:
        detail = f' ErrorMessage "{message}"' if message else ""
        write_failure(
            layout,
            f"AlgorithmError: See job logs for more information. ExitCode {code}.{detail} "
            f'Command "{" ".join(command)}"',
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
