"""Shared benchmark plumbing: a server on a temp data dir, clients, timing and table printing."""

from __future__ import annotations

import contextlib
import io
import statistics
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sagestack.local_server import ServerProcess


@contextlib.contextmanager
def running_server(extra_env: dict | None = None) -> Iterator[ServerProcess]:
    with tempfile.TemporaryDirectory(prefix="sagestack-bench-") as tmp:
        server = ServerProcess(Path(tmp) / "data", extra_env=extra_env)
        server.start()
        try:
            yield server
        finally:
            server.stop()


def tar_gz(files: dict[str, bytes | str]) -> bytes:
    """A gzipped tar of ``files`` (name → content), as a source or model archive in S3."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def timed(func, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = func(*args, **kwargs)
    return time.perf_counter() - start, result


def best_of(fn, repeat: int = 3) -> float:
    """The fastest of ``repeat`` runs of ``fn()`` (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(title: str, header: list[str], rows: list[list]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    lines = [
        f"## {title}",
        "",
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(x).ljust(w) for x, w in zip(row, widths)) + " |")
    return "\n".join(lines)
