"""Allocator hygiene for processes that move large buffers (payloads, chunks of files).

glibc raises its mmap threshold each time a large block is freed, after which multi-MB buffers come
from the heap and the memory stays with the process after use. Fixing the threshold at 1 MiB keeps
large buffers on mmap, so they go back to the OS when freed and a process's memory follows its
working set instead of its history.
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3


def tune_allocator(threshold: int = 1 << 20) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False
