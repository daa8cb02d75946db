"""The hosts' rendezvous of data-parallel built-in algorithms (:mod:`sagestack.algorithms.distributed`):
one host needs none, a peer that never joins fails the job with a clear error after the timeout, and
two hosts average their gradients."""

from __future__ import annotations

import multiprocessing
import socket
import time
from pathlib import Path

import pytest

from sagestack.algorithms.base import AlgorithmError, TrainingEnv
from sagestack.algorithms.distributed import join, rendezvous_port

HOSTS = ["algo-1", "algo-2"]


def _env(host: str, hosts: list[str], name: str = "job") -> TrainingEnv:
    return TrainingEnv(
        root=Path("/nonexistent"),
        hyperparameters={},
        channels={},
        hosts=hosts,
        current_host=host,
        job_name=name,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_host_needs_no_rendezvous():
    group = join(_env("algo-1", ["algo-1"]), timeout=0.1)
    assert (group.rank, group.world, group.leader, group.active) == (0, 1, True, False)
    assert group.sum([1.0, 2.0]) == [1.0, 2.0] and group.max([3.0]) == [3.0]
    group.agree([1, 2], "anything")
    group.close()


def test_rendezvous_port_is_stable_per_job_and_differs_across_jobs():
    assert rendezvous_port("job-a") == rendezvous_port("job-a")
    assert len({rendezvous_port(f"job-{i}") for i in range(50)}) > 45
    assert all(20000 <= rendezvous_port(f"job-{i}") < 40000 for i in range(50))


def test_a_peer_that_never_joins_fails_the_leader_after_the_timeout():
    started = time.time()
    with pytest.raises(
        AlgorithmError, match=r"not every host of \['algo-1', 'algo-2'\] joined algo-1:\d+ within 2s"
    ):
        join(_env("algo-1", HOSTS), timeout=2, port=_free_port())
    assert time.time() - started < 30


def test_a_host_that_cannot_reach_the_leader_fails_after_the_timeout():
    with pytest.raises(AlgorithmError, match=r"algo-2 could not join algo-1:\d+ within 2s"):
        join(_env("algo-2", HOSTS), timeout=2, port=_free_port())


def test_a_host_outside_the_job_is_refused():
    with pytest.raises(AlgorithmError, match="algo-3 is not one of the job's hosts"):
        join(_env("algo-3", HOSTS), timeout=1)


def _peer(host: str, port: int, queue) -> None:
    import torch

    group = join(_env(host, HOSTS), timeout=30, port=port)
    try:
        layer = torch.nn.Linear(2, 1)
        torch.manual_seed(group.rank)  # different local weights: broadcast makes them the leader's
        with torch.no_grad():
            layer.weight.normal_()
        group.broadcast(layer)
        x = torch.full((1, 2), float(group.rank + 1))
        layer(x).sum().backward()
        group.average_gradients(layer.parameters())
        queue.put(
            (
                host,
                layer.weight.detach().tolist(),
                layer.weight.grad.tolist(),
                group.sum([group.rank + 1.0]),
                group.max([group.rank * 10.0]),
            )
        )
    finally:
        group.close()


@pytest.mark.slow
def test_two_hosts_share_weights_and_average_gradients():
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    port = _free_port()
    peers = [context.Process(target=_peer, args=(host, port, queue)) for host in HOSTS]
    for peer in peers:
        peer.start()
    results = {}
    for _ in HOSTS:
        host, weight, grad, total, top = queue.get(timeout=120)
        results[host] = (weight, grad, total, top)
    for peer in peers:
        peer.join(timeout=30)
        assert peer.exitcode == 0
    one, two = results["algo-1"], results["algo-2"]
    assert one[0] == two[0]  # the leader's weights on both hosts
    # d(sum(w·x + b))/dw = x: (1, 1) on algo-1 and (2, 2) on algo-2 → the mean 1.5 on both
    assert one[1] == two[1] == [[1.5, 1.5]]
    assert one[2] == two[2] == [3.0] and one[3] == two[3] == [10.0]
