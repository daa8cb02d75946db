"""Ray and several servers together, run by tests/ray/test_ray_servers.py inside a network namespace with
only loopback up (see cluster.py): a private PostgreSQL, a Ray head and a second node, and two sagestack
servers (A and B: ``--executor ray --cluster``, one database, one data dir). Prints one JSON object: each
scenario's observations (or its error)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [
    str(HERE),
    str(HERE.parent),
    str(HERE.parent / "multiserver"),
    str(HERE.parents[1] / "src"),
]

from cluster import LocalCluster, wait_for  # noqa: E402
from driver import alive, job_actors, job_groups  # noqa: E402
from helpers import ROLE, SKLEARN_IMAGE, tar_gz  # noqa: E402
from sagestack.local_server import ServerProcess  # noqa: E402
from servers_support import CLUSTER_ENV, create_echo_endpoint, invoke, wait_endpoint  # noqa: E402

FINAL = ("Completed", "Failed", "Stopped")
PG_PORT = 55440  # the namespace has its own ports: nothing else listens there

# A job that appends "start <pid> <time> <earlier runs still alive>" to $RUNS_FILE, waits until $RELEASE
# exists, then appends "done <pid> <time>": how often it ran, and whether two runs ever overlapped.
# Its first run also starts a "stray" process in a session of its own, which outlives the run's group.
WAITING_JOB = """
import os, time
path, release = os.environ["RUNS_FILE"], os.environ["RELEASE"]

def running(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False

earlier = [int(line.split()[1]) for line in open(path).read().splitlines()] if os.path.exists(path) else []
if not earlier:  # the first run leaves a process outside its process group (only the job's key finds it)
    import subprocess, sys
    stray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    with open(path, "a") as f:
        f.write(f"stray {stray.pid} {time.time()} 0\\n")
with open(path, "a") as f:
    f.write(f"start {os.getpid()} {time.time()} {sum(running(p) for p in earlier)}\\n")
print("waiting", flush=True)
deadline = time.time() + 180
while not os.path.exists(release) and time.time() < deadline:
    time.sleep(0.2)
with open(path, "a") as f:
    f.write(f"done {os.getpid()} {time.time()} 0\\n")
open("/opt/ml/model/ok.txt", "w").write("ok")
"""


def pid_running(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class Postgres:
    """A private PostgreSQL server (the Debian package's binaries, run as the ``postgres`` user) in a
    temporary directory, on 127.0.0.1 and a unix socket there."""

    def __init__(self, root: Path, port: int = PG_PORT):
        self.root = root
        self.port = port
        self.bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version)[-1])
        self.data = root / "pgdata"
        self.sockets = root / "pgsock"

    def _as_postgres(self, *argv: str) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, timeout=120
        )
        if done.returncode:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout[-1500:]}\n{done.stderr[-1500:]}")

    def start(self) -> str:
        for path in (self.data, self.sockets):
            path.mkdir(parents=True)
            shutil.chown(path, "postgres")
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"
        log = str(self.data / "server.log")
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"
        )
        subprocess.run(
            [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c"]
            + ["CREATE DATABASE sagestack"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/sagestack"

    def stop(self) -> None:
        try:
            self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        except Exception:  # the PID namespace ends it anyway
            pass


def _version(path: str) -> int:
    try:
        return int(Path(path).parent.name.split(".")[0])
    except ValueError:
        return 0


class Scenarios:
    def __init__(self, root: Path, a: ServerProcess, b: ServerProcess):
        self.root = root
        self.cleanup: list[Path] = []  # directories made outside root, removed with it
        self.a, self.b = a, b
        self.bucket = f"rays-{uuid.uuid4().hex[:8]}"
        s3 = a.client("s3")
        s3.create_bucket(Bucket=self.bucket)

    def job(self, server: ServerProcess, script: str, count: int = 1, environment: dict | None = None) -> str:
        name = f"rays-{uuid.uuid4().hex[:10]}"
        key = f"code/{name}/sourcedir.tar.gz"
        server.client("s3").put_object(
            Bucket=self.bucket, Key=key, Body=tar_gz({"train.py": script.encode()})
        )
        server.client("sagemaker").create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
            RoleArn=ROLE,
            OutputDataConfig={"S3OutputPath": f"s3://{self.bucket}/output"},
            ResourceConfig={"InstanceCount": count, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 600},
            Environment=environment or {},
            HyperParameters={
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": json.dumps(f"s3://{self.bucket}/{key}"),
            },
        )
        return name

    @staticmethod
    def wait(server: ServerProcess, name: str, timeout: float = 180) -> dict:
        sm = server.client("sagemaker")
        return wait_for(
            lambda: (d := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] in FINAL and d,
            timeout,
            f"job {name}",
        )

    # -- scenarios ------------------------------------------------------------------------------

    def visible(self) -> dict:
        """A job created on A runs on Ray (its placement group in Ray's state API) and B describes it."""
        script = (
            "import time\nprint('on ray', flush=True)\ntime.sleep(3)\n"
            "open('/opt/ml/model/m.txt', 'w').write('x')\n"
        )
        name = self.job(self.a, script)
        running = wait_for(
            lambda: [g for g in job_groups(name) if g["state"] == "CREATED"], 120, "the job's placement group"
        )
        on_b = self.b.client("sagemaker").describe_training_job(TrainingJobName=name)
        on_a = self.a.client("sagemaker").describe_training_job(TrainingJobName=name)
        desc = self.wait(self.b, name)
        return {
            "group": running[0],
            "b_status_while_running": on_b["TrainingJobStatus"],
            "same_arn": on_b["TrainingJobArn"] == on_a["TrainingJobArn"],
            "status": desc["TrainingJobStatus"],
            "failure": desc.get("FailureReason"),
        }

    def distributed(self) -> dict:
        """A two-instance job created on A: one host on each node."""
        script = (
            "import json, os\nme = os.environ['SM_CURRENT_HOST']\n"
            "info = {'host': me, 'hosts': json.loads(os.environ['SM_HOSTS'])}\n"
            "json.dump(info, open(f'/opt/ml/model/{me}.json', 'w'))\n"
        )
        name = self.job(self.a, script, count=2)
        running = wait_for(
            lambda: [g for g in job_groups(name) if g["state"] == "CREATED" and all(g["nodes"])],
            120,
            "the job's placement group",
        )
        desc = self.wait(self.b, name, 240)
        return {
            "status": desc["TrainingJobStatus"],
            "failure": desc.get("FailureReason"),
            "nodes": running[0]["nodes"],
        }

    def takeover(self) -> dict:
        """A alone creates an endpoint and a job (so it owns both), B joins: the endpoint answers on both.
        Then SIGKILL of A mid-job: its processes on the nodes end, B runs the job again (never two runs at
        once) and completes it, and B replaces the endpoint's instance so it answers again."""
        out: dict = {}
        self.b.stop()  # a clean stop: B's leases go at once
        endpoint = f"rays-ep-{uuid.uuid4().hex[:6]}"
        create_echo_endpoint(self.a, self.bucket, endpoint)
        # outside /tmp and the data dir, writable by the job user: what a job sees (job_sandbox.py)
        shared = Path(tempfile.mkdtemp(prefix="sagestack-rays-", dir="/var/tmp"))
        shared.chmod(0o777)
        self.cleanup.append(shared)
        runs_file = shared / "runs.log"
        release = shared / "release"
        name = self.job(
            self.a, WAITING_JOB, environment={"RUNS_FILE": str(runs_file), "RELEASE": str(release)}
        )
        wait_for(lambda: runs_file.exists() and runs_file.read_text().count("start") == 1, 120, "the run")
        out["endpoint_on_a"] = wait_endpoint(self.a, endpoint)["EndpointStatus"]
        out["answer_a"] = invoke(self.a, endpoint)
        out["actors_a"] = alive(job_actors(endpoint))
        out["groups_before"] = job_groups(name)
        self.b.start(timeout=180)
        sm_b = self.b.client("sagemaker")
        out["b_sees"] = sm_b.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
        out["answer_b"] = wait_for(lambda: _try(lambda: invoke(self.b, endpoint)), 60, "an answer on B")
        lines = runs_file.read_text().splitlines()
        first_pid = int(next(x for x in lines if x.startswith("start")).split()[1])
        stray = int(next(x for x in lines if x.startswith("stray")).split()[1])
        out["stray_running_before"] = pid_running(stray)

        first_tree = _tree_above(first_pid)  # the user's script, the entry, the guard (to the agent)
        killed_at = time.time()
        self.a.stop(sig="KILL")
        out["first_run_ended_after"] = round(
            wait_for(lambda: not pid_running(first_pid) and time.time(), 60, "the first run's end")
            - killed_at,
            1,
        )
        out["first_tree_running"] = [pid for pid in first_tree if pid_running(pid)]
        out["stray_ended_after"] = round(
            wait_for(lambda: not pid_running(stray) and time.time(), 60, "the stray's end") - killed_at, 1
        )
        wait_for(lambda: runs_file.read_text().count("start") == 2, 120, "the second run")
        release.write_text("go")
        desc = self.wait(self.b, name, 180)
        out["status"] = desc["TrainingJobStatus"]
        out["failure"] = desc.get("FailureReason")
        out["secondary"] = [t["Status"] for t in desc["SecondaryStatusTransitions"]]
        out["runs"] = [line.split() for line in runs_file.read_text().splitlines()]
        out["killed_at"] = killed_at
        # the placement groups go just after the job ends (B removes its own as the run finishes)
        deadline = time.monotonic() + 30
        while True:
            out["groups_after"] = job_groups(name)
            if all(g["state"] == "REMOVED" for g in out["groups_after"]) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        out["answer_after"] = wait_for(
            lambda: (
                (x := _try(lambda: invoke(self.b, endpoint)))
                and x.split(":")[1] != out["answer_a"].split(":")[1]
                and x
            ),
            120,
            "an answer from a new instance",
        )
        out["endpoint_after"] = self.b.client("sagemaker").describe_endpoint(EndpointName=endpoint)[
            "EndpointStatus"
        ]
        out["actors_after"] = job_actors(endpoint)
        out["first_tree"] = first_tree
        b_log = self.b.log_path.read_text(errors="replace")
        out["orphans_ended_by_b"] = b_log.count("orphaned process")
        return out


def _tree_above(pid: int) -> list[int]:
    """The pid and its ancestors up to (not including) the Ray worker that runs the node agent."""
    import psutil

    chain = []
    while pid > 1:
        try:
            process = psutil.Process(pid)
            if process.cmdline()[:1] and process.cmdline()[0].startswith("ray::"):
                break
            chain.append(pid)
            pid = process.ppid()
        except psutil.Error:
            break
    return chain


def _try(call):
    try:
        return call()
    except Exception:
        return None


def main() -> None:
    wanted = sys.argv[1:] or ["visible", "distributed", "takeover"]
    results: dict = {}
    root = Path(tempfile.mkdtemp(prefix="sagestack-rays-"))
    os.chmod(root, 0o755)  # the postgres user reaches its directories under it
    postgres = Postgres(root)
    cluster = LocalCluster(root / "ray")
    servers: list[ServerProcess] = []
    scenarios = None
    try:
        started = time.monotonic()
        url = postgres.start()
        cluster.start_head()
        cluster.add_node()
        results["setup_seconds"] = round(time.monotonic() - started, 1)
        import ray

        ray.init(address=cluster.address, log_to_driver=False)
        results["nodes"] = len([n for n in ray.nodes() if n["Alive"]])
        for label in ("a", "b"):
            server = ServerProcess(
                root / "data",
                database_url=url,
                extra_env={**cluster.env, **CLUSTER_ENV, "SAGESTACK_LOG_LEVEL": "info"},
            )
            server.log_path = root / f"server-{label}.log"
            server.extra_args = ["--executor", "ray", "--ray-address", cluster.address, "--cluster", "true"]
            servers.append(server.start(timeout=180))
        scenarios = Scenarios(root, *servers)
        for scenario in wanted:
            begun = time.monotonic()
            try:
                results[scenario] = getattr(scenarios, scenario)()
            except Exception as exc:
                results[scenario] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
            results[f"{scenario}_seconds"] = round(time.monotonic() - begun, 1)
    finally:
        for label, server in zip("ab", servers, strict=False):
            server.stop()
            if server.log_path.exists():
                results[f"server_{label}_log_tail"] = server.log_path.read_text(errors="replace")[-4000:]
        cluster.stop()
        postgres.stop()
        for path in [root, *(scenarios.cleanup if scenarios is not None else [])]:
            shutil.rmtree(path, ignore_errors=True)
    print("RESULTS " + json.dumps(results, default=str))


if __name__ == "__main__":
    main()
