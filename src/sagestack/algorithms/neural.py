"""What the torch-based built-in algorithms (NTM, IP Insights, Object2Vec) share.

* :func:`setup_torch`: seeded and single-threaded: these networks' mini-batch products are small, and
  intra-op threads cost more in synchronisation than they gain — on a loaded 2-core host an NTM epoch
  ran 18 times slower with 2 threads than with 1 (the same reasoning as Linear Learner's single-threaded
  BLAS);
* :func:`make_optimizer`: SageMaker's optimizer names (``sgd``, ``adam``, ``adagrad``, ``rmsprop``,
  ``adadelta``) as torch optimizers;
* :func:`save_state` / :func:`load_state`: a model directory holding ``model_algo-1`` (the torch
  ``state_dict``, loaded with ``weights_only``) and ``model_algo-1.json`` (the configuration).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from sagestack.algorithms.base import AlgorithmError
from sagestack.algorithms.common import MODEL_NAME, load_metadata, save_metadata

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "adagrad", "rmsprop", "adadelta")
THREADS = 1


def setup_torch(num_cpus: int = 1, seed: int = 0) -> Any:
    """torch, seeded, on :data:`THREADS` threads (``num_cpus`` only caps it)."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(max(1, min(int(num_cpus or 1), THREADS)))
    return torch


def make_optimizer(
    name: str,
    parameters: Iterable[Any],
    learning_rate: float,
    weight_decay: float = 0.0,
    *,
    momentum: float = 0.9,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    alpha: float = 0.99,
    rms_momentum: float = 0.0,
) -> Any:
    """SageMaker's optimizer names as torch optimizers: ``sgd`` and ``nag`` (Nesterov) with ``momentum``,
    ``adam`` (``betas``, ``eps``), ``adagrad``, ``rmsprop`` (``alpha``: the squared-gradient decay,
    ``rms_momentum``, ``eps``) and ``adadelta``; all with ``weight_decay``."""
    import torch

    params = [p for p in parameters if p.requires_grad]
    if name == "sgd":
        return torch.optim.SGD(params, lr=learning_rate, momentum=momentum, weight_decay=weight_decay)
    if name == "nag":
        return torch.optim.SGD(
            params, lr=learning_rate, momentum=momentum, nesterov=momentum > 0, weight_decay=weight_decay
        )
    if name == "adam":
        return torch.optim.Adam(params, lr=learning_rate, betas=betas, eps=eps, weight_decay=weight_decay)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=learning_rate, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=learning_rate, alpha=alpha, eps=eps, momentum=rms_momentum, weight_decay=weight_decay
        )
    if name == "adadelta":
        # MXNet's AdaDelta (what SageMaker's containers use) has no learning rate: it adapts its own
        # step, so learning_rate does not apply (torch's lr=1.0 is the unscaled update); rho and epsilon
        # are MXNet's defaults (0.9, 1e-5).
        return torch.optim.Adadelta(params, lr=1.0, rho=0.9, eps=1e-5, weight_decay=weight_decay)
    raise AlgorithmError(f"unknown optimizer {name!r}")


def save_state(model_dir: Path, module: Any, metadata: Mapping[str, Any]) -> None:
    import torch

    save_metadata(Path(model_dir), metadata)
    torch.save(module.state_dict(), Path(model_dir) / MODEL_NAME)


def load_state(model_dir: Path, algorithm: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(metadata, state_dict)`` of a model directory written by :func:`save_state`."""
    import torch

    model_dir = Path(model_dir)
    try:
        metadata = load_metadata(model_dir)
    except FileNotFoundError:
        raise AlgorithmError(f"Not a {algorithm} model directory ({MODEL_NAME}.json is missing)") from None
    if metadata.get("algorithm") != algorithm:
        raise AlgorithmError(f"The model in {model_dir} was trained by {metadata.get('algorithm')!r}")
    state = torch.load(model_dir / MODEL_NAME, map_location="cpu", weights_only=True)
    return metadata, state


def save_network(
    model_dir: Path, network: Any, algorithm: str, hp: Mapping[str, Any], kept: Iterable[str]
) -> None:
    """A network's ``state_dict`` with the hyperparameters (those named in ``kept``) that rebuild it."""
    Path(model_dir).mkdir(parents=True, exist_ok=True)
    save_state(model_dir, network, {"algorithm": algorithm, "hyperparameters": {k: hp[k] for k in kept}})


def load_network(model_dir: Path, algorithm: str, build: Callable[[dict], Any]) -> tuple[Any, dict]:
    """``(network, hyperparameters)`` of a directory :func:`save_network` wrote, in eval mode on the CPU;
    ``build(hyperparameters)`` makes the empty network."""
    import torch

    torch.set_num_threads(1)
    meta, state = load_state(Path(model_dir), algorithm)
    hp = meta["hyperparameters"]
    network = build(hp)
    network.load_state_dict(state)
    network.eval()
    return network, hp
