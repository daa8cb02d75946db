"""sagestack.environments: which pins serve a framework version, and the venv cache (built once, under a
lock, never half-built). The venvs here install nothing (a requirements file of comments), so they
build in seconds without a package index."""

from __future__ import annotations

import os
import threading

import pytest

from sagestack import environments
from sagestack.environments import (
    MARKER,
    EnvironmentBuildError,
    EnvironmentCache,
    NoEnvironment,
    Requirements,
    resolve,
)


def test_tensorflow_versions_resolve_to_the_pinned_environment():
    pinned = resolve("tensorflow", None)
    assert pinned.framework == "tensorflow" and pinned.version.startswith("2.")
    assert f"tensorflow-cpu=={pinned.version}" in pinned.text
    for requested in ("2.19", "2.16.1", "2.11.0", pinned.version):
        assert resolve("tensorflow", requested) == pinned
    with pytest.raises(
        NoEnvironment,
        match=r"tensorflow 1\.15 has no build for this Python .* sagestack runs "
        r"tensorflow 2\.",
    ):
        resolve("tensorflow", "1.15")
    with pytest.raises(NoEnvironment, match="no pinned mxnet environment"):
        resolve("mxnet", "1.9")


def test_an_exact_pin_wins(tmp_path, monkeypatch):
    monkeypatch.setattr(environments, "REQUIREMENTS_DIR", tmp_path)
    (tmp_path / "tensorflow.txt").write_text("# framework-version: 2.21.0\n")
    (tmp_path / "tensorflow-2.16.txt").write_text("# framework-version: 2.16.2\n")
    (tmp_path / "tensorflowx.txt").write_text("# framework-version: 9.9\n")  # another framework's file
    assert resolve("tensorflow", "2.16").version == "2.16.2"
    assert resolve("tensorflow", "2.19").version == "2.21.0"
    assert resolve("tensorflow", None).version == "2.21.0"


def _empty_requirements(tmp_path) -> Requirements:
    path = tmp_path / "req" / "toy.txt"
    path.parent.mkdir()
    path.write_text("# framework-version: 1.0\n# nothing to install\n")
    return Requirements("toy", "1.0", path)


def test_concurrent_ensures_build_once(tmp_path):
    req = _empty_requirements(tmp_path)
    cache = EnvironmentCache(tmp_path / "envs")
    assert not cache.ready(req)
    lines: list[str] = []
    results: list = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.ensure(req, log=lines.append))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 3 and len(set(results)) == 1
    python = results[0]
    assert python == tmp_path / "envs" / req.name / "bin" / "python" and os.access(python, os.X_OK)
    assert sum(line.startswith("Building") for line in lines) == 1  # one build, the others waited
    assert (tmp_path / "envs" / req.name / MARKER).exists() and cache.ready(req)
    assert req.name.startswith("toy-1.0-py3") and req.digest in req.name
    # Other pins are another environment.
    req.path.write_text("# framework-version: 1.0\n# changed\n")
    assert not cache.ready(req)


def test_a_failed_build_leaves_nothing_and_names_pips_error(tmp_path, monkeypatch):
    req = _empty_requirements(tmp_path)
    req.path.write_text("# framework-version: 1.0\nsurely-not-a-package-sagestack==0.0.1\n")
    for key, value in {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(tmp_path),
    }.items():
        monkeypatch.setenv(key, value)
    cache = EnvironmentCache(tmp_path / "envs")
    with pytest.raises(
        EnvironmentBuildError, match=r"pip install -r toy.txt failed \(exit code 1\)"
    ) as caught:
        cache.ensure(req)
    assert "No matching distribution found for surely-not-a-package-sagestack==0.0.1" in caught.value.tail
    assert not (tmp_path / "envs" / req.name).exists() and not cache.ready(req)
