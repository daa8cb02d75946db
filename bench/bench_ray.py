"""The Ray executor: job start overhead against the local executor, and capacity growing with nodes.

    python -m bench.bench_ray [--repeat 5] [--nodes 3]

Runs itself inside a network namespace with only loopback up and its own PID namespace (needs root; see
tests/ray/cluster.py), with a local Ray cluster of one-CPU nodes:

(1) a trivial training job, CreateTrainingJob → Completed, on a server with the local executor and on one
    with ``--executor ray`` (aim: Ray adds at most 1 s);
(2) with N one-CPU nodes (N = 1 … --nodes), N + 1 one-instance jobs that each sleep a few seconds: how
    many ran at once (should be N: the rest queue) and the wall time.

On one machine extra nodes add no cores; (2) shows the executor's accounting and Ray's placement, not a
speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
INSIDE = "SAGESTACK_BENCH_RAY_INSIDE"


def _cluster_module():
    sys.path.insert(0, str(ROOT / "tests" / "ray"))
    import cluster

    return cluster


def start_job(server, bucket: str, script: str) -> str:
    from .common import tar_gz

    s3, sm = server.client("s3"), server.client("sagemaker")
    name = f"bench-{uuid.uuid4().hex[:10]}"
    key = f"code/{name}/sourcedir.tar.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=tar_gz({"train.py": script}))
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/out"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{key}"),
        },
    )
    return name


def wait_done(server, names: list[str], on_poll=None) -> dict[str, dict]:
    sm = server.client("sagemaker")
    done: dict[str, dict] = {}
    while len(done) < len(names):
        states = {n: sm.describe_training_job(TrainingJobName=n) for n in names if n not in done}
        if on_poll is not None:
            on_poll(states)
        for name, desc in states.items():
            if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
                assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
                done[name] = desc
        time.sleep(0.05)
    return done


def bucket_on(server) -> str:
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    server.client("s3").create_bucket(Bucket=bucket)
    return bucket


def overhead(servers: dict, repeat: int) -> list[list]:
    from .common import median

    script = "print('hello from a trivial training script')\n"
    times: dict[str, list[float]] = {kind: [] for kind in servers}
    buckets = {kind: bucket_on(server) for kind, server in servers.items()}
    for _ in range(repeat):
        for kind, server in servers.items():  # interleaved: load changes hit both alike
            started = time.perf_counter()
            wait_done(server, [start_job(server, buckets[kind], script)])
            times[kind].append(time.perf_counter() - started)
    local = median(times["local"])
    return [
        [kind, f"{median(values):.2f}", f"{min(values):.2f}", f"{median(values) - local:+.2f}"]
        for kind, values in times.items()
    ]


def capacity(server, cluster, max_nodes: int, sleep_s: float) -> list[list]:
    import ray

    rows = []
    bucket = bucket_on(server)
    script = f"import time\ntime.sleep({sleep_s})\n"
    for nodes in range(1, max_nodes + 1):
        while len([n for n in ray.nodes() if n["Alive"]]) < nodes:
            cluster.add_node()
        time.sleep(1.0)
        peak = [0]

        def count(states: dict, peak: list = peak) -> None:
            running = sum(1 for d in states.values() if d.get("SecondaryStatus") == "Training")
            peak[0] = max(peak[0], running)

        started = time.perf_counter()
        names = [start_job(server, bucket, script) for _ in range(nodes + 1)]
        wait_done(server, names, count)
        rows.append([nodes, nodes + 1, peak[0], f"{time.perf_counter() - started:.1f}"])
    return rows


def inside(args) -> None:
    from sagestack.local_server import ServerProcess

    from .common import table

    cluster_mod = _cluster_module()
    root = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    cluster = cluster_mod.LocalCluster(root / "ray")
    servers: dict[str, ServerProcess] = {}
    try:
        cluster.start_head()
        import ray

        ray.init(address=cluster.address, log_to_driver=False)
        servers["local"] = ServerProcess(root / "local", extra_env=cluster.env).start(timeout=90)
        ray_server = ServerProcess(root / "ray-server", extra_env=cluster.env)
        ray_server.extra_args = ["--executor", "ray", "--ray-address", cluster.address]
        servers["ray"] = ray_server.start(timeout=90)
        print(
            table(
                f"Trivial training job, CreateTrainingJob → Completed (median of {args.repeat})",
                ["executor", "median s", "best s", "vs local"],
                overhead(servers, args.repeat),
            ),
            flush=True,
        )
        print(
            table(
                f"Capacity: N one-CPU nodes, N + 1 jobs of {args.sleep:g} s each",
                ["nodes", "jobs", "ran at once (peak)", "wall s"],
                capacity(servers["ray"], cluster, args.nodes, args.sleep),
            ),
            flush=True,
        )
    finally:
        for server in servers.values():
            server.stop()
        cluster.stop()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=4.0)
    args = parser.parse_args(argv)
    if os.environ.get(INSIDE):
        return inside(args)
    if os.geteuid() != 0:
        print("bench_ray needs root (network and PID namespaces); skipped")
        return None
    cluster_mod = _cluster_module()
    env = {**os.environ, INSIDE: "1"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    done = cluster_mod.isolated([sys.executable, "-m", "bench.bench_ray", *argv], timeout=1800, env=env)
    sys.stdout.write(done.stdout)
    if done.returncode:
        sys.stdout.write(done.stderr[-3000:])
    return None


if __name__ == "__main__":
    main(sys.argv[1:])
