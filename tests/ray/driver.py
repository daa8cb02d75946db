"""The Ray cluster scenarios, run by tests/ray/test_ray_cluster.py inside a network namespace with only
loopback up (see cluster.py): a head and a second node, a sagestack server with ``--executor ray``, then
the scenarios through boto3. Prints one JSON object: each scenario's observations (or its error)."""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "hosting"), str(HERE.parents[1] / "src")]

from cluster import LocalCluster, wait_for  # noqa: E402
from helpers import (  # noqa: E402
    ROLE,
    SKLEARN_IMAGE,
    log_text,
    processing_input,
    processing_output,
    read_tar_gz,
    tar_gz,
)
from hosting_support import Hosting  # noqa: E402
from sagestack.local_server import ServerProcess  # noqa: E402

FINAL = ("Completed", "Failed", "Stopped")


def job_actors(name: str, class_name: str = "WorkerAgent") -> list[dict]:
    """An endpoint's instance actors from Ray's state API, as dicts."""
    from ray.util.state import list_actors

    return [
        {"name": a.name, "state": a.state, "node_id": a.node_id, "class_name": a.class_name}
        for a in list_actors(filters=[("class_name", "=", class_name)], limit=1000, detail=False)
        if f"/{name}/" in (a.name or "")
    ]


def job_groups(name: str) -> list[dict]:
    """A job's placement groups (one per attempt) from Ray's state API: state and each bundle's node."""
    from ray.util.state import list_placement_groups

    return [
        {
            "name": g.name,
            "state": g.state,
            "strategy": g.topology_strategy if hasattr(g, "topology_strategy") else None,
            "nodes": [b.get("node_id") for b in g.bundles or []],
        }
        for g in list_placement_groups(limit=1000, detail=True)
        if (g.name or "").endswith(f"/{name}")
    ]


def node_agents() -> list[dict]:
    from ray.util.state import list_actors

    return [
        {"name": a.name, "state": a.state, "node_id": a.node_id}
        for a in list_actors(filters=[("class_name", "=", "NodeAgent")], limit=1000, detail=False)
    ]


def alive(actors: list[dict]) -> list[dict]:
    return [a for a in actors if a["state"] == "ALIVE"]


class Scenarios:
    def __init__(self, server: ServerProcess, cluster: LocalCluster):
        self.server = server
        self.cluster = cluster
        self.sm = server.client("sagemaker")
        self.s3 = server.client("s3")
        self.logs = server.client("logs")
        self.bucket = f"ray-{uuid.uuid4().hex[:8]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_object(Bucket=self.bucket, Key="data/train/part-0.csv", Body=b"1,2,3\n")

    def job(self, script: str, count: int = 1, **overrides) -> str:
        name = f"ray-{uuid.uuid4().hex[:10]}"
        key = f"code/{name}/sourcedir.tar.gz"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=tar_gz({"train.py": script.encode()}))
        params = dict(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
            RoleArn=ROLE,
            InputDataConfig=[
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{self.bucket}/data/train",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
            OutputDataConfig={"S3OutputPath": f"s3://{self.bucket}/output"},
            ResourceConfig={"InstanceCount": count, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
            StoppingCondition={"MaxRuntimeInSeconds": 600},
            HyperParameters={
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": json.dumps(f"s3://{self.bucket}/{key}"),
            },
        )
        params.update(overrides)
        self.sm.create_training_job(**params)
        return name

    def describe(self, name: str) -> dict:
        return self.sm.describe_training_job(TrainingJobName=name)

    def wait(self, name: str, timeout: float = 180) -> dict:
        return wait_for(
            lambda: (d := self.describe(name))["TrainingJobStatus"] in FINAL and d, timeout, f"job {name}"
        )

    def log_text(self, name: str) -> str:
        streams = self.logs.describe_log_streams(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
        )["logStreams"]
        lines = []
        for stream in streams:
            events = self.logs.get_log_events(
                logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"]
            )["events"]
            lines += [e["message"] for e in events]
        return "\n".join(lines)

    # -- scenarios ------------------------------------------------------------------------------

    def training(self) -> dict:
        script = (
            "import os\nprint('hello from', os.environ['SM_CURRENT_HOST'], flush=True)\n"
            "open('/opt/ml/model/model.txt', 'w').write('trained')\nprint('loss: 0.25', flush=True)\n"
        )
        name = self.job(
            script,
            AlgorithmSpecification={
                "TrainingImage": SKLEARN_IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "loss", "Regex": "loss: ([0-9.]+)"}],
            },
        )
        desc = self.wait(name)
        files = read_tar_gz(
            self.s3.get_object(Bucket=self.bucket, Key=f"output/{name}/output/model.tar.gz")["Body"].read()
        )
        return {
            "status": desc["TrainingJobStatus"],
            "failure": desc.get("FailureReason"),
            "model": files.get("model.txt", b"").decode(),
            "metrics": desc.get("FinalMetricDataList"),
            "log_has_hello": "hello from algo-1" in self.log_text(name),
            "groups": job_groups(name),
            "agents": node_agents(),
        }

    def distributed(self) -> dict:
        """Two instances: torch.distributed (gloo) through SM_HOSTS / SM_CURRENT_HOST and algo-1."""
        port = 29000 + int(hashlib.sha256(uuid.uuid4().bytes).hexdigest(), 16) % 1000
        script = f"""
import json, os, socket
import torch, torch.distributed as dist
hosts = json.loads(os.environ["SM_HOSTS"]); me = os.environ["SM_CURRENT_HOST"]
os.environ["MASTER_ADDR"] = hosts[0]; os.environ["MASTER_PORT"] = "{port}"
dist.init_process_group("gloo", rank=hosts.index(me), world_size=len(hosts))
t = torch.tensor([float(hosts.index(me) + 1)]); dist.all_reduce(t)
info = {{"host": me, "hosts": hosts, "sum": t.item(), "peers": {{h: socket.gethostbyname(h) for h in hosts}}}}
print("ddp", json.dumps(info), flush=True)
json.dump(info, open(f"/opt/ml/model/{{me}}.json", "w"))
dist.destroy_process_group()
"""
        name = self.job(script, count=2)
        running = wait_for(
            lambda: [g for g in job_groups(name) if g["state"] == "CREATED" and all(g["nodes"])],
            120,
            "the job's placement group",
        )
        desc = self.wait(name, 240)
        files = {}
        if desc["TrainingJobStatus"] == "Completed":
            data = self.s3.get_object(Bucket=self.bucket, Key=f"output/{name}/output/model.tar.gz")
            files = {k: json.loads(v) for k, v in read_tar_gz(data["Body"].read()).items()}
        return {
            "status": desc["TrainingJobStatus"],
            "failure": desc.get("FailureReason"),
            "billable": desc.get("BillableTimeInSeconds"),
            "seconds": desc.get("TrainingTimeInSeconds"),
            "files": files,
            "group": running[0],
        }

    def processing(self) -> dict:
        """A processing job: its instance is a Ray actor too; output uploaded from /opt/ml/processing."""
        name = f"ray-proc-{uuid.uuid4().hex[:8]}"
        code = f"code/{name}/script.py"
        script = (
            "import os\nos.makedirs('/opt/ml/processing/output/out', exist_ok=True)\n"
            "open('/opt/ml/processing/output/out/result.txt', 'w').write('processed')\nprint('processed', flush=True)\n"
        )
        self.s3.put_object(Bucket=self.bucket, Key=code, Body=script.encode())
        self.sm.create_processing_job(
            ProcessingJobName=name,
            ProcessingResources={
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}
            },
            AppSpecification={
                "ImageUri": SKLEARN_IMAGE,
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/script.py"],
            },
            RoleArn=ROLE,
            ProcessingInputs=[
                processing_input("code", f"s3://{self.bucket}/{code}", "/opt/ml/processing/input/code")
            ],
            ProcessingOutputConfig={
                "Outputs": [
                    processing_output(
                        "out", f"s3://{self.bucket}/processed/{name}", "/opt/ml/processing/output/out"
                    )
                ]
            },
        )
        desc = wait_for(
            lambda: (
                (d := self.sm.describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"] in FINAL
                and d
            ),
            180,
            f"processing job {name}",
        )
        body = self.s3.get_object(Bucket=self.bucket, Key=f"processed/{name}/result.txt")["Body"].read()
        return {
            "status": desc["ProcessingJobStatus"],
            "failure": desc.get("FailureReason"),
            "result": body.decode(),
            "groups": [g["name"] for g in job_groups(name)],
        }

    def stop(self) -> dict:
        import psutil

        marker = uuid.uuid4().hex
        script = (
            "import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{marker}'])\n"
            "print('started', flush=True)\ntime.sleep(600)\n"
        )

        def running() -> list[int]:
            return [p.pid for p in psutil.process_iter(["cmdline"]) if marker in (p.info["cmdline"] or [])]

        name = self.job(script)
        wait_for(lambda: self.describe(name)["SecondaryStatus"] == "Training", 120, "Training")
        wait_for(running, 60, "the job's child process")
        self.sm.stop_training_job(TrainingJobName=name)
        desc = self.wait(name, 60)
        time.sleep(1)
        return {
            "status": desc["TrainingJobStatus"],
            "secondary": desc["SecondaryStatus"],
            "left": running(),
            "groups": job_groups(name),
        }

    def endpoint(self) -> dict:
        """An endpoint whose instances are Ray actors: answers, scales out and in, replaces a lost one."""
        import ray

        hosting = Hosting(self.server)
        name = f"ray-ep-{uuid.uuid4().hex[:8]}"
        hosting.script_model(name, tag="ray")
        hosting.config(name, [("AllTraffic", name, 1.0, 1)])
        out: dict = {"created": hosting.endpoint(name, name)["EndpointStatus"]}
        out["answer"] = hosting.invoke(name, "1,2")[0]
        out["actors_one"] = alive(job_actors(name))
        sm = hosting.sm
        sm.update_endpoint_weights_and_capacities(
            EndpointName=name,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
        )
        out["scaled_out"] = hosting.wait(name, 120)["EndpointStatus"]
        out["actors_two"] = alive(job_actors(name))
        out["answers_two"] = sorted({hosting.invoke(name, "2,3")[0] for _ in range(6)})
        sm.update_endpoint_weights_and_capacities(
            EndpointName=name,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 1}],
        )
        out["scaled_in"] = hosting.wait(name, 120)["EndpointStatus"]
        out["actors_after_scale_in"] = wait_for(
            lambda: len(a := alive(job_actors(name))) == 1 and a, 60, "one instance actor"
        )
        victim = out["actors_after_scale_in"][0]["name"]
        ray.kill(ray.get_actor(victim, namespace="sagestack"))
        started = time.monotonic()
        replaced = wait_for(
            lambda: [a for a in alive(job_actors(name)) if a["name"] != victim],
            120,
            "a replacement",
        )

        def answers() -> str | None:
            try:
                return hosting.invoke(name, "4,5")[0]
            except Exception:
                return None

        out["answer_after_replacement"] = wait_for(answers, 120, "an answer from the replacement")
        out["replacement_seconds"] = round(time.monotonic() - started, 1)
        out["replaced_by"] = replaced
        out["victim"] = victim
        streams = self.logs.describe_log_streams(logGroupName=f"/aws/sagemaker/Endpoints/{name}")[
            "logStreams"
        ]
        out["log_streams"] = len(streams)
        out["confinement"] = [
            line
            for line in log_text(self.logs, f"/aws/sagemaker/Endpoints/{name}").splitlines()
            if "code runs as" in line
        ]
        sm.delete_endpoint(EndpointName=name)
        out["actors_after_delete"] = wait_for(
            lambda: not alive(job_actors(name)) and job_actors(name),
            60,
            "no actors",
        )
        return out

    def node_lost(self) -> dict:
        """Kill the second node while a two-instance job (one host on each node) trains."""
        script = "import time\nprint('host-ready', flush=True)\ntime.sleep(600)\n"
        name = self.job(script, count=2)
        wait_for(lambda: self.describe(name)["SecondaryStatus"] == "Training", 120, "Training")
        wait_for(lambda: self.log_text(name).count("host-ready") == 2, 90, "both hosts' output")
        killed = self.cluster.kill_node(self.cluster.node_ports[0])
        started = time.monotonic()
        desc = self.wait(name, 120)
        return {
            "killed": killed,
            "status": desc["TrainingJobStatus"],
            "failure": desc.get("FailureReason"),
            "seconds_to_notice": round(time.monotonic() - started, 1),
        }

    def node_lost_resume(self) -> dict:
        """A node (added again) dies under a checkpointed two-instance job: the job is interrupted and
        resumes from its checkpoint on the node that is left."""
        import ray

        port = self.cluster.add_node()
        wait_for(lambda: len([n for n in ray.nodes() if n["Alive"]]) == 2, 60, "the new node")
        script = (
            "import os, time\n"
            "host = os.environ['SM_CURRENT_HOST']\n"
            "state = '/opt/ml/checkpoints/state.txt'\n"
            "if os.path.exists(state):\n"
            "    open(f'/opt/ml/model/{host}.txt', 'w').write('resumed from ' + open(state).read())\n"
            "else:\n"
            "    os.makedirs('/opt/ml/checkpoints', exist_ok=True)\n"
            "    open(state, 'w').write('step-1')\n"
            "    print('checkpointed', flush=True)\n"
            "    time.sleep(600)\n"
        )
        name = self.job(
            script,
            count=2,
            CheckpointConfig={"S3Uri": f"s3://{self.bucket}/checkpoints/{uuid.uuid4().hex[:6]}"},
        )
        prefix = self.describe(name)["CheckpointConfig"]["S3Uri"].split("/", 3)[3]
        wait_for(
            lambda: self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("KeyCount"),
            120,
            "the checkpoint in S3",
        )
        killed = self.cluster.kill_node(port)
        desc = self.wait(name, 240)
        files = {}
        if desc["TrainingJobStatus"] == "Completed":
            data = self.s3.get_object(Bucket=self.bucket, Key=f"output/{name}/output/model.tar.gz")
            files = {k: v.decode() for k, v in read_tar_gz(data["Body"].read()).items()}
        return {
            "killed": killed,
            "status": desc["TrainingJobStatus"],
            "failure": desc.get("FailureReason"),
            "secondary": [t["Status"] for t in desc["SecondaryStatusTransitions"]],
            "files": files,
            "groups": job_groups(name),
        }


def main() -> None:
    wanted = sys.argv[1:] or [
        "training",
        "distributed",
        "processing",
        "stop",
        "endpoint",
        "node_lost",
        "node_lost_resume",
    ]
    results: dict = {}
    root = Path(tempfile.mkdtemp(prefix="sagestack-ray-"))
    cluster = LocalCluster(root / "ray")
    server = None
    try:
        started = time.monotonic()
        cluster.start_head()
        cluster.add_node()
        results["cluster_seconds"] = round(time.monotonic() - started, 1)
        import ray

        ray.init(address=cluster.address, log_to_driver=False)
        results["nodes"] = len([n for n in ray.nodes() if n["Alive"]])
        server = ServerProcess(
            root / "data",
            extra_env={**cluster.env, "SAGESTACK_LOG_LEVEL": "info"},
        )
        server.extra_args = ["--executor", "ray", "--ray-address", cluster.address]
        server.start(timeout=180)
        scenarios = Scenarios(server, cluster)
        for scenario in wanted:
            try:
                results[scenario] = getattr(scenarios, scenario)()
            except Exception as exc:
                results[scenario] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
    finally:
        if server is not None:
            server.stop()
            results["server_log_tail"] = server.log_path.read_text(errors="replace")[-4000:]
        cluster.stop()
    print("RESULTS " + json.dumps(results, default=str))


if __name__ == "__main__":
    main()
