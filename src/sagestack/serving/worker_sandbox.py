"""A worker's confinement (endpoints, serverless, multi-model, inference pipelines, batch transform): the
model's code — ``model_fn``, ``input_fn``, a custom ``inference.py``, the requirements it installs — is user
code, confined as a job's is (:mod:`sagestack.job_sandbox`): a private ``/tmp``, the data dir hidden but
for the model directories the worker reads, and the worker's user dropped to ``SAGESTACK_JOB_USER``.

The server asks for it with the ``sandbox`` entry of the worker's config (:func:`sandbox_config`); the
worker applies it in :func:`confine_worker`, after its model's network isolation and before it loads the
model. What the worker still holds open (its listening socket, status pipe, lifeline) is unaffected."""

from __future__ import annotations

import os
from pathlib import Path

from .. import job_sandbox


def sandbox_config(settings) -> dict:
    """What the server hands its workers: the user their code runs as and the data dir they do not see."""
    return {"user": settings.job_user or "", "data_dir": str(settings.data_dir)}


def model_paths(containers: list[dict]) -> list[str]:
    """The folders the worker reads the models and code from. A multi-model container's models are
    unpacked later by the server into the model cache: the whole cache (its ``model_dir`` is in it)."""
    paths: list[str] = []
    for container in containers:
        model_dir = container.get("model_dir")
        if container.get("multi_model") is not None and model_dir:
            paths.append(str(Path(model_dir).parent))
        paths += [p for p in (model_dir, container.get("code_dir")) if p]
        for part in container.get("command") or ():  # a framework's own server (runtimes.py)
            if isinstance(part, str) and part.startswith("/") and os.path.exists(part):
                paths.append(str(Path(part).parent))
    return paths


def writes_system_libraries(containers: list[dict]) -> bool:
    """Whether a model ships ``shared_libs``: the SDK's ModelBuilder packages the libraries a model needs
    there, and its serving code copies them into ``/lib`` (where, in a container, it runs as root)."""
    return any(c.get("model_dir") and (Path(c["model_dir"]) / "shared_libs").is_dir() for c in containers)


def confine_worker(config: dict, own_dir: Path) -> list[str]:
    """Confine this worker process (already in its own mount namespace); its log lines. ``own_dir`` becomes
    the worker's: its ``/tmp`` and home are in it, and it is the worker's working directory afterwards.
    A model with ``shared_libs`` gets a ``/lib`` of its own to copy them into."""
    sandbox = config.get("sandbox") or {}
    containers = config.get("containers") or []
    tmp, home = own_dir / "tmp", own_dir / "home"
    tmp.mkdir(parents=True, exist_ok=True)
    os.chmod(tmp, 0o1777)
    outcome = job_sandbox.confine(
        what="model",
        user_name=sandbox.get("user", ""),
        tmp=tmp,
        home=home,
        own=[own_dir],
        needed=[*job_sandbox.runtime_paths(), *model_paths(containers)],
        hide=[sandbox.get("data_dir")],
        writable={"/lib": own_dir / "lib"} if writes_system_libraries(containers) else None,
    )
    if outcome.user is not None:
        os.chdir(own_dir)
    return outcome.lines
