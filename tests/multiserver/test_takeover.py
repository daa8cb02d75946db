"""A server dies (SIGKILL) mid-job and while it owns an endpoint: another server takes its work over."""

from __future__ import annotations

import os
import time

import pytest

from servers_support import (
    cluster_server,
    create_echo_endpoint,
    create_waiting_job,
    invoke,
    runs,
    wait_endpoint,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigkill_of_the_owner_hands_its_job_and_endpoint_to_the_other_server(
    pg_database, tmp_path, job_shared_dir
):
    data = tmp_path / "data"
    runs_file = str(job_shared_dir / "runs.log")  # the job's own /tmp is not the host's
    a = cluster_server(data, pg_database).start(timeout=60)
    b = None
    try:
        s3 = a.client("s3")
        s3.create_bucket(Bucket="takeover")
        release = job_shared_dir / "release"  # the job's script finishes once this exists
        create_echo_endpoint(a, "takeover", "takeover-echo")
        create_waiting_job(a, "takeover", "takeover-job", runs_file, str(release))
        # a is alone: it owns both. Once the job's script runs and the endpoint serves, b joins.
        deadline = time.time() + 120
        while time.time() < deadline and not runs(runs_file):
            time.sleep(0.2)
        assert [r[0] for r in runs(runs_file)] == ["start"], a.log_path.read_text()[-3000:]
        assert wait_endpoint(a, "takeover-echo")["EndpointStatus"] == "InService"
        first_worker = invoke(a, "takeover-echo").split(":")[1]
        b = cluster_server(data, a.database_url).start(timeout=60)
        sm_b = b.client("sagemaker")
        assert sm_b.describe_training_job(TrainingJobName="takeover-job")["TrainingJobStatus"] == "InProgress"
        first_pid = runs(runs_file)[0][1]

        killed_at = time.time()
        a.stop(sig="KILL")
        # the job's processes die with their server (PR_SET_PDEATHSIG): no second live run can overlap
        deadline = time.time() + 10
        while time.time() < deadline and _alive(first_pid):
            time.sleep(0.1)
        assert not _alive(first_pid)
        release.write_text("go")  # b's run may finish

        deadline = time.time() + 120
        while time.time() < deadline:
            desc = sm_b.describe_training_job(TrainingJobName="takeover-job")
            if desc["TrainingJobStatus"] != "InProgress":
                break
            time.sleep(0.3)
        assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
        seen = runs(runs_file)
        starts = [r for r in seen if r[0] == "start"]
        dones = [r for r in seen if r[0] == "done"]
        assert len(starts) == 2 and len(dones) == 1, seen  # a's run (killed) and b's, which finished
        assert dones[0][1] == starts[1][1] != first_pid
        assert starts[1][2] > killed_at  # b's run began after a died: never two at once
        assert starts[1][2] - killed_at < 30  # within seconds (lease 2 s + the job's start)
        transitions = [t["Status"] for t in desc["SecondaryStatusTransitions"]]
        assert "Interrupted" in transitions and transitions[-1] == "Completed"
        body = b.client("s3").get_object(Bucket="takeover", Key="output/takeover-job/output/model.tar.gz")
        assert body["ContentLength"] > 0

        # the endpoint: b starts its own worker and answers
        deadline = time.time() + 60
        answer = None
        while time.time() < deadline:
            try:
                answer = invoke(b, "takeover-echo")
                break
            except Exception:
                time.sleep(0.5)
        assert answer is not None and answer.endswith(":3.0")
        assert answer.split(":")[1] != first_worker  # a new instance (a's died with it)
        assert sm_b.describe_endpoint(EndpointName="takeover-echo")["EndpointStatus"] == "InService"
    finally:
        if b is not None:
            b.stop()
        a.stop()
