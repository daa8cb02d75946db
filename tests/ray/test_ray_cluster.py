"""The Ray executor on a real local Ray cluster (a head and a second node, one CPU each), with a sagestack
server started with ``--executor ray``: jobs' hosts run through Ray (a placement group per job, a node
agent actor per node), a two-instance job spans both
nodes and its hosts meet through torch.distributed by SageMaker's host names, stop ends the remote
processes, an endpoint's instances are Ray actors that scale out and in and are replaced when lost, and a
node killed mid-job fails the job with a clear reason.

Everything runs in one network namespace with only loopback up (tests/ray/cluster.py: Ray registers its
nodes as 127.0.0.1 there and nothing listens on another address) and its own PID namespace (every Ray
process ends with it). The scenarios run once, in tests/ray/driver.py; each test checks one of them."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _can_isolate() -> str | None:
    if os.geteuid() != 0:
        return "needs root for network and PID namespaces"
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "needs unshare and ip"
    try:
        import ray  # noqa: F401
    except ImportError:
        return "ray is not installed (the ray extra)"
    return None


@pytest.fixture(scope="module")
def results() -> dict:
    problem = _can_isolate()
    if problem:
        pytest.skip(problem)
    sys.path.insert(0, str(HERE))
    from cluster import run_driver

    return run_driver(HERE / "driver.py", timeout=1700)


def _scenario(results: dict, name: str) -> dict:
    got = results[name]
    assert "error" not in got, f"{got['error']}\n{got.get('trace')}\n{results.get('server_log_tail', '')}"
    return got


def test_cluster_has_two_nodes(results):
    assert results["nodes"] == 2


def test_training_job_runs_as_ray_actor(results):
    got = _scenario(results, "training")
    assert got["status"] == "Completed", got["failure"]
    assert got["model"] == "trained"
    assert got["log_has_hello"]  # the remote process's output in the job's log stream
    assert [m["MetricName"] for m in got["metrics"]] == ["loss"] and got["metrics"][0]["Value"] == 0.25
    (group,) = got["groups"]  # the job's reservation, by name in Ray's state API
    assert group["name"].startswith("training/") and group["state"] == "REMOVED"
    assert len(got["agents"]) >= 1 and all(a["state"] == "ALIVE" for a in got["agents"])


def test_two_instance_job_spans_both_nodes_and_meets_by_host_name(results):
    got = _scenario(results, "distributed")
    assert got["status"] == "Completed", got["failure"]
    assert len(set(got["group"]["nodes"])) == 2  # one host on each node (STRICT_SPREAD)
    one, two = got["files"]["algo-1.json"], got["files"]["algo-2.json"]
    assert one["hosts"] == two["hosts"] == ["algo-1", "algo-2"]
    assert one["sum"] == two["sum"] == 3.0  # gloo all_reduce of 1 + 2 across the nodes
    assert one["peers"] == {"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"}  # the nodes' addresses
    assert got["billable"] == 2 * got["seconds"]


def test_processing_job_runs_as_ray_actor(results):
    got = _scenario(results, "processing")
    assert got["status"] == "Completed", got["failure"]
    assert got["result"] == "processed"
    assert len(got["groups"]) == 1 and got["groups"][0].startswith("processing/")


def test_stop_ends_the_remote_processes(results):
    got = _scenario(results, "stop")
    assert (got["status"], got["secondary"]) == ("Stopped", "Stopped")
    assert got["left"] == []  # the job's process tree on the node is gone
    assert [g["state"] for g in got["groups"]] == ["REMOVED"]


def test_endpoint_instances_are_ray_actors(results):
    got = _scenario(results, "endpoint")
    assert got["created"] == "InService" and got["answer"] == "ray:3"
    assert len(got["actors_one"]) == 1
    assert got["scaled_out"] == "InService" and len(got["actors_two"]) == 2
    assert len({a["node_id"] for a in got["actors_two"]}) == 2  # one CPU per node: one instance each
    assert got["answers_two"] == ["ray:5"]
    assert got["scaled_in"] == "InService" and len(got["actors_after_scale_in"]) == 1
    # a killed instance actor is replaced and the endpoint answers again
    assert got["replaced_by"] and got["replaced_by"][0]["name"] != got["victim"]
    assert got["answer_after_replacement"] == "ray:9"
    assert got["log_streams"] >= 2  # the instances' output reached the endpoint's log group
    # each instance's worker confined itself on its node as a local one does (the cluster runs as root)
    assert got["confinement"] and all("runs as the user nobody" in line for line in got["confinement"])
    assert all(a["state"] == "DEAD" for a in got["actors_after_delete"])


def test_node_lost_mid_job_fails_it_clearly(results):
    got = _scenario(results, "node_lost")
    assert got["killed"] > 0
    assert got["status"] == "Failed"
    assert got["failure"].startswith("InternalServerError: instance lost: Ray node ")
    assert got["failure"].endswith(" died")


def test_node_lost_under_checkpointed_job_resumes_it(results):
    got = _scenario(results, "node_lost_resume")
    assert got["killed"] > 0
    assert got["status"] == "Completed", got["failure"]
    assert "Interrupted" in got["secondary"] and got["secondary"].count("Training") == 2
    assert got["files"] == {"algo-1.txt": "resumed from step-1", "algo-2.txt": "resumed from step-1"}
    assert len(got["groups"]) == 2  # two attempts
