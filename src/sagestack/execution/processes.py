"""Ending a job's processes: light enough for the Ray node agent (execution/ray_host.py) to import."""

from __future__ import annotations

import os


def kill_tree(pid: int, sig: int) -> None:
    """Signal a job's process group and every descendant (even ones that left the group)."""
    try:
        import psutil

        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            children = []
        for child in children:
            try:
                child.send_signal(sig)
            except psutil.Error:
                pass
    except ImportError:
        pass
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
