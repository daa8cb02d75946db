"""The worker's multi-model cache in-process: LRU order, the memory bound, ModelCacheSetting Disabled."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest

from hosting_support import ECHO_MODEL, SKLEARN_IMAGE
from sagestack.serving.handlers import ContainerSpec
from sagestack.serving.multi_model import MultiModelHandler

ENV = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}


@pytest.fixture(autouse=True)
def _isolated_process():
    """Loading a model sets the container's environment and imports its script, as in a worker: undo."""
    environ, path, modules = dict(os.environ), list(sys.path), set(sys.modules)
    yield
    os.environ.clear()
    os.environ.update(environ)
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        if name == "inference":
            del sys.modules[name]


def _models(tmp_path, count: int, padding: int = 0) -> list[str]:
    dirs = []
    for i in range(count):
        model_dir = tmp_path / f"m{i}"
        (model_dir / "code").mkdir(parents=True)
        (model_dir / "tag.txt").write_text(f"m{i}")
        (model_dir / "code" / "inference.py").write_text(textwrap.dedent(ECHO_MODEL))
        if padding:
            (model_dir / "weights.bin").write_bytes(b"\0" * padding)
        dirs.append(str(model_dir))
    return dirs


def _handler(tmp_path, **config) -> MultiModelHandler:
    spec = ContainerSpec(
        "primary",
        SKLEARN_IMAGE,
        str(tmp_path),
        None,
        dict(ENV),
        {"max_models": None, "memory_mb": 8192, "cache": "Enabled", **config},
    )
    return MultiModelHandler(spec)


def _call(handler: MultiModelHandler, target: str, model_dir: str, body: bytes = b"1,2") -> tuple[str, dict]:
    headers = {
        b"x-amzn-sagemaker-target-model": target.encode(),
        b"x-sagestack-model-dir": model_dir.encode(),
        b"content-type": b"text/csv",
    }
    result, _, report = handler.invoke_target(headers, body)
    values = report.decode().split(": ", 1)[1].strip()
    return result.decode(), dict(part.split("=") for part in values.split(";"))


def test_lru_eviction_keeps_the_most_recently_used(tmp_path):
    dirs = _models(tmp_path, 4)
    handler = _handler(tmp_path, max_models=2)
    for i in (0, 1, 0, 2):  # m1 is the least recently used when m2 arrives
        answer, report = _call(handler, f"m{i}", dirs[i])
        assert answer == f"m{i}:3"
    assert list(handler.loaded) == ["m0", "m2"]
    assert _call(handler, "m0", dirs[0])[1]["hit"] == "1"
    answer, report = _call(handler, "m1", dirs[1])
    assert report["hit"] == "0" and int(report["unload"]) > 0 and report["loaded"] == "2"
    assert list(handler.loaded) == ["m0", "m1"]


def test_memory_bound_unloads_models(tmp_path):
    dirs = _models(tmp_path, 4, padding=400 * 1024)  # ≥ 400 KiB each against a ~0.9 MiB budget
    handler = _handler(tmp_path, memory_mb=1)
    for i, model_dir in enumerate(dirs):
        assert _call(handler, f"m{i}", model_dir)[0] == f"m{i}:3"
        assert len(handler.loaded) <= 2
    assert "m3" in handler.loaded  # the model just used is never the one unloaded


def test_cache_disabled_unloads_after_each_request(tmp_path):
    dirs = _models(tmp_path, 1)
    handler = _handler(tmp_path, cache="Disabled")
    for _ in range(2):
        answer, report = _call(handler, "m0", dirs[0])
        assert answer == "m0:3" and report["hit"] == "0" and report["loaded"] == "0"
