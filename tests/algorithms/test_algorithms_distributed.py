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


# ------------------------------------------------------------------------------------------------
# BlazingText batch_skipgram on two hosts

TOPICS = [[f"t{k}w{i}" for i in range(8)] for k in range(4)]


def _corpus(topics: list[int], seed: int) -> bytes:
    import numpy as np

    rng = np.random.default_rng(seed)
    lines = [" ".join(str(rng.choice(TOPICS[k])) for _ in range(10)) for k in rng.choice(topics, 400)]
    return "\n".join(lines).encode()


def _blazingtext_host(root: str, host: str, port: int, topics: list[int]) -> None:
    import json

    from jobdir import make_job
    from sagestack.algorithms import blazingtext, distributed

    hps = {
        "mode": "batch_skipgram",
        "min_count": "1",
        "vector_dim": "16",
        "epochs": "15",
        "window_size": "3",
        "sampling_threshold": "0.001",
    }
    make_job(
        Path(root),
        hps,
        {"train": {"corpus.txt": _corpus(topics, len(topics) + port % 7)}},
        {"train": "text/plain"},
    )
    config = Path(root, "input", "config", "resourceconfig.json")
    config.write_text(json.dumps({"current_host": host, "hosts": HOSTS}))
    env = TrainingEnv.from_root(root)
    env.job_name = f"bt-{port}"
    distributed.rendezvous_port = lambda _name: port  # this process's copy of the module
    blazingtext.train(env)


@pytest.mark.slow
def test_batch_skipgram_on_two_hosts_learns_both_shards(tmp_path):
    import numpy as np

    from sagestack.algorithms import blazingtext

    context = multiprocessing.get_context("spawn")
    port = _free_port()
    shards = {"algo-1": [0, 1], "algo-2": [2, 3]}  # each host sees only two of the four topics
    peers = [
        context.Process(target=_blazingtext_host, args=(str(tmp_path / host), host, port, topics))
        for host, topics in shards.items()
    ]
    for peer in peers:
        peer.start()
    for peer in peers:
        peer.join(timeout=180)
        assert peer.exitcode == 0
    assert not (tmp_path / "algo-2" / "model").exists()  # algo-1 writes the vectors
    model = blazingtext.load_model(tmp_path / "algo-1" / "model")
    words = [w for topic in TOPICS for w in topic]
    body, _ = blazingtext.predict(
        model, json_dumps({"instances": words}), "application/json", "application/json"
    )
    vectors = {item["word"]: np.array(item["vector"]) for item in __import__("json").loads(body)}
    assert all(vectors[w].any() for w in words)  # both hosts' words are in the one vocabulary

    def cosine(a, b):
        return float(vectors[a] @ vectors[b] / np.linalg.norm(vectors[a]) / np.linalg.norm(vectors[b]))

    for k, topic in enumerate(TOPICS):  # topics 2 and 3 were seen only by algo-2
        same = np.mean([cosine(a, b) for a in topic for b in topic if a != b])
        other = np.mean([cosine(a, b) for a in topic for j, t in enumerate(TOPICS) if j != k for b in t])
        assert same > other + 0.2, (k, same, other)


def json_dumps(value) -> bytes:
    import json

    return json.dumps(value).encode()


def test_a_rendezvous_port_in_use_is_named():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AlgorithmError, match=rf"algo-1 could not listen on port {port} \(it is in use\)"):
            join(_env("algo-1", HOSTS), timeout=2, port=port)


# ------------------------------------------------------------------------------------------------
# DeepAR: hosts whose series disagree fail together with a client error


def _deepar_host(root: str, host: str, port: int, with_cat: bool, queue) -> None:
    import json

    from jobdir import make_job
    from sagestack.algorithms import deepar, distributed
    from sagestack.algorithms.base import AlgorithmClientError

    rows = []
    for i in range(3):
        row = {"start": "2022-01-03", "target": [float(v % 7) for v in range(40)]}
        if with_cat:
            row["cat"] = [i]
        rows.append(row)
    hps = {"time_freq": "D", "context_length": "7", "prediction_length": "3", "epochs": "1", "num_cells": "4"}
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    make_job(Path(root), hps, {"train": {"train.json": body}})
    Path(root, "input", "config", "resourceconfig.json").write_text(
        json.dumps({"current_host": host, "hosts": HOSTS})
    )
    env = TrainingEnv.from_root(root)
    distributed.rendezvous_port = lambda _name: port
    try:
        deepar.train(env)
        queue.put((host, "trained"))
    except AlgorithmClientError as exc:
        queue.put((host, str(exc)))


@pytest.mark.slow
def test_deepar_hosts_whose_series_disagree_fail_with_a_client_error(tmp_path):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    port = _free_port()
    peers = [
        context.Process(target=_deepar_host, args=(str(tmp_path / host), host, port, host == "algo-1", queue))
        for host in HOSTS
    ]
    for peer in peers:
        peer.start()
    results = dict(queue.get(timeout=120) for _ in HOSTS)
    for peer in peers:
        peer.join(timeout=30)
    assert results == {
        host: "The hosts' training data disagree on the number of 'cat' and 'dynamic_feat' values of a series"
        for host in HOSTS
    }
    assert not (tmp_path / "algo-1" / "model").exists()
