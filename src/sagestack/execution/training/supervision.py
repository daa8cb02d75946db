"""Supervision of a training run: one process per host (``python -m sagestack.execution.entry``), their
output streamed to the log store (and the metric scraper), stops and time limits enforced, process trees
ended."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ...domain.images import ImageInfo
from ..layout import inherited_environment
from ..processes import kill_tree
from ..storage import JobStorage
from .job import HostProcess, StopRequest
from .metrics import MetricCollector

log = logging.getLogger("sagestack.training")

STOP_GRACE_SECONDS = 5.0
#: The longest a line of job output waits before it is stored in the job's log stream.
LOG_FLUSH_SECONDS = 0.3
#: The source tree the job processes import sagestack from (src/, above the package).
SOURCE_ROOT = str(Path(__file__).resolve().parents[3])


def launch(
    host: HostProcess,
    *,
    data: dict,
    name: str,
    region: str,
    runner: str,
    image: ImageInfo,
    cpus: int,
    gpus: int,
    host_names: list[str],
    algorithm_repo: str | None,
    storage: JobStorage,
    log_group: str,
    metrics: MetricCollector,
    aws_env: dict[str, str] | None = None,
    client_dir: str | None = None,
    environment: dict[str, str] | None = None,
    python: str | None = None,
) -> None:
    """Start the host's process, and the thread that streams its output. ``aws_env``: how the job's code
    reaches the server (endpoint, credentials); ``client_dir``: the client plugin's folder, put on the
    job's PYTHONPATH; ``environment``: variables the platform sets beyond the job's own Environment;
    ``python``: the interpreter of the user's script (the image's framework version; None: the server's)."""
    algorithm = data["AlgorithmSpecification"]
    config = {
        "job_name": name,
        "num_cpus": cpus,
        "num_gpus": gpus,
        "region": region,
        "network_isolation": bool(data.get("EnableNetworkIsolation")),
        "algorithm": algorithm_repo,
        "image_tag": image.tag,
        "entrypoint": algorithm.get("ContainerEntrypoint"),
        "arguments": algorithm.get("ContainerArguments"),
        "hosts": host_names,
        "job_arn": data.get("TrainingJobArn", ""),
        "python": python,
    }
    spawn(
        host,
        runner=runner,
        config=config,
        environment={**(data.get("Environment") or {}), **(environment or {})},
        cpus=cpus,
        storage=storage,
        log_group=log_group,
        metrics=metrics,
        name=name,
        aws_env=aws_env,
        client_dir=client_dir,
    )


def spawn(
    host: HostProcess,
    *,
    runner: str,
    config: dict,
    environment: dict | None,
    cpus: int,
    storage: JobStorage,
    log_group: str,
    metrics: MetricCollector,
    name: str,
    aws_env: dict[str, str] | None = None,
    client_dir: str | None = None,
) -> None:
    """Start ``python -m sagestack.execution.entry`` for one host of a job (training or processing: the
    ``runner`` says which contract the entry sets up), and the thread that streams its output."""
    env = inherited_environment()
    env.update(aws_env or {})
    env.update(environment or {})
    env.update(
        {
            "SAGESTACK_JOB_ROOT": str(host.layout.root),
            "SAGESTACK_RUNNER": runner,
            "SAGESTACK_JOB_CONFIG": json.dumps(config),
            "SAGESTACK_PRIVATE_OPT_ML": "1",
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": str(cpus),
        }
    )
    # Scripts that call `python`/`python3`/`pip` get the server's interpreter and its packages.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    env["PYTHONPATH"] = os.pathsep.join(
        [SOURCE_ROOT]
        + ([client_dir] if client_dir else [])
        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    if host.peers:
        env["SAGESTACK_HOST_ADDRESSES"] = json.dumps(host.peers)
    if host.launcher is None:  # a child of this server dies with it (entry.py); not one on a Ray node
        env["SAGESTACK_SERVER_PID"] = str(os.getpid())
    start_process(
        host,
        [sys.executable, "-m", "sagestack.execution.entry"],
        env=env,
        cwd=str(host.layout.root),
        storage=storage,
        log_group=log_group,
        metrics=metrics,
        name=name,
    )


def start_process(
    host: HostProcess,
    command: list[str],
    *,
    env: dict[str, str],
    cwd: str,
    storage: JobStorage,
    log_group: str,
    metrics: MetricCollector,
    name: str,
) -> None:
    """Start the host's process (its launcher's: a child of the server by default, or on a cluster node)
    and the thread that streams its output to the log."""
    host.process = (host.launcher or start_local)(command, env, cwd)
    host.reader = threading.Thread(
        target=_pump,
        args=(storage, log_group, host, metrics, name),
        daemon=True,
        name=f"log-{name}-{host.host}",
    )
    host.reader.start()


def start_local(argv: list[str], env: dict[str, str], cwd: str) -> subprocess.Popen:
    """A host's process as a child of the server (its own session, output on a pipe)."""
    return subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def log_line(storage: JobStorage, log_group: str, host: HostProcess, message: str) -> None:
    """One line of sagestack's own in the host's log stream."""
    try:
        storage.append_logs(log_group, host.stream, [(int(time.time() * 1000), message)])
    except Exception:
        log.debug("log append failed", exc_info=True)


def _pump(
    storage: JobStorage, log_group: str, host: HostProcess, metrics: MetricCollector, name: str
) -> None:
    """Job output → the log store (batched, live) and the metric regexes. Lines wait at most
    :data:`LOG_FLUSH_SECONDS` before they are stored, also when the process then prints nothing for a
    while (a ticker thread flushes them; batches are stored in order)."""
    assert host.process is not None and host.process.stdout is not None
    buffer: list[tuple[int, str]] = []
    buffered = threading.Lock()  # guards ``buffer``
    sending = threading.Lock()  # one batch stored at a time, in order
    done = threading.Event()
    dimension = f"{name}/{host.host}"

    def flush() -> None:
        nonlocal buffer
        with sending:
            with buffered:
                events, buffer = buffer, []
            _flush_logs(storage, log_group, host, events, name)

    def tick() -> None:
        while not done.wait(LOG_FLUSH_SECONDS):
            if buffer:
                flush()

    threading.Thread(target=tick, daemon=True, name=f"log-flush-{name}-{host.host}").start()
    try:
        for raw in host.process.stdout:
            if not raw:  # b"": a remote process's idle read
                continue
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with buffered:
                buffer.append((int(time.time() * 1000), line))
            if metrics.definitions:
                metrics.scan(line, dimension)
            if len(buffer) >= 500:
                flush()
    finally:
        done.set()
        flush()


def _flush_logs(
    storage: JobStorage, log_group: str, host: HostProcess, events: list[tuple[int, str]], name: str
) -> None:
    if not events:
        return
    try:
        storage.append_logs(log_group, host.stream, events)
    except Exception:
        log.warning("could not store log lines of %s", name, exc_info=True)


def supervise(
    hosts: list[HostProcess],
    stopping_condition: dict,
    created: float,
    training_start: float,
    stop: StopRequest,
    interrupting: Callable[[], bool],
    periodic: list[tuple[float, Callable[[], None]]],
) -> list[int]:
    """Wait for every host's process, enforcing ``MaxRuntimeInSeconds`` / ``MaxWaitTimeInSeconds`` and stop
    requests (SIGTERM, then SIGKILL after a grace period); one failed host stops the others. ``periodic``:
    (seconds, task) pairs run while waiting (checkpoint sync, metric flush). Returns the exit codes ([] when
    the server is going down)."""
    max_runtime = stopping_condition.get("MaxRuntimeInSeconds", 86400)
    max_wait = stopping_condition.get("MaxWaitTimeInSeconds")
    last_run = [time.monotonic()] * len(periodic)
    killed_at: float | None = None
    while True:
        codes = [h.process.poll() for h in hosts if h.process]
        if all(code is not None for code in codes):
            break
        now = time.time()
        if stop.reason is None:
            if now - training_start > max_runtime:
                stop.request("MaxRuntimeExceeded")
            elif max_wait and now - created > max_wait:
                stop.request("MaxWaitTimeExceeded")
            elif interrupting():
                return []
        if stop.is_set():
            if killed_at is None:
                killed_at = now
                signal_all(hosts, signal.SIGTERM)
            elif now - killed_at > STOP_GRACE_SECONDS:
                signal_all(hosts, signal.SIGKILL)
        if any(code not in (None, 0) for code in codes) and len(codes) > 1 and killed_at is None:
            # One host failed: the job fails; stop the others.
            killed_at = now
            signal_all(hosts, signal.SIGTERM)
        for index, (every, task) in enumerate(periodic):
            if time.monotonic() - last_run[index] > every:
                task()
                last_run[index] = time.monotonic()
        stop.event.wait(0.1)
    for host in hosts:
        if host.reader:
            host.reader.join(timeout=10)
    signal_all(hosts, signal.SIGKILL)  # leftovers of the process groups
    return [h.process.returncode for h in hosts if h.process]


def signal_all(hosts: list[HostProcess], sig: int) -> None:
    for host in hosts:
        if host.process is None:
            continue
        if host.container and host.engine is not None and host.process.poll() is None:
            # the container itself: its engine client only waits on it
            host.engine.kill(host.container, "KILL" if sig == signal.SIGKILL else "TERM")
        if host.remote:  # on a cluster node: its agent signals the tree there
            host.process.send_signal(sig)
        else:
            kill_tree(host.process.pid, sig)
