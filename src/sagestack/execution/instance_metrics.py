"""The instance metrics SageMaker publishes for a job's instances: ``CPUUtilization`` (the sum over the
cores, 0–100 each), ``MemoryUtilization`` and ``DiskUtilization`` (percent), dimension ``Host`` =
``<job>/algo-<n>``, in the job kind's namespace (``/aws/sagemaker/ProcessingJobs``,
``/aws/sagemaker/TrainingJobs``). An instance here is a host's process tree: its CPU and resident memory
(against the instance type's memory), and the bytes under its ``/opt/ml`` tree (against
``VolumeSizeInGB``)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .storage import JobStorage
    from .training.job import HostProcess

log = logging.getLogger("sagestack.metrics")

#: How often the hosts are sampled while the job runs (AWS reports at one-minute granularity).
SAMPLE_SECONDS = 5.0


def _tree_bytes(root: Path) -> int:
    """Bytes of the regular files under ``root`` (FIFOs and links not followed)."""
    total = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


class InstanceMetrics:
    """Samples every running host and sends the three metrics to the metric store."""

    def __init__(
        self,
        storage: JobStorage,
        namespace: str,
        job_name: str,
        hosts: list[HostProcess],
        memory_mb: int,
        volume_gb: float,
    ):
        self.storage = storage
        self.namespace = namespace
        self.job_name = job_name
        self.hosts = hosts
        self.memory_bytes = max(1, memory_mb) * 1024 * 1024
        self.volume_bytes = max(1.0, volume_gb) * 1024**3
        self.cpu_seconds: dict[int, float] = {}  # pid → CPU seconds at the last sample
        self.last: dict[str, float] = {}  # host → when it was last sampled

    def _usage(self, host: HostProcess, now: float) -> tuple[float, int]:
        """(CPU percent summed over the cores since the last sample, resident bytes) of a host's process
        and its descendants; a process first seen counts from its start."""
        import psutil

        if host.remote:  # on a cluster node: its agent measures the tree there
            total, rss, started = host.process.usage()
            since = self.last.get(host.host, started)
            key = -1 - self.hosts.index(host)  # never a real pid
            used = max(0.0, total - self.cpu_seconds.get(key, 0.0))
            self.cpu_seconds[key] = total
            self.last[host.host] = now
            return 100.0 * used / max(now - since, 1e-3), rss
        root = psutil.Process(host.process.pid)
        since = self.last.get(host.host, root.create_time())
        used, rss = 0.0, 0
        for process in [root, *root.children(recursive=True)]:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    total = times.user + times.system
                    rss += process.memory_info().rss
            except psutil.Error:
                continue
            used += max(0.0, total - self.cpu_seconds.get(process.pid, 0.0))
            self.cpu_seconds[process.pid] = total
        self.last[host.host] = now
        return 100.0 * used / max(now - since, 1e-3), rss

    def sample(self) -> None:
        """One data point per metric per running host; never raises (metrics are best effort)."""
        try:
            import psutil
        except ImportError:  # pragma: no cover - psutil is a dependency
            return
        items = []
        now = time.time()
        for host in self.hosts:
            if host.process is None or host.process.poll() is not None:
                continue
            try:
                cpu, rss = self._usage(host, now)
            except psutil.Error:
                continue
            dimensions = {"Host": f"{self.job_name}/{host.host}"}
            values = {
                "CPUUtilization": cpu,
                "MemoryUtilization": min(100.0, 100.0 * rss / self.memory_bytes),
                "DiskUtilization": min(100.0, 100.0 * _tree_bytes(host.layout.root) / self.volume_bytes),
            }
            items += [
                {"name": n, "value": v, "timestamp": now, "dimensions": dimensions, "unit": "Percent"}
                for n, v in values.items()
            ]
        if items:
            try:
                self.storage.put_metrics(self.namespace, items)
            except Exception:
                log.debug("instance metrics of %s not stored", self.job_name, exc_info=True)
