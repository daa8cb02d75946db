"""Training and processing hosts that run the job's own image in the container engine (bring your own
container): the host's staged ``/opt/ml`` tree bind-mounted at ``/opt/ml``, SageMaker's contract
(``train`` argument or the ContainerEntrypoint/ContainerArguments, the ``SM_*`` environment, the config
files), the host network with ``algo-N`` host names resolving to the local machine — with
EnableNetworkIsolation, ``--network none`` for one host, or for several an internal engine network of the
job's own (no route out) where ``algo-N`` resolves to each host's address. The engine's client process is the host's process: its output is the job log, its
exit code the container's; a stop signals the container itself (``<engine> kill``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..containers.engine import Engine, EngineError, RunSpec, container_name, engine_for, run_command
from ..domain.images import is_own_image, parse_image
from .layout import OPT_ML, HostLayout, training_environment
from .training import supervision
from .training.job import HostProcess, JobFailed
from .training.metrics import MetricCollector

#: Variables of the job's access to the server that a container cannot use (the client plugin is a file
#: of the server's machine).
HOST_ONLY = ("BOTOCORE_EXPERIMENTAL__PLUGINS",)


#: The label naming the job directory a container belongs to (one data dir's jobs never touch another's).
JOB_DIR_LABEL = "sagestack.jobdir"


def _names(host: HostProcess, name: str) -> tuple[str, dict[str, str]]:
    """The container's name (job, host and a hash of its job directory: two servers on one engine can run
    jobs of the same name) and its labels."""
    job_dir = str(host.layout.root.parent)
    digest = hashlib.sha1(job_dir.encode()).hexdigest()[:8]
    labels = {"sagestack.job": name, "sagestack.host": host.host, JOB_DIR_LABEL: job_dir}
    return container_name(name, host.host, digest), labels


@dataclass(frozen=True)
class JobNetwork:
    """The internal network of an isolated multi-instance job: its name and each host's address on it."""

    name: str
    addresses: dict[str, str]
    #: docker gives a container an address of its choosing only on a network made with ``--subnet``: there
    #: the hosts find each other through the engine's DNS (``--network-alias algo-N``) instead
    by_alias: bool = False


def open_network(engine: Engine, hosts: list[HostProcess], name: str, isolated: bool) -> JobNetwork | None:
    """The network of an isolated job of several hosts (None otherwise: one isolated host has no network,
    an open job the host's): internal, so its hosts reach each other and nothing else. Created here,
    removed by ``close_network`` when the job ends; labelled with the job directory so that a server
    restarting after a crash removes it (``end_leftovers``)."""
    if not isolated or len(hosts) < 2:
        return None
    job_dir = str(hosts[0].layout.root.parent)
    digest = hashlib.sha1(job_dir.encode()).hexdigest()[:8]
    network = container_name(name, digest)
    try:
        addresses = engine.create_internal_network(
            network, {"sagestack.job": name, JOB_DIR_LABEL: job_dir}, len(hosts)
        )
    except EngineError as exc:
        raise JobFailed(
            f"InternalServerError: {engine.name} could not create the network of the job's hosts "
            f"(EnableNetworkIsolation with {len(hosts)} instances): {exc}"
        ) from None
    by_alias = engine.name == "docker"
    return JobNetwork(network, {h.host: a for h, a in zip(hosts, addresses, strict=True)}, by_alias)


def close_network(engine: Engine | None, network: JobNetwork | None) -> None:
    if engine is not None and network is not None:
        engine.remove_network(network.name)


def end_leftovers(platform, kind: str, job, image: str) -> int:
    """At a server start: remove the containers a job of the user's image left running when the server
    went down (its engine client was killed, the container was not). ``kind``: training | processing."""
    if not image or not is_own_image(parse_image(image)):
        return 0
    engine = engine_for(platform)
    if engine is None:
        return 0
    job_dir = platform.settings.jobs_dir / kind / job.account_id / job.region / job.name
    removed = engine.remove_labelled(JOB_DIR_LABEL, str(job_dir))
    engine.remove_labelled_networks(JOB_DIR_LABEL, str(job_dir))
    return removed


def _network(host: HostProcess, host_names: list[str], isolated: bool, network: JobNetwork | None) -> dict:
    """The ``RunSpec`` fields of a host's network: the host network (so that the server on 127.0.0.1 and
    the other algo-N hosts are reachable) unless isolated: then the job's internal network, where every
    algo-N resolves to its host's address, or no network at all for a job of one host."""
    if network is not None and network.by_alias:
        return {"network": network.name, "aliases": [host.host], "hosts": {}}
    if network is not None:
        return {"network": network.name, "ip": network.addresses[host.host], "hosts": dict(network.addresses)}
    if isolated:
        return {"network": "none", "hosts": {}}
    return {"network": "host", "hosts": {h: "127.0.0.1" for h in host_names}}


def _access(aws_env: dict[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (aws_env or {}).items() if k not in HOST_ONLY}


def launch_training(
    host: HostProcess,
    engine: Engine,
    *,
    data: dict,
    name: str,
    region: str,
    image: str,
    cpus: int,
    gpus: int,
    host_names: list[str],
    storage,
    log_group: str,
    metrics: MetricCollector,
    aws_env: dict[str, str] | None = None,
    network: JobNetwork | None = None,
) -> None:
    """Start one training host's container (its ``/opt/ml`` is staged and its config files written)."""
    inside = HostLayout(host.layout.root, OPT_ML)
    config = host.layout.path("input", "config")
    hyperparameters = json.loads((config / "hyperparameters.json").read_text())
    environment = training_environment(
        inside,
        job_name=name,
        hyperparameters=hyperparameters,
        input_config=json.loads((config / "inputdataconfig.json").read_text()),
        resource_config=json.loads((config / "resourceconfig.json").read_text()),
        num_cpus=cpus,
        num_gpus=gpus,
        region=region,
        program=None,
        job_arn=data.get("TrainingJobArn", ""),
    )
    environment.update(_access(aws_env))
    environment.update(data.get("Environment") or {})
    algorithm = data["AlgorithmSpecification"]
    isolated = bool(data.get("EnableNetworkIsolation"))
    container, labels = _names(host, name)
    spec = RunSpec(
        image=image,
        name=container,
        args=list(
            algorithm.get("ContainerArguments") or ([] if algorithm.get("ContainerEntrypoint") else ["train"])
        ),
        entrypoint=list(algorithm.get("ContainerEntrypoint") or []) or None,
        environment=environment,
        mounts=[(str(host.layout.root), str(OPT_ML), False)],
        hostname=host.host,
        labels=labels,
        workdir=None,
        **_network(host, host_names, isolated, network),
    )
    _start(host, engine, spec, storage, log_group, metrics, name)


def launch_processing(
    host: HostProcess,
    engine: Engine,
    *,
    data: dict,
    name: str,
    region: str,
    image: str,
    host_names: list[str],
    storage,
    log_group: str,
    metrics: MetricCollector,
    aws_env: dict[str, str] | None = None,
    network: JobNetwork | None = None,
) -> None:
    """Start one processing host's container: the ContainerEntrypoint (else the image's) with the
    ContainerArguments, ``/opt/ml`` mounted (every LocalPath is under /opt/ml/processing)."""
    app = data["AppSpecification"]
    environment = {"AWS_REGION": region, "AWS_DEFAULT_REGION": region, **_access(aws_env)}
    environment.update(data.get("Environment") or {})
    mounts = [(str(host.layout.root), str(OPT_ML), False)]
    isolated = bool((data.get("NetworkConfig") or {}).get("EnableNetworkIsolation"))
    container, labels = _names(host, name)
    spec = RunSpec(
        image=image,
        name=container,
        args=list(app.get("ContainerArguments") or []),
        entrypoint=list(app.get("ContainerEntrypoint") or []) or None,
        environment=environment,
        mounts=mounts,
        hostname=host.host,
        labels=labels,
        **_network(host, host_names, isolated, network),
    )
    _start(host, engine, spec, storage, log_group, metrics, name)


def _start(
    host: HostProcess,
    engine: Engine,
    spec: RunSpec,
    storage,
    log_group: str,
    metrics: MetricCollector,
    name: str,
) -> None:
    engine.remove(spec.name)  # a container left by a run the server did not see end
    command, env = run_command(engine, spec)
    host.container = spec.name
    host.engine = engine
    supervision.log_line(
        storage, log_group, host, f"sagestack: running image {spec.image} in {engine.name} ({spec.name})"
    )
    supervision.start_process(
        host,
        command,
        env=env,
        cwd=str(Path(host.layout.root)),
        storage=storage,
        log_group=log_group,
        metrics=metrics,
        name=name,
    )
