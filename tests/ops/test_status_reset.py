"""``sagestack status`` and ``sagestack reset``, and the pid file that tells them a server runs."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from sagestack.local_server import ServerProcess


def sagestack(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sagestack", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_status_of_a_running_server(fresh_server):
    iam = fresh_server.client("iam")
    iam.create_role(RoleName="status-probe", AssumeRolePolicyDocument="{}")
    fresh_server.client("s3").create_bucket(Bucket="status-bucket")
    fresh_server.client("s3").put_object(Bucket="status-bucket", Key="k", Body=b"x" * 50_000)

    pid_file = json.loads((fresh_server.data_dir / "server.pid").read_text())
    assert pid_file["pid"] == fresh_server.proc.pid and pid_file["port"] == fresh_server.port

    done = sagestack("status", "--data-dir", str(fresh_server.data_dir), "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["status"] == "running" and status["pid"] == fresh_server.proc.pid
    assert status["url"] == fresh_server.url and status["uptime_seconds"] >= 0
    assert status["jobs_running"] == [] and status["endpoints"] == []
    assert status["resources"]["iam-role"] == {"-": 1}
    assert status["database"].startswith("sqlite:///")
    assert status["disk"]["entries"]["objects"] >= 50_000
    assert status["disk"]["bytes"] == sum(status["disk"]["entries"].values())

    text = sagestack("status", "--data-dir", str(fresh_server.data_dir)).stdout
    assert f"is running: pid {fresh_server.proc.pid}, {fresh_server.url}, up " in text
    assert "jobs       0 running" in text and "endpoints  0" in text and "iam-role 1" in text


def test_status_document_needs_a_signature(fresh_server):
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(fresh_server.url + "/_sagestack/status")
    assert info.value.code in (400, 403)
    assert b"MissingAuthenticationToken" in info.value.read()


def test_status_without_a_server(tmp_path):
    done = sagestack("status", "--data-dir", str(tmp_path / "never-used"))
    assert done.returncode == 3
    assert done.stdout.startswith(f"no sagestack server is running on {tmp_path / 'never-used'}\n")


def test_reset_refuses_while_running_then_asks_and_wipes(tmp_path):
    server = ServerProcess(tmp_path / "data").start()
    data = server.data_dir
    try:
        server.client("s3").create_bucket(Bucket="keep-me")
        done = sagestack("reset", "--yes", "--data-dir", str(data))
        assert done.returncode == 2
        holder = f"the sagestack server with pid {server.proc.pid} ({server.url}) is running on it"
        assert holder in done.stderr
        assert (data / "metadata.db").exists()
        # a second server on the same data dir is refused as well
        with pytest.raises(RuntimeError, match="is in use by the sagestack server with pid"):
            ServerProcess(data).start()
    finally:
        server.stop()
    assert not (data / "server.pid").exists()  # a clean exit removes it

    for answer in ("n\n", "", "maybe\n"):
        done = sagestack("reset", "--data-dir", str(data), stdin=answer)
        assert done.returncode == 1 and "[y/N]" in done.stdout and "not reset" in done.stdout
        assert (data / "metadata.db").exists()
    done = sagestack("reset", "--data-dir", str(data), stdin="y\n")
    assert done.returncode == 0, done.stderr
    assert f"reset {data}: " in done.stdout and list(data.iterdir()) == []
    assert "nothing to reset" in sagestack("reset", "--yes", "--data-dir", str(data)).stdout

    server.start()  # a reset data dir is a fresh one
    try:
        assert server.client("s3").list_buckets()["Buckets"] == []
    finally:
        server.stop()


def test_a_killed_servers_pid_file_blocks_nothing(tmp_path):
    server = ServerProcess(tmp_path / "data").start()
    pid = server.proc.pid
    server.stop("KILL")
    assert json.loads((server.data_dir / "server.pid").read_text())["pid"] == pid  # left behind
    done = sagestack("status", "--data-dir", str(server.data_dir))
    assert done.returncode == 3 and f"(the last one, pid {pid}, did not exit cleanly)" in done.stdout
    server.start()  # starts over the stale file
    try:
        assert json.loads((server.data_dir / "server.pid").read_text())["pid"] == server.proc.pid
    finally:
        server.stop("KILL")
    done = sagestack("reset", "--yes", "--data-dir", str(server.data_dir))
    assert done.returncode == 0, done.stderr
    assert list(server.data_dir.iterdir()) == []


def test_reset_refuses_a_directory_that_is_not_a_data_dir(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    done = sagestack("reset", "--yes", "--data-dir", str(tmp_path))
    assert done.returncode == 2 and "does not look like a sagestack data dir" in done.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"
