"""``smspark-submit`` for the Spark processing images, where pyspark and a Java runtime are installed:
``python -m sagestack.execution.processing.smspark_submit [options] app [args]``.

What the SageMaker Spark container's ``smspark-submit`` does, in Spark's local mode on the first host:
``--py-files``/``--jars``/``--files`` (local paths; the SDK delivers local dependencies as inputs),
``--class``, ``--local-spark-event-logs-dir`` (event logs there, uploaded by the job's Continuous output),
and the ``spark-defaults`` classification of ``/opt/ml/processing/input/conf/configuration.json`` as
``--conf``. The other hosts of a multi-instance job have nothing to do (there is no Spark cluster) and exit 0.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

OPTIONS = ("--py-files", "--jars", "--files", "--class", "--local-spark-event-logs-dir")
CONFIG = Path("/opt/ml/processing/input/conf/configuration.json")
RESOURCES = Path("/opt/ml/config/resourceconfig.json")


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


def build_command(argv: list[str], *, spark_submit: str, cores: int) -> list[str]:
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
    command = [spark_submit, "--master", f"local[{cores}]"]
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


def main(argv: list[str]) -> int:
    if RESOURCES.is_file():
        resources = json.loads(RESOURCES.read_text())
        if resources["current_host"] != resources["hosts"][0]:
            print(
                f"smspark-submit: {resources['current_host']}: Spark runs in local mode on "
                f"{resources['hosts'][0]}; nothing to do on this instance",
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
    command = build_command(argv, spark_submit=str(spark_submit), cores=cores)
    print("smspark-submit: " + " ".join(command), flush=True)
    os.execv(command[0], command)
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
