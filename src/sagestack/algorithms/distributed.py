"""Data-parallel training across a job's hosts for the built-in algorithms that SageMaker trains on
several instances: ``torch.distributed`` with the gloo backend over TCP.

:func:`join` returns a :class:`Group`: on one host a no-op group (rank 0 of 1), on several hosts a
process group whose rank is the host's index in ``env.hosts`` and whose rendezvous is ``algo-1`` (the
first host) on a port derived from the job name, so concurrent jobs do not meet. A peer that does not
join within ``timeout`` seconds fails the job with an error naming the hosts. The leader (``algo-1``)
writes the model and logs the metrics.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import socket
from dataclasses import dataclass
from typing import Any

from sagestack.algorithms.base import AlgorithmClientError, AlgorithmError, TrainingEnv

PEER_TIMEOUT_SECONDS = 300.0
PORT_BASE, PORT_SPAN = 20000, 20000


def rendezvous_port(job_name: str) -> int:
    """The TCP port of a job's rendezvous on its first host (stable for the job, spread across jobs)."""
    digest = hashlib.sha256(job_name.encode()).digest()
    return PORT_BASE + int.from_bytes(digest[:4], "big") % PORT_SPAN


def master_address(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        return "127.0.0.1"  # sagestack's hosts are local processes


@dataclass
class Group:
    rank: int = 0
    world: int = 1
    hosts: tuple[str, ...] = ("algo-1",)
    active: bool = False

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def _reduce(self, tensor: Any, op: str) -> Any:
        if self.active:
            import torch.distributed as dist

            dist.all_reduce(tensor, op=getattr(dist.ReduceOp, op))
        return tensor

    def sum(self, values: list[float]) -> list[float]:
        import torch

        return self._reduce(torch.tensor(values, dtype=torch.float64), "SUM").tolist()

    def max(self, values: list[float]) -> list[float]:
        import torch

        return self._reduce(torch.tensor(values, dtype=torch.float64), "MAX").tolist()

    def agree(self, values: list[float], what: str) -> None:
        """Fail the job on every host when the hosts' ``values`` differ."""
        if not self.active:
            return
        high = self.max(values)
        low = [-v for v in self.max([-v for v in values])]
        if high != low:
            raise AlgorithmClientError(f"The hosts' training data disagree on {what}")

    def gather(self, value: Any) -> list[Any]:
        """Every host's ``value`` (picklable), in host order."""
        if not self.active:
            return [value]
        import torch.distributed as dist

        values: list[Any] = [None] * self.world
        dist.all_gather_object(values, value)
        return values

    def average_arrays(self, arrays) -> None:
        """Replace each float32 numpy array, in place, by its mean over the hosts."""
        if not self.active:
            return
        import torch

        for array in arrays:
            tensor = torch.from_numpy(array)  # shares the array's memory
            self._reduce(tensor, "SUM")
            tensor /= self.world

    def average_gradients(self, parameters) -> None:
        """Replace every gradient by its mean over the hosts (one flat all_reduce)."""
        if not self.active:
            return
        import torch

        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        self._reduce(flat, "SUM")
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def broadcast(self, module) -> None:
        """Give every host the leader's parameters (identical starting weights)."""
        if not self.active:
            return
        import torch.distributed as dist

        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)

    def close(self) -> None:
        if self.active:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self.active = False


def join(env: TrainingEnv, timeout: float = PEER_TIMEOUT_SECONDS, port: int | None = None) -> Group:
    """Join the job's hosts (see the module docstring); one host: a no-op group."""
    hosts = tuple(env.hosts or ["algo-1"])
    if len(hosts) == 1:
        return Group(hosts=hosts)
    if env.current_host not in hosts:
        raise AlgorithmError(f"Host {env.current_host} is not one of the job's hosts {list(hosts)}")
    import torch.distributed as dist

    rank = hosts.index(env.current_host)
    address = master_address(hosts[0])
    port = port or rendezvous_port(env.job_name or "sagestack")
    if ipaddress.ip_address(address).is_loopback:
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    wait = datetime.timedelta(seconds=timeout)
    try:
        store = dist.TCPStore(address, port, len(hosts), is_master=rank == 0, timeout=wait)
        dist.init_process_group("gloo", store=store, rank=rank, world_size=len(hosts), timeout=wait)
    except Exception as exc:  # torch raises DistStoreError / DistNetworkError (RuntimeErrors)
        text = str(exc)
        if rank == 0 and "EADDRINUSE" in text:
            reason = f"{hosts[0]} could not listen on port {port} (it is in use)"
        elif rank == 0:
            reason = f"not every host of {list(hosts)} joined {hosts[0]}:{port} within {timeout:g}s"
        else:
            reason = f"{env.current_host} could not join {hosts[0]}:{port} within {timeout:g}s"
        raise AlgorithmError(
            f"Distributed training could not start: {reason} ({type(exc).__name__})"
        ) from None
    return Group(rank=rank, world=len(hosts), hosts=hosts, active=True)
