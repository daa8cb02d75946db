"""``smspark-submit`` for the Spark processing images, where pyspark and a Java runtime are installed:
``python -m sagestack.execution.processing.smspark_submit [options] app [args]``.

What the SageMaker Spark container's ``smspark-submit`` does: ``--py-files``/``--jars``/``--files`` (local
paths; the SDK delivers local dependencies as inputs), ``--class``, ``--local-spark-event-logs-dir`` (event
logs there, uploaded by the job's Continuous output), and the ``spark-defaults`` classification of
``/opt/ml/processing/input/conf/configuration.json`` as ``--conf``.

One instance: Spark's local mode. Several: a Spark standalone cluster across the job's instances — the
master on ``algo-1`` (port 7077, or a free one when another job holds it), a worker on every instance
(each in its own ``/opt/ml``), the application submitted to ``spark://algo-1:<port>`` from ``algo-1``. The
instances meet through the job's shared directory (``SAGESTACK_SPARK_RENDEZVOUS``): ``master`` holds the
master's URL, ``done`` tells the workers the application ended. Without resolvable ``algo-N`` names (no
private namespace) it falls back to local mode on the first instance.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

OPTIONS = ("--py-files", "--jars", "--files", "--class", "--local-spark-event-logs-dir")
CONFIG = Path("/opt/ml/processing/input/conf/configuration.json")
RESOURCES = Path("/opt/ml/config/resourceconfig.json")
RENDEZVOUS_ENV = "SAGESTACK_SPARK_RENDEZVOUS"
MASTER_PORT = 7077
#: How long the instances wait for each other (the master's start, the workers' registration).
MEET_SECONDS = 120.0


def spark_submit_path() -> Path | None:
    """pyspark's ``spark-submit`` when pyspark is importable, else None."""
    spec = importlib.util.find_spec("pyspark")  # found, not imported
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "spark-submit"
    return path if path.exists() else None


def missing() -> str | None:
    """What this machine lacks to run Spark processing (None: nothing)."""
    lacks = [
        what
        for what, ok in (
            ("pyspark", spark_submit_path() is not None),
            ("a Java runtime (java on PATH)", shutil.which("java") is not None),
        )
        if not ok
    ]
    return " and ".join(lacks) if lacks else None


def build_command(
    argv: list[str], *, spark_submit: str, cores: int, master: str | None = None, host: str | None = None
) -> list[str]:
    options: dict[str, str] = {}
    rest = list(argv)
    while rest and rest[0] in OPTIONS + ("-v", "--verbose"):
        flag = rest.pop(0)
        if flag in OPTIONS:
            if not rest:
                raise SystemExit(f"smspark-submit: {flag} needs a value")
            options[flag] = rest.pop(0)
    if not rest:
        raise SystemExit("smspark-submit: no application (a .py file or a jar) given")
    app, app_args = rest[0], rest[1:]
    command = [spark_submit, "--master", master or f"local[{cores}]"]
    if host:  # the driver, on algo-1, reachable by the executors
        command += ["--conf", f"spark.driver.host={host}"]
    for flag in ("--py-files", "--jars", "--files"):
        if flag in options:
            values = options[flag].split(",")
            remote = [v for v in values if v.startswith(("s3://", "s3a://"))]
            if remote:
                raise SystemExit(
                    f"smspark-submit: {flag} {', '.join(remote)}: S3 dependencies are not fetched "
                    f"here; pass local files (the SDK then delivers them as inputs)"
                )
            command += [flag, ",".join(values)]
    if "--class" in options:
        command += ["--class", options["--class"]]
    events = options.get("--local-spark-event-logs-dir")
    if events:
        Path(events).mkdir(parents=True, exist_ok=True)
        command += ["--conf", "spark.eventLog.enabled=true", "--conf", f"spark.eventLog.dir=file://{events}"]
    if CONFIG.is_file():
        for item in json.loads(CONFIG.read_text()):
            if item.get("Classification") == "spark-defaults":
                for key, value in (item.get("Properties") or {}).items():
                    command += ["--conf", f"{key}={value}"]
            else:
                print(
                    f"smspark-submit: configuration classification {item.get('Classification')!r} is not "
                    f"applied (local mode)",
                    flush=True,
                )
    return command + [app, *app_args]


def _free_port(host: str, preferred: int = 0) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise OSError(f"no free port on {host}")


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def _alive_workers(host: str, web_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://{host}:{web_port}/json/", timeout=2.0) as response:
            return int(json.load(response).get("aliveworkers", 0))
    except (OSError, ValueError):
        return 0


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _worker(spark_class: str, master: str, host: str, cores: int) -> subprocess.Popen:
    work = Path("/opt/ml/.sagestack/spark-work")
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", host, "--cores", str(cores)]
        + ["--work-dir", str(work), master]
    )


def _spark_env(spark_submit: Path) -> None:
    os.environ.setdefault("SPARK_HOME", str(spark_submit.parent.parent))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # every algo-N is this machine


def run_master(argv, spark_submit: Path, hosts: list[str], cores: int, meet: Path) -> int:
    """algo-1: the master, a worker, the application; then the workers are told to go."""
    host, spark_class = hosts[0], str(spark_submit.parent / "spark-class")
    port, web_port = _free_port(host, MASTER_PORT), _free_port(host)
    master_url = f"spark://{host}:{port}"
    master = subprocess.Popen(
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", host, "--port", str(port)]
        + ["--webui-port", str(web_port)]
    )
    processes = [master]
    try:
        if not _wait(lambda: _listening(host, port) or master.poll() is not None, MEET_SECONDS):
            print(f"smspark-submit: the Spark master did not start on {master_url}", file=sys.stderr)
            return 1
        meet.mkdir(parents=True, exist_ok=True)
        (meet / "master.tmp").write_text(master_url)
        (meet / "master.tmp").rename(meet / "master")
        processes.append(_worker(spark_class, master_url, host, cores))
        if _wait(lambda: _alive_workers(host, web_port) >= len(hosts), MEET_SECONDS):
            print(f"smspark-submit: {len(hosts)} Spark workers registered with {master_url}", flush=True)
        else:
            print(
                f"smspark-submit: only {_alive_workers(host, web_port)} of {len(hosts)} Spark workers "
                f"registered with {master_url}; submitting anyway",
                flush=True,
            )
        command = build_command(
            argv, spark_submit=str(spark_submit), cores=cores, master=master_url, host=host
        )
        print("smspark-submit: " + " ".join(command), flush=True)
        return subprocess.call(command)
    finally:
        meet.mkdir(parents=True, exist_ok=True)
        (meet / "done").touch()
        for process in reversed(processes):
            _stop(process)


def run_worker(spark_submit: Path, host: str, cores: int, meet: Path) -> int:
    """algo-2 …: a worker for the master on algo-1, until the application ends."""
    if not _wait(lambda: (meet / "master").is_file() or (meet / "done").exists(), MEET_SECONDS):
        print(f"smspark-submit: {host}: no Spark master on algo-1 after {MEET_SECONDS:.0f}s", file=sys.stderr)
        return 1
    if (meet / "done").exists():
        return 0
    master_url = (meet / "master").read_text()
    worker = _worker(str(spark_submit.parent / "spark-class"), master_url, host, cores)
    print(f"smspark-submit: {host}: Spark worker for {master_url}", flush=True)
    try:
        while not (meet / "done").exists() and worker.poll() is None:
            time.sleep(0.5)
    finally:
        _stop(worker)
    return 0


def _resolvable(hosts: list[str]) -> bool:
    try:
        return all(socket.gethostbyname(h) for h in hosts)
    except OSError:
        return False


def main(argv: list[str]) -> int:
    resources = json.loads(RESOURCES.read_text()) if RESOURCES.is_file() else None
    hosts = resources["hosts"] if resources else []
    current = resources["current_host"] if resources else None
    meet = Path(os.environ[RENDEZVOUS_ENV]) if os.environ.get(RENDEZVOUS_ENV) else None
    cluster = len(hosts) > 1 and meet is not None and _resolvable(hosts)
    if len(hosts) > 1 and not cluster and current != hosts[0]:
        print(
            f"smspark-submit: {current}: the algo-N names do not resolve here; Spark runs in local mode on "
            f"{hosts[0]}; nothing to do on this instance",
            flush=True,
        )
        return 0
    spark_submit = spark_submit_path()
    lacking = missing()
    if spark_submit is None or lacking:
        print(
            f"Spark processing images need pyspark and a Java runtime: this machine lacks {lacking}",
            file=sys.stderr,
            flush=True,
        )
        return 127
    cores = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    if cluster:
        _spark_env(spark_submit)
        if current == hosts[0]:
            return run_master(argv, spark_submit, hosts, cores, meet)
        return run_worker(spark_submit, current, cores, meet)
    command = build_command(argv, spark_submit=str(spark_submit), cores=cores)
    print("smspark-submit: " + " ".join(command), flush=True)
    os.execv(command[0], command)
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
