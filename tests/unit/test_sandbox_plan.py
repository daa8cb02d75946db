"""The pure part of job_sandbox.py: who a job runs as, and which directories it replaces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sagestack import job_sandbox
from sagestack.job_sandbox import JobUser

NOBODY = JobUser("nobody", 65534, 65534)


def test_root_or_empty_keeps_the_servers_user():
    for value in ("", "root", "  "):
        user, why = job_sandbox.resolve_user(value)
        assert user is None and "root or empty" in why


@pytest.mark.skipif(os.geteuid() != 0, reason="a job changes user only where the server runs as root")
def test_a_named_user_is_resolved_and_unknown_ones_say_so():
    user, why = job_sandbox.resolve_user("nobody")
    assert why is None and user.uid != 0 and user.name == "nobody"
    user, why = job_sandbox.resolve_user("no-such-user-sagestack")
    assert user is None and "no user 'no-such-user-sagestack'" in why
    user, why = job_sandbox.resolve_user("0")
    assert user is None and "is root" in why


def test_outermost_drops_nested_paths():
    paths = [Path("/a/b/c"), Path("/a/b"), Path("/x"), Path("/a/bc")]
    assert job_sandbox.outermost(paths) == [Path("/x"), Path("/a/b"), Path("/a/bc")]


def test_the_plan_covers_tmp_the_data_dir_and_untraversable_ancestors(tmp_path):
    closed = tmp_path / "closed"
    (closed / "env" / "bin").mkdir(parents=True)
    closed.chmod(0o700)
    data = tmp_path / "data"
    (data / "jobs" / "job-1").mkdir(parents=True)
    tmp = data / "jobs" / "job-1" / ".sagestack" / "tmp"
    tmp.mkdir(parents=True)
    plan = job_sandbox.plan(
        tmp,
        [str(data / "jobs" / "job-1"), str(closed / "env"), str(tmp_path / "missing")],
        [str(data)],
        NOBODY,
    )
    real = Path(os.path.realpath(tmp_path))
    # /tmp always; the data dir and the first directory nobody cannot enter (each covered: here all of
    # them lie under /tmp, the one mask).
    assert Path("/tmp") in plan.masks
    blocked = job_sandbox.blocking_ancestor(real / "closed" / "env", NOBODY)
    assert blocked is not None and any(m == blocked or m in blocked.parents for m in plan.masks)
    assert all(not (m != n and n in m.parents) for m in plan.masks for n in plan.masks)
    # Paths that do not exist are not bound back.
    assert real / "missing" not in plan.keep
    assert real / "closed" / "env" in plan.keep and real / "data" / "jobs" / "job-1" in plan.keep


def test_without_a_job_user_only_tmp_and_the_data_dir_are_covered(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    plan = job_sandbox.plan(tmp_path, [str(data)], ["/nonexistent-data-dir"], None)
    assert plan.masks == [Path("/tmp")]


def test_python_dirs_names_the_venv_and_its_base(tmp_path):
    env = tmp_path / "venv"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").write_text("")
    (env / "pyvenv.cfg").write_text("home = /opt/python3.11/bin\nversion = 3.11\n")
    dirs = job_sandbox.python_dirs(str(env / "bin" / "python"))
    assert env in dirs and Path("/opt/python3.11") in dirs
    assert job_sandbox.python_dirs(None) == []


def test_worker_model_paths_cover_code_and_a_multi_model_cache(tmp_path):
    from sagestack.serving.worker_sandbox import model_paths

    single = {"model_dir": str(tmp_path / "m1"), "code_dir": str(tmp_path / "code")}
    multi = {"model_dir": str(tmp_path / "cache" / "empty"), "code_dir": None, "multi_model": {}}
    assert model_paths([single]) == [str(tmp_path / "m1"), str(tmp_path / "code")]
    assert str(tmp_path / "cache") in model_paths([multi])  # models the server unpacks later


#: Run in a private mount namespace: a writable /lib for nobody, its changes in a scratch folder on disk,
#: then in one on an overlay (which cannot hold an overlay's changes: a tmpfs takes them).
WRITABLE_LIB = r"""
import os, subprocess, sys
from pathlib import Path
from sagestack import job_sandbox as js

root = Path(sys.argv[1])
user, _ = js.resolve_user("nobody")
report = {"disk": js.writable_copy("/lib", root / "disk", user)}
(root / "lower").mkdir(); (root / "layer").mkdir()
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(root / "layer")], check=True)
(root / "layer" / "u").mkdir(); (root / "layer" / "w").mkdir(); (root / "merged").mkdir()
options = f"lowerdir={root / 'lower'},upperdir={root / 'layer' / 'u'},workdir={root / 'layer' / 'w'}"
subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(root / "merged")], check=True)
report["on_overlay"] = js.writable_copy("/lib", root / "merged" / "scratch", user)
os.setgid(user.gid); os.setuid(user.uid)
open("/lib/libsagestack-probe.so", "w").write("x")
report["written"] = os.path.exists("/usr/lib/libsagestack-probe.so")
print(report)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root")
def test_a_writable_lib_is_the_processs_own(tmp_path):
    import shutil
    import subprocess
    import sys

    if not shutil.which("unshare"):
        pytest.skip("needs unshare")
    tmp_path.chmod(0o755)
    script = tmp_path / "probe.py"
    script.write_text(WRITABLE_LIB)
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(job_sandbox.__file__).resolve().parents[1])},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'disk': None, 'on_overlay': None, 'written': True}"
    assert not Path("/usr/lib/libsagestack-probe.so").exists()  # the host's /lib never saw it
    assert (tmp_path / "disk" / "upper").is_dir()
