"""The multi-model container proxy's side of SageMaker's MME container contract, against an in-process
model server (no container engine): loading into /opt/ml/models/<name>/model, 507 → unload the least
recently used and load again, 409 taken as loaded, a lost model (404 on invoke) loaded again once, the
cache-disabled unload, and the report header the gateway turns into metrics."""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from sagestack.serving.multi_model_containers import (
    MODELS_PATH,
    MultiModelContainerInstance,
    model_name,
    place_model,
)


class FakeModelServer:
    """The container's model API; ``/opt/ml/models`` is ``models_dir`` here."""

    def __init__(self, models_dir, capacity: int):
        self.models_dir, self.capacity = models_dir, capacity
        self.models: dict[str, float] = {}
        self.calls: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, code, body=b""):
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_DELETE(self):
                name = self.path.rsplit("/", 1)[1]
                server.calls.append(f"unload {name}")
                self._answer(200 if server.models.pop(name, None) is not None else 404)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/models":
                    request = json.loads(body)
                    name = request["model_name"]
                    server.calls.append(f"load {name} {self.headers['X-Amzn-SageMaker-Target-Model']}")
                    if name in server.models:
                        return self._answer(409)
                    if len(server.models) >= server.capacity:
                        return self._answer(507)
                    path = request["url"].replace(MODELS_PATH, str(server.models_dir), 1)
                    server.models[name] = float(open(os.path.join(path, "offset")).read())
                    return self._answer(200)
                name = self.path.split("/")[2]
                server.calls.append(f"invoke {name}")
                if name not in server.models:
                    return self._answer(404)
                self._answer(200, str(float(body) + server.models[name]).encode())

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def setup(tmp_path):
    models_dir = tmp_path / "instance-models"
    models_dir.mkdir()
    sources = {}
    for target, offset in (("a.tar.gz", 1), ("b.tar.gz", 2), ("c/d.tar.gz", 3)):
        source = tmp_path / "cache" / model_name(target)
        source.mkdir(parents=True)
        (source / "offset").write_text(str(offset))
        sources[target] = str(source)
    fake = FakeModelServer(models_dir, capacity=2)

    def instance(max_models=None, cache=True):
        mme = MultiModelContainerInstance.__new__(MultiModelContainerInstance)
        mme.member = SimpleNamespace(host="127.0.0.1", port=fake.port, container="c")
        mme.models_dir, mme.max_models, mme.cache = models_dir, max_models, cache
        mme.loaded, mme.lock = OrderedDict(), threading.Lock()
        return mme

    def call(mme, target, value):
        headers = {"x-amzn-sagemaker-target-model": target, "x-sagestack-model-dir": sources[target]}
        return mme.invoke(headers, str(value).encode())

    yield fake, instance, call
    fake.http.shutdown()


def test_loads_on_first_use_then_invokes_and_reports(setup):
    fake, instance, call = setup
    mme = instance()
    status, body, _, report = call(mme, "a.tar.gz", 1)
    assert (status, body) == (200, b"2.0")
    assert report.startswith("hit=0;load=") and report.endswith(";unload=0;loaded=1")
    name = model_name("a.tar.gz")
    assert (mme.models_dir / name / "model" / "offset").read_text() == "1"  # what the container reads
    status, body, _, report = call(mme, "a.tar.gz", 5)
    assert (status, body) == (200, b"6.0") and report.startswith("hit=1;load=0;")
    assert fake.calls == [f"load {name} a.tar.gz", f"invoke {name}", f"invoke {name}"]


def test_a_full_container_unloads_the_least_recently_used(setup):
    fake, instance, call = setup
    mme = instance()
    call(mme, "a.tar.gz", 0)
    call(mme, "b.tar.gz", 0)
    call(mme, "a.tar.gz", 0)  # b is now the least recently used
    status, body, _, report = call(mme, "c/d.tar.gz", 1)  # 507 → unload b → load again
    assert (status, body) == (200, b"4.0")
    b, d = model_name("b.tar.gz"), model_name("c/d.tar.gz")
    assert fake.calls[-4:] == [f"load {d} c/d.tar.gz", f"unload {b}", f"load {d} c/d.tar.gz", f"invoke {d}"]
    assert "unload=0" not in report and report.endswith("loaded=2")
    assert list(mme.loaded.values()) == ["a.tar.gz", "c/d.tar.gz"]
    assert not (mme.models_dir / b).exists()  # its files go with it


def test_max_models_and_disabled_cache(setup):
    fake, instance, call = setup
    mme = instance(max_models=1)
    call(mme, "a.tar.gz", 0)
    call(mme, "b.tar.gz", 0)
    assert list(mme.loaded.values()) == ["b.tar.gz"] and f"unload {model_name('a.tar.gz')}" in fake.calls
    off = instance(cache=False)
    off.loaded.clear()
    status, body, _, report = call(off, "c/d.tar.gz", 0)
    assert (status, body) == (200, b"3.0") and report.endswith("loaded=0")
    assert fake.calls[-1] == f"unload {model_name('c/d.tar.gz')}"


def test_a_model_the_container_lost_is_loaded_again_and_409_counts_as_loaded(setup):
    fake, instance, call = setup
    mme = instance()
    call(mme, "a.tar.gz", 0)
    fake.models.clear()  # the container restarted
    status, body, _, _ = call(mme, "a.tar.gz", 1)
    assert (status, body) == (200, b"2.0")
    fresh = instance()  # the container has it, this proxy does not know: 409 → loaded
    status, body, _, _ = call(fresh, "a.tar.gz", 2)
    assert (status, body) == (200, b"3.0")


def test_missing_target_and_a_failed_load(setup, tmp_path):
    fake, instance, call = setup
    mme = instance()
    status, body, _, _ = mme.invoke({}, b"1")
    assert status == 400 and b"specify TargetModel" in body
    broken = tmp_path / "broken"
    broken.mkdir()  # no offset file: the fake server fails the load
    fake.capacity = 0  # and nothing to unload: the container's 507 reaches the caller
    headers = {"x-amzn-sagemaker-target-model": "x.tar.gz", "x-sagestack-model-dir": str(broken)}
    status, _, _, _ = mme.invoke(headers, b"1")
    assert status == 507 and not mme.loaded and not (mme.models_dir / model_name("x.tar.gz")).exists()


def test_place_model_links_the_files(tmp_path):
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "w.bin").write_bytes(b"x" * 10)
    place_model(source, tmp_path / "out" / "model")
    placed = tmp_path / "out" / "model" / "sub" / "w.bin"
    assert placed.read_bytes() == b"x" * 10
    assert placed.stat().st_ino == (source / "sub" / "w.bin").stat().st_ino  # a hard link, not a copy
    place_model(source, tmp_path / "out" / "model")  # idempotent
