"""``<data-dir>/server.pid``: which server owns a data dir.

``sagestack serve`` writes it at start — a JSON object with the pid, the address and the start time —
and holds an exclusive ``flock`` on it while it runs; a clean exit removes it. The lock, not the file, is
the truth: the kernel drops it when the process dies, so a file left behind by a killed server (or one
whose pid was since reused) is stale and blocks nothing. Where ``flock`` does not exist, a live pid is
taken as a running server.

``sagestack status`` reads it to find the server; ``sagestack reset`` refuses while it is held and holds
it itself while it wipes the data dir, so a server cannot start on a half-deleted one.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

FILENAME = "server.pid"


class DataDirInUse(Exception):
    """Another process holds the data dir; ``owner`` is what its pid file says (may be empty)."""

    def __init__(self, path: Path, owner: dict):
        pid = owner.get("pid", "?")
        where = f" on {owner['url']}" if owner.get("url") else ""
        super().__init__(
            f"the data dir {path.parent} is in use by the sagestack server with pid {pid}{where}"
        )
        self.owner = owner


def path_for(data_dir: Path) -> Path:
    return Path(data_dir) / FILENAME


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


@dataclass
class DataDirLock:
    """An exclusive hold on a data dir (the server's for its lifetime; ``reset``'s while it deletes)."""

    path: Path
    handle: object

    @classmethod
    def acquire(cls, data_dir: Path, owner: dict | None = None, retry_s: float = 1.0) -> DataDirLock:
        """Take the data dir or raise :class:`DataDirInUse`. ``owner``: written into the file (the server's
        pid and address); a ``reset`` takes the lock without rewriting what is there."""
        path = path_for(data_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")
        deadline = time.monotonic() + retry_s
        while True:
            try:
                _lock(handle, path)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:  # another holder (a probe holds it for a moment only)
                    handle.close()
                    raise DataDirInUse(path, _read(path)) from None
                time.sleep(0.05)
        if owner is not None:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(owner) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return cls(path, handle)

    def release(self, remove: bool = True) -> None:
        """Give the data dir back; ``remove``: delete the pid file first (a clean exit)."""
        if self.handle is None:
            return
        if remove:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
        self.handle.close()  # drops the lock
        self.handle = None


def _lock(handle, path: Path) -> None:
    if fcntl is not None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    owner = _read(path)  # pragma: no cover - no flock: a live pid other than ours holds it
    pid = owner.get("pid")
    if isinstance(pid, int) and pid != os.getpid() and _pid_alive(pid):
        raise BlockingIOError(pid)


def running_server(data_dir: Path) -> dict | None:
    """What the pid file of the server running on ``data_dir`` says, or None when none runs (no file, or a
    stale one). Never blocks a server that is starting: it only tests the lock."""
    path = path_for(data_dir)
    if not path.exists():
        return None
    owner = _read(path)
    if fcntl is None:  # pragma: no cover
        pid = owner.get("pid")
        return owner if isinstance(pid, int) and _pid_alive(pid) else None
    try:
        handle = open(path)
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return owner or _read(path) or {"pid": None}
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None


def stale_owner(data_dir: Path) -> dict | None:
    """The pid file a server that did not exit cleanly left behind (None if there is none or it runs)."""
    path = path_for(data_dir)
    if not path.exists() or running_server(data_dir) is not None:
        return None
    return _read(path)
