"""Buffered appends to one log stream, for the subsystems that produce logs (training and processing
jobs, endpoint workers): lines are batched by count or age and handed to the log store's ``append``
(which creates the group and stream on demand)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol


class LogSink(Protocol):
    def append(
        self, account: str, region: str, group_name: str, stream_name: str, events: Iterable[tuple[int, str]]
    ) -> int: ...


def now_ms() -> int:
    return int(time.time() * 1000)


class LogWriter:
    """Buffers lines for one stream and appends them in batches (by count or age).

    Call :meth:`write` per line, :meth:`flush` when the source goes quiet, :meth:`close` at the end.
    Thread-safe."""

    def __init__(
        self,
        store: LogSink,
        account: str,
        region: str,
        group: str,
        stream: str,
        max_events: int,
        max_delay: float,
        clock: Callable[[], float],
    ):
        self.store, self.key = store, (account, region, group, stream)
        self.max_events, self.max_delay, self.clock = max_events, max_delay, clock
        self._buffer: list[tuple[int, str]] = []
        self._oldest = 0.0
        self._lock = threading.Lock()

    def write(self, message: str, timestamp: int | None = None) -> None:
        with self._lock:
            if not self._buffer:
                self._oldest = self.clock()
            self._buffer.append((now_ms() if timestamp is None else timestamp, message))
            due = len(self._buffer) >= self.max_events or self.clock() - self._oldest >= self.max_delay
        if due:
            self.flush()

    def flush(self) -> int:
        with self._lock:
            batch, self._buffer = self._buffer, []
        return self.store.append(*self.key, batch) if batch else 0

    def close(self) -> None:
        self.flush()
