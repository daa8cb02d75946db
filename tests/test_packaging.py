"""The wheel: `python -m build` gives an installable sagestack whose `sagestack serve` answers boto3.

The wheel is built (with the environment's setuptools, as `make wheel` does) from a copy of the project
files, so the checkout gets no build/ or egg-info. It is installed into a fresh venv under tmp_path; the
dependencies come from the running environment through a path file (not reinstalled from an index), and
the test checks that `sagestack` itself is imported from the venv, not from a checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from sagestack.local_server import free_port

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = {"algorithms", "postgres", "test", "all", "dev"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("build", reason="the dev extra (make test installs it) brings `build`")
    project = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    )
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(project)],
        check=True,
        capture_output=True,
        text=True,
        env=_clean_env(),
    )
    (built,) = dist.glob("sagestack-*.whl")
    return built


def _clean_env() -> dict[str, str]:
    """This process's environment without what would point a child at the checkout or a server."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "AWS_ENDPOINT_URL", "AWS_PROFILE") and not k.startswith("SAGESTACK_")
    }
    env["PYTHONNOUSERSITE"] = "1"
    return env


def test_wheel_holds_the_package_license_and_metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(metadata_name).decode()
        entry_points = archive.read(metadata_name.replace("METADATA", "entry_points.txt")).decode()
    sources = {
        path.relative_to(ROOT / "src").as_posix()
        for path in (ROOT / "src" / "sagestack").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert sources - names == set(), "files under src/sagestack missing from the wheel"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: Apache-2.0" in metadata
    assert {
        line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Provides-Extra:")
    } >= EXTRAS
    assert "Programming Language :: Python :: 3.13" in metadata
    assert "sagestack = sagestack.cli:main" in entry_points


def test_installed_wheel_serves_boto3(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The running environment's packages (boto3, uvicorn, numpy, …) as a plain path: its own .pth files,
    # among them an editable sagestack's, are not processed, so sagestack can only come from the wheel.
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(site) / "_outer_environment.pth").write_text("".join(f"{p}\n" for p in paths))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        env=_clean_env(),
    )

    env = _clean_env()
    where = subprocess.run(
        [str(python), "-c", "import sagestack; print(sagestack.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    ).stdout.strip()
    assert Path(where).resolve().is_relative_to(Path(site).resolve()), where

    data_dir, port = tmp_path / "data", free_port()
    common = ["--port", str(port), "--data-dir", str(data_dir)]
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen(
        [str(venv / "bin" / "sagestack"), "serve", *common],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        health = _wait_healthy(f"http://127.0.0.1:{port}", server, tmp_path / "server.log")
        assert health["status"] == "running" and "s3" in health["services"]
        exports = json.loads(
            subprocess.run(
                [str(venv / "bin" / "sagestack"), "env", "--json", *common],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            ).stdout
        )
        import boto3
        from botocore.config import Config

        s3 = boto3.client(
            "s3",
            endpoint_url=exports["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": "path"}),
        )
        s3.create_bucket(Bucket="from-the-wheel")
        s3.put_object(Bucket="from-the-wheel", Key="k", Body=b"v")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["from-the-wheel"]
        assert s3.get_object(Bucket="from-the-wheel", Key="k")["Body"].read() == b"v"
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    assert "Application shutdown complete" in (tmp_path / "server.log").read_text()


def _wait_healthy(url: str, server: subprocess.Popen, log: Path, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/_sagestack/health", timeout=1) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"server did not answer: {log.read_text()[-3000:]}")
