"""Ray and several servers together: two sagestack servers (``--executor ray --cluster``) on one private
PostgreSQL database and one data dir, over a local Ray cluster (a head and a second node). A job created on
A runs on Ray and B sees it; a two-instance job spans both nodes; an endpoint A owns answers on A and B;
SIGKILL of A mid-job: the job's processes on the nodes end with A's node agents, B runs the job again
(never two runs at once) and completes it, and B replaces the endpoint's instance.

Everything (PostgreSQL included) runs in one network namespace with only loopback up and its own PID
namespace (tests/ray/cluster.py); the scenarios run once, in tests/ray/servers_driver.py."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _can_run() -> str | None:
    if os.geteuid() != 0:
        return "needs root for network and PID namespaces"
    if not shutil.which("unshare") or not shutil.which("ip") or not shutil.which("runuser"):
        return "needs unshare, ip and runuser"
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return "needs PostgreSQL's server binaries (the postgresql package)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "needs the postgres OS user"
    try:
        import psycopg  # noqa: F401

        import ray  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed"
    return None


@pytest.fixture(scope="module")
def results() -> dict:
    problem = _can_run()
    if problem:
        pytest.skip(problem)
    sys.path.insert(0, str(HERE))
    from cluster import run_driver

    return run_driver(HERE / "servers_driver.py", timeout=850)


def _scenario(results: dict, name: str) -> dict:
    got = results[name]
    logs = "\n".join(results.get(f"server_{x}_log_tail", "") for x in "ab")
    assert "error" not in got, f"{got['error']}\n{got.get('trace')}\n{logs}"
    return got


def test_a_job_created_on_a_runs_on_ray_and_is_visible_on_b(results):
    assert results["nodes"] == 2
    got = _scenario(results, "visible")
    assert got["group"]["name"].startswith("training/")  # its reservation, in Ray's state API
    assert got["b_status_while_running"] == "InProgress" and got["same_arn"]
    assert got["status"] == "Completed", got["failure"]


def test_a_two_instance_job_spans_both_nodes(results):
    got = _scenario(results, "distributed")
    assert got["status"] == "Completed", got["failure"]
    assert len(set(got["nodes"])) == 2


def test_endpoint_owned_by_a_answers_on_a_and_b(results):
    got = _scenario(results, "takeover")
    assert got["endpoint_on_a"] == "InService"
    assert len(got["actors_a"]) == 1  # A's instance: a Ray actor
    assert got["answer_a"].endswith(":3.0")
    assert got["answer_b"] == got["answer_a"]  # B forwards to A's instance on its node
    assert got["b_sees"] == "InProgress"


def test_sigkill_of_a_mid_job_b_completes_it_once(results):
    got = _scenario(results, "takeover")
    assert got["status"] == "Completed", got["failure"]
    assert got["first_run_ended_after"] < 30  # A's run ended with A's node agent (or B ended it)
    assert len(got["first_tree"]) >= 3 and got["first_tree_running"] == []  # script, entry, guard: all
    # a process the run left outside its process group: B ended it (by the job's key) before its own run
    assert got["stray_running_before"] and got["orphans_ended_by_b"] >= 1
    starts = [r for r in got["runs"] if r[0] == "start"]
    dones = [r for r in got["runs"] if r[0] == "done"]
    assert len(starts) == 2 and len(dones) == 1, got["runs"]  # A's run (ended) and B's, which finished
    assert dones[0][1] == starts[1][1] != starts[0][1]
    assert float(starts[1][2]) > got["killed_at"]
    assert starts[1][3] == "0"  # when B's run began, no earlier run was alive anywhere
    assert "Interrupted" in got["secondary"] and got["secondary"][-1] == "Completed"
    assert len(got["groups_after"]) >= 1 and all(g["state"] == "REMOVED" for g in got["groups_after"])


def test_sigkill_of_a_b_replaces_the_endpoint_instance(results):
    got = _scenario(results, "takeover")
    assert got["endpoint_after"] == "InService"
    assert got["answer_after"].endswith(":3.0")
    (old,) = got["actors_a"]
    states = {a["name"]: a["state"] for a in got["actors_after"]}
    assert states[old["name"]] == "DEAD"  # A's instance went with A
    assert any(s == "ALIVE" for n, s in states.items() if n != old["name"])  # B's replacement
