"""The Ray executor: training, processing and tuning-child jobs run on a Ray cluster instead of this
machine (``sagestack serve --executor ray --ray-address ADDR``).

Everything a run does stays the same (execution/training/run.py, execution/processing/run.py: staging,
``/opt/ml`` layout, logs, metrics, checkpoints, stops, time limits, uploads); only *where each host's
process runs* changes. A job reserves its instances as a placement group with one bundle per instance
(the instance type's vCPUs, memory and GPUs, capped at what the largest node has, as the local executor
caps at the machine), spread over the nodes (STRICT_SPREAD when there are enough nodes, else SPREAD),
named ``<kind>/<account>/<region>/<job>`` in Ray's state API. On each node a long-lived
:class:`~.ray_host.NodeAgent` actor (one per node and server, started on first use) starts the processes
of the hosts whose bundles Ray put there, so a job start costs no new Ray worker process; the server
reads their output lines back through the agent (the log stream and metric regexes as for a local job).
Every host gets the map ``algo-N → node IP`` (its ``/etc/hosts`` inside the job, see execution/entry.py)
so distributed frameworks find their peers by SageMaker's names.

A server that dies mid-job (SIGKILL, a lost machine) takes its agents with it — they are owned by its
Ray driver — and the host processes end with their agent (execution/ray_host.py). Before another server
(``--cluster``) runs such a job again, :meth:`RayExecutor.end_orphans` has its own agent on every live node
end whatever of the job is still there (each host process carries its job's key), so a job never runs
twice at once.

A node that dies mid-job ends its agent: the host counts as *lost* (``HostProcess.lost``), the other hosts
are stopped, and the run reports it like a spot interruption (the job resumes from its checkpoints when it
can, else fails with ``instance lost: Ray node … died``).

The job directories live under the server's data dir, which the nodes must share (the same path on every
node; docs/deployment-ray.md).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid

from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayError
from ray.util.placement_group import placement_group, placement_group_table, remove_placement_group
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

import ray

from ..domain import instance_types
from ..store.resources import Resource
from .ray_host import JOB_KEY, NodeAgent
from .training.executor import LocalExecutor
from .training.run import TrainingRun

log = logging.getLogger("sagestack.ray")

NAMESPACE = "sagestack"
PLACEMENT_WAIT_SECONDS = 300.0
READ_WAIT_SECONDS = 0.5
UNAVAILABLE_SECONDS = 30.0  # how long an unreachable actor on a live node may take to answer again
_connect_lock = threading.Lock()


def connect(address: str | None) -> None:
    """Join the Ray cluster as a driver (once per server process)."""
    with _connect_lock:
        if ray.is_initialized():
            return
        main = threading.current_thread() is threading.main_thread()
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)} if main else {}
        ray.init(address=address or "auto", namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
        for sig, handler in handlers.items():  # the server's graceful stop, not Ray's sys.exit
            if handler is not None:
                signal.signal(sig, handler)


def cluster_shape() -> dict:
    """What the alive nodes have: total CPUs/MiB/GPUs, the largest node's, and how many nodes."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    cpus = [float(n["Resources"].get("CPU", 0)) for n in nodes]
    memory = [float(n["Resources"].get("memory", 0)) / (1024 * 1024) for n in nodes]
    gpus = [float(n["Resources"].get("GPU", 0)) for n in nodes]
    return {
        "nodes": len(nodes),
        "cpus": int(sum(cpus)),
        "memory_mb": int(sum(memory)),
        "node_cpus": int(max(cpus, default=0)),
        "node_memory_mb": int(max(memory, default=0)),
        "node_gpus": int(max(gpus, default=0)),
    }


def node_alive(node_id: str) -> bool:
    """Whether the cluster still counts the node among its live ones (False when it cannot tell)."""
    try:
        return any(n.get("NodeID") == node_id and n.get("Alive") for n in ray.nodes())
    except Exception:
        return False


class RayProcess:
    """A host's process in an actor on a cluster node, seen as the ``subprocess.Popen`` supervision
    expects: ``stdout`` yields its lines (read back through the actor), ``poll``/``returncode`` its exit,
    ``send_signal`` signals its tree there. ``lost`` says why, when the node (or the actor) died."""

    remote = True

    def __init__(self, actor, key: str, pid: int, node_ip: str, node_id: str, forget=None):
        self.actor = actor
        self.forget = forget  # called when the agent is found dead
        self.key = key
        self.pid = pid
        self.node_ip = node_ip
        self.node_id = node_id
        self.returncode: int | None = None
        self.lost: str | None = None
        self.stdout = self._lines()

    def _lines(self):
        unavailable_since = None
        while True:
            try:
                lines, code = ray.get(self.actor.read.remote(self.key, READ_WAIT_SECONDS))
            except ActorUnavailableError as exc:  # maybe passing (a busy node), maybe its node is gone
                unavailable_since = unavailable_since or time.monotonic()
                if node_alive(self.node_id) and time.monotonic() - unavailable_since < UNAVAILABLE_SECONDS:
                    time.sleep(1.0)
                    continue
                self._lose(exc)
                return
            except RayError as exc:
                self._lose(exc)
                return
            unavailable_since = None
            yield from lines or [b""]  # an idle read: the reader flushes what it holds
            if code is not None:
                self.returncode = code
                return

    def _lose(self, exc: BaseException) -> None:
        if self.forget is not None:
            self.forget()
        where = f"Ray node {self.node_id} ({self.node_ip})"
        if node_alive(self.node_id):
            self.lost = f"the Ray node agent on {where} died: {_first_line(exc)}"
        else:
            self.lost = f"{where} died"
        self.returncode = -9

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is not None:
            return
        try:
            ray.get(self.actor.signal.remote(self.key, int(sig)), timeout=10)
        except (RayError, GetTimeoutError):
            pass

    def usage(self) -> tuple[float, int, float]:
        try:
            return ray.get(self.actor.usage.remote(self.key), timeout=5)
        except (RayError, GetTimeoutError):
            return 0.0, 0, time.time()


class RayPlacement:
    """One run's placement group (the reservation of its instances' resources)."""

    def __init__(self, group):
        self.group = group

    def release(self) -> None:
        try:
            remove_placement_group(self.group)
        except Exception:
            log.debug("could not remove a placement group", exc_info=True)


class RayExecutor(LocalExecutor):
    """The local executor's queue and capacity accounting over the cluster's resources (refreshed at each
    start, so nodes that join or leave count), with each run's hosts placed on the cluster."""

    def __init__(self, platform, on_finished=None, run_class=TrainingRun):
        super().__init__(platform, on_finished, run_class)
        connect(platform.settings.ray_address)
        self.placements: dict[int, RayPlacement] = {}
        self.agent_class = ray.remote(NodeAgent)
        self.agents: dict[str, tuple] = {}  # node id → (agent actor, node IP)
        self.agents_lock = threading.Lock()
        self.token = uuid.uuid4().hex[:8]  # this server's agents (servers sharing a cluster keep their own)
        self.generation = 0
        self.shape = cluster_shape()
        self._refresh()

    def _refresh(self) -> None:
        try:
            self.shape = cluster_shape()
        except Exception:
            log.warning("could not read the Ray cluster's nodes", exc_info=True)
        settings = self.platform.settings
        self.capacity = max(1, min(self.shape["cpus"], settings.max_cpus or self.shape["cpus"]))
        memory = self.shape["memory_mb"]
        self.memory_capacity = max(1, min(memory, settings.max_memory_mb or memory))

    def per_host(self, instance_type: str | None) -> tuple[float, int, int]:
        """(CPUs, MiB, GPUs) one instance of the type takes on a node, capped at the largest node's."""
        spec = instance_types.spec(instance_type)
        shape = self.shape
        return (
            max(1, min(spec.vcpus, shape["node_cpus"] or 1)),
            max(1, min(spec.memory_mb, shape["node_memory_mb"] or spec.memory_mb)),
            min(spec.gpus, shape["node_gpus"]),
        )

    def needs(self, job: Resource, run_class=None) -> tuple[int, int]:
        resource = (run_class or self.run_class).cluster(job.data)
        cpus, memory, _ = self.per_host(resource.get("InstanceType"))
        count = int(resource.get("InstanceCount", 1))
        return min(cpus * count, self.capacity), min(memory * count, self.memory_capacity)

    def try_start(self, job: Resource, observer, run_class=None) -> bool:
        self._refresh()
        return super().try_start(job, observer, run_class)

    def place(self, run) -> None:
        """Reserve the run's instances on the cluster and give each host a launcher there and the
        addresses of its peers. Raises JobFailed when the cluster cannot hold them."""
        from .training.job import JobFailed

        resource = run.cluster(run.data)
        cpus, memory_mb, gpus = self.per_host(resource.get("InstanceType"))
        count = len(run.hosts)
        if cpus * count > self.shape["cpus"] > 0:  # more instances than the cluster has CPUs: share them
            cpus = max(0.01, int(100 * self.shape["cpus"] / count) / 100)
        if memory_mb * count > self.shape["memory_mb"] > 0:
            memory_mb = max(1, self.shape["memory_mb"] // count)
        bundle = {"CPU": cpus, "memory": memory_mb * 1024 * 1024}
        if gpus:
            bundle["GPU"] = gpus
        strategy = "STRICT_SPREAD" if 1 < count <= self.shape["nodes"] else "SPREAD"
        group = placement_group(
            [dict(bundle) for _ in range(count)],
            strategy=strategy,
            name=job_key(run.kind, run.account_id, run.region, run.name),
        )
        self.placements[id(run)] = RayPlacement(group)
        deadline = time.monotonic() + PLACEMENT_WAIT_SECONDS
        while True:
            try:
                ray.get(group.ready(), timeout=1.0)
                break
            except GetTimeoutError:
                if run.stop.is_set():
                    return
                if time.monotonic() > deadline:
                    raise JobFailed(
                        f"CapacityError: the Ray cluster could not place {count} x {bundle} "
                        f"({strategy}) within {int(PLACEMENT_WAIT_SECONDS)} seconds"
                    ) from None
        nodes = placement_group_table(group)["bundles_to_node_id"]
        try:
            agents = [self.agent(nodes[index]) for index in range(count)]
        except (RayError, GetTimeoutError) as exc:
            raise JobFailed(
                f"InternalServerError: the Ray node agent did not start: {_first_line(exc)}"
            ) from None
        job = job_key(run.kind, run.account_id, run.region, run.name)
        peers = {host.host: ip for host, (_, ip) in zip(run.hosts, agents, strict=True)}
        for index, (host, (agent, ip)) in enumerate(zip(run.hosts, agents, strict=True)):
            host.peers = peers
            host.launcher = _launcher(
                agent,
                f"{group.id.hex()}/{host.host}",
                ip,
                nodes[index],
                lambda a=agent, n=nodes[index]: self.forget(n, a),
                job,
            )

    def agent(self, node_id: str) -> tuple:
        """The node's agent (started on first use, kept for the server's lifetime) and the node's IP."""
        with self.agents_lock:  # held while one starts: two jobs landing on a new node share it
            known = self.agents.get(node_id)
            if known is not None:
                return known
            self.generation += 1
            actor = self.agent_class.options(
                num_cpus=0,
                max_concurrency=256,
                name=f"sagestack-node-agent/{self.token}/{node_id[:16]}/{self.generation}",
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
            ).remote()
            ip, _ = ray.get(actor.node.remote(), timeout=PLACEMENT_WAIT_SECONDS)
            self.agents[node_id] = (actor, ip)
            return self.agents[node_id]

    def forget(self, node_id: str, actor) -> None:
        """An agent died: the next job on its node (if the node is still there) starts a new one."""
        with self.agents_lock:
            if self.agents.get(node_id, (None,))[0] is actor:
                del self.agents[node_id]

    def end_orphans(self, kind: str, account_id: str, region: str, name: str) -> bool:
        """End the processes of a job that another server ran (and died running) on every live node,
        waiting until they are gone; False when some node could not be asked (ask again later)."""
        job = job_key(kind, account_id, region, name)
        try:
            nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
        except Exception:
            log.warning("could not read the Ray cluster's nodes", exc_info=True)
            return False
        done = True
        for node_id in nodes:
            try:
                agent, ip = self.agent(node_id)
                ended = ray.get(agent.end_job.remote(job), timeout=60)
            except (RayError, GetTimeoutError) as exc:
                if node_alive(node_id):
                    log.warning("%s: could not end its processes on node %s: %s", job, ip, _first_line(exc))
                    done = False
                continue
            if ended:
                log.warning("%s: ended %d orphaned process(es) on node %s", job, ended, ip)
        return done

    def finished(self, run) -> None:
        placement = self.placements.pop(id(run), None)
        if placement is not None:
            placement.release()
        super().finished(run)


def job_key(kind: str, account_id: str, region: str, name: str) -> str:
    """A job's name on the cluster: its placement group's name, and its processes' ``SAGESTACK_RAY_JOB``."""
    return f"{kind}/{account_id}/{region}/{name}"


def _launcher(agent, key: str, ip: str, node_id: str, forget, job: str):
    def launch(argv: list[str], env: dict[str, str], cwd: str) -> RayProcess:
        env = {**env, JOB_KEY: job}
        try:
            pid = ray.get(agent.start.remote(key, argv, env, cwd))
        except RayError as exc:  # the node (or its agent) went away before the process started
            process = RayProcess(agent, key, 0, ip, node_id, forget)
            process._lose(exc)
            process.stdout = iter(())
            return process
        return RayProcess(agent, key, pid, ip, node_id, forget)

    return launch


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
