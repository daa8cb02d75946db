"""The Pipe-mode feeder (training's, shared by processing): FIFOs ``<stem>_<epoch>``, gzip streamed
decompressed, and the thread ended once the job is over."""

from __future__ import annotations

import gzip
import io
import threading
import time

from sagestack.execution.training.job import StopRequest
from sagestack.execution.training.staging import start_pipe


class Objects:
    def __init__(self, blobs: dict[str, bytes]):
        self.blobs = blobs

    def open(self, bucket: str, key: str):
        return io.BytesIO(self.blobs[key])


def _feeders(stem) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"pipe-job-{stem.name}"]


def test_epochs_in_order_gunzipped_and_the_thread_ends(tmp_path):
    storage = Objects({"a.gz": gzip.compress(b"first;"), "b.gz": gzip.compress(b"second;")})
    stem = tmp_path / "processing" / "input" / "stream"
    end = start_pipe(
        storage, stem, [("bkt", "a.gz", "a.gz"), ("bkt", "b.gz", "b.gz")], StopRequest(), "job", inflate=True
    )
    assert stem.with_name("stream_0").exists() and not stem.exists()
    for epoch in range(2):
        with open(stem.with_name(f"stream_{epoch}"), "rb") as pipe:
            assert pipe.read() == b"first;second;"
    assert _feeders(stem)  # waiting for epoch 2's reader
    end()
    deadline = time.monotonic() + 5
    while _feeders(stem) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _feeders(stem)
