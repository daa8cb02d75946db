"""The Ray node agent's process handling, without Ray: the guard each host process runs under (it dies
with the agent and takes the job's whole process tree with it; it passes the exit status on) and
``end_job`` (what another server's agent uses to end a dead server's job on a node)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from sagestack.execution.ray_host import GUARD, JOB_KEY, end_job

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")

# the job side: bound to its parent (the guard) as execution/entry.py binds it, with a grandchild
JOB = (
    "import os, subprocess, time\n"
    "from sagestack.execution.entry import bind_to_server\n"
    "bind_to_server()\n"
    "child = subprocess.Popen(['sleep', '60'])\n"
    "print(os.getpid(), child.pid, flush=True)\n"
    "time.sleep(60)\n"
)

# a stand-in for the node agent: starts the guard the way NodeAgent.start does
AGENT = (
    "import os, subprocess, sys\n"
    "from sagestack.execution.ray_host import GUARD\n"
    "env = dict(os.environ, SAGESTACK_AGENT_PID=str(os.getpid()))\n"
    "guard = subprocess.Popen([sys.executable, '-c', GUARD, sys.executable, '-c', sys.argv[1]], env=env,\n"
    "                         start_new_session=True)\n"
    "print(guard.pid, flush=True)\n"
    "guard.wait()\n"
)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_ended(pids: list[int], timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_running(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if _running(p)]


def _env() -> dict:
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    env["PYTHONPATH"] = os.pathsep.join([os.path.abspath(src)] + [env.get("PYTHONPATH", "")])
    return env


def test_the_job_tree_ends_when_the_agent_is_killed():
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT, JOB],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
        start_new_session=True,
    )
    try:
        guard = int(agent.stdout.readline())
        job, grandchild = (int(x) for x in agent.stdout.readline().split())
        assert psutil.Process(job).ppid() == guard
        assert all(_running(p) for p in (guard, job, grandchild))
        agent.kill()  # as Ray kills an agent whose server died
        agent.wait()
        assert _wait_ended([guard, job, grandchild]) == []
    finally:
        agent.kill()
        agent.wait()


def _guarded(code: str) -> subprocess.Popen:
    env = dict(_env(), SAGESTACK_AGENT_PID=str(os.getpid()))
    return subprocess.Popen([sys.executable, "-c", GUARD, sys.executable, "-c", code], env=env)


def test_the_guard_passes_the_exit_status_on():
    assert _guarded("import sys; sys.exit(3)").wait(30) == 3
    assert _guarded("import os, signal; os.kill(os.getpid(), signal.SIGTERM)").wait(30) == -signal.SIGTERM


def test_the_guard_refuses_to_run_when_its_agent_is_already_gone():
    env = dict(_env(), SAGESTACK_AGENT_PID="1")  # not its parent: the agent it was meant for is gone
    done = subprocess.run(
        [sys.executable, "-c", GUARD, sys.executable, "-c", "print('ran')"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 137 and "ran" not in done.stdout


def test_end_job_ends_that_jobs_processes_only():
    key = f"training/000000000000/us-east-1/end-{uuid.uuid4().hex[:8]}"
    code = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    mine = [
        subprocess.Popen([sys.executable, "-c", code], env={**os.environ, JOB_KEY: key}) for _ in range(2)
    ]
    other = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, JOB_KEY: key + "-other"})
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum(len(psutil.Process(p.pid).children()) for p in mine) < 2:
            time.sleep(0.05)
        children = [c.pid for p in mine for c in psutil.Process(p.pid).children()]
        assert end_job(key) == 4  # each script and its sleep (which inherited the key)
        for process in mine:
            assert process.wait(10) == -signal.SIGKILL
        assert _wait_ended(children) == []
        assert _running(other.pid)
        assert end_job(key) == 0
    finally:
        for process in (*mine, other):
            process.kill()
            process.wait()
