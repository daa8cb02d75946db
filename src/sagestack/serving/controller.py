"""The serving controller: endpoint deployments as worker instances, and the routes the router serves.

Two APIs:

* generic — ``prepare(containers)`` and ``start_workers(containers, count, ...) -> WorkerGroup`` (with
  ``wait_ready() -> addresses`` and ``stop()``): N instances of a model, for batch transform;
* endpoints — ``deploy(key, generation, plan)`` starts a :class:`Deployment` in the background;
  ``activate(key, deployment)`` moves traffic to it (only once it is ready, so a new fleet is healthy
  before traffic moves) and retires the previous fleet after its in-flight requests finish;
  ``discard`` drops a failed deployment (the old fleet keeps serving); ``remove`` stops an endpoint.

A plan (what the endpoint reconciler passes) is::

    {"EndpointConfigName": ..., "DataCaptureConfig": {...} | None,
     "Variants": [{"VariantName", "ModelName", "Containers": [CreateModel container dicts], "Mode",
                   "InstanceType", "InstanceCount", "Weight"}]}
"""

from __future__ import annotations

import json
import logging
import threading
import time

from .capture import CaptureSettings, DataCapture
from .instances import FAILED, READY, STARTING, Instance, WorkerGroup, WorkerSpec, default_work_dir
from .metrics import ServingMetrics
from .modeldir import ArtifactError, ModelCache
from .router import EndpointRoute, Router, VariantRoute
from .runtimes import RuntimeUnavailable
from .shadow import ShadowTarget, sampling_fraction

log = logging.getLogger("sagestack.serving")

Key = tuple[str, str, str]  # (account, region, endpoint name)
READY_TIMEOUT_S = 600.0


class Deployment:
    """One fleet for one endpoint generation: instances per variant."""

    def __init__(self, key: Key, generation: int, plan: dict):
        self.key = key
        self.generation = generation
        self.plan = plan
        self.variants: dict[str, list[Instance]] = {}
        self.signatures: dict[str, str] = {}
        self.state = STARTING
        self.failure: str | None = None
        self.done = threading.Event()
        self.started_at = time.time()
        # Per variant: {"pool": serverless.ServerlessPool, "models": multi_model.MultiModelSource}.
        self.extras: dict[str, dict] = {}

    def instances(self) -> list[Instance]:
        return [i for group in self.variants.values() for i in group]

    def variant_counts(self) -> dict[str, int]:
        return {name: len(group) for name, group in self.variants.items()}


def variant_signature(variant: dict) -> str:
    return json.dumps(
        [variant.get("Containers"), variant.get("Mode"), variant.get("InstanceType")],
        sort_keys=True,
        default=str,
    )


class ServingController:
    def __init__(self, platform):
        self.platform = platform
        data_dir = platform.settings.data_dir
        self.models = ModelCache(platform, data_dir / "serving" / "models")
        self.work_dir = default_work_dir(data_dir)
        self.metrics = ServingMetrics(platform)
        self.capture = DataCapture(platform)
        self.router = Router(platform, self.metrics, self.capture)
        self.active: dict[Key, Deployment] = {}
        self.pending: dict[Key, Deployment] = {}
        self._lock = threading.RLock()
        self._closed = False
        #: Instances on their way out (retire): stopped at shutdown too.
        self.retiring: dict[int, Instance] = {}
        try:
            from ..store.logs import log_store

            self.log_store = log_store(platform)
        except ImportError:
            self.log_store = None

    def attach(self) -> None:
        """Become the gateway's invocation fast path and start the background writers."""
        gateway = getattr(self.platform, "gateway", None)
        if gateway is not None:
            gateway.invocation_handler = self.router.handle
            gateway.invocation_starter = self.router.start
        self.platform.add_loop(
            "serving-metrics", self.metrics.flush, self.platform.settings.serving_metrics_interval
        )
        self.platform.add_loop("serving-data-capture", self.capture.flush, 1.0)
        self.platform.on_shutdown(self.shutdown)
        from .containers import remove_leftovers  # the user's-image containers a crash left

        remove_leftovers(self.platform)  # before any deployment starts (one engine call when it exists)
        from . import async_inference, multi_model, serverless  # production endpoints II

        for extension in (serverless, async_inference, multi_model):
            extension.attach(self)

    # -- generic API ------------------------------------------------------------------------------

    def prepare(self, containers: list[dict], instance_type: str | None = None) -> list[dict]:
        """CreateModel containers → worker container specs (artifacts fetched and extracted; a
        MultiModel container's models are fetched on demand, see multi_model.py)."""
        from .containers import attach_engine  # the user's own images, run by the container engine
        from .multi_model import is_multi_model, prepare_container
        from .runtimes import attach_runtime  # a framework's own server (TensorFlow Serving), if any

        prepared = [
            prepare_container(self, c, instance_type) if is_multi_model(c) else self.models.prepare(c)
            for c in containers
        ]
        return attach_runtime(self.platform, attach_engine(self.platform, prepared))

    def new_instance(self, spec: WorkerSpec) -> Instance:
        """One instance of a model: the user's own image in the container engine (serving/containers.py),
        a Ray actor on the cluster when the executor is ray (serving/ray_instances.py), else a local
        worker process."""
        from .containers import ContainerInstance, PipelineInstance, engine_for, uses_engine

        if uses_engine(spec.containers):
            from .multi_model_containers import MultiModelContainerInstance

            kind = PipelineInstance if len(spec.containers) > 1 else ContainerInstance
            if spec.containers[0].get("multi_model") is not None:
                kind = MultiModelContainerInstance
            return kind(
                spec,
                self.work_dir,
                self.log_store,
                on_change=self._instance_changed,
                engine=engine_for(self.platform),
                data_dir=str(self.platform.settings.data_dir),
            )
        if self.platform.settings.executor == "ray":
            from .ray_instances import new_ray_instance

            return new_ray_instance(
                self.platform, spec, self.work_dir, self.log_store, self._instance_changed
            )
        from .worker_sandbox import sandbox_config

        return Instance(
            spec,
            self.work_dir,
            self.log_store,
            on_change=self._instance_changed,
            sandbox=sandbox_config(self.platform.settings),
        )

    def start_workers(
        self,
        containers: list[dict],
        count: int,
        *,
        mode: str = "Serial",
        instance_type: str = "ml.m5.large",
        account: str = "",
        region: str = "",
        log_group: str | None = None,
        log_stream_prefix: str = "",
        labels: dict | None = None,
        environment: dict | None = None,
    ) -> WorkerGroup:
        """Start ``count`` instances of a model (containers as CreateModel recorded them)."""
        spec = WorkerSpec(
            self.prepare(containers),
            mode,
            instance_type,
            _workers(containers),
            account,
            region,
            log_group,
            log_stream_prefix,
            dict(labels or {}),
            dict(environment or {}),
        )
        return WorkerGroup([self.new_instance(spec).start() for _ in range(max(1, count))])

    # -- endpoints ----------------------------------------------------------------------------------

    def deployment(self, key: Key, generation: int) -> Deployment | None:
        with self._lock:
            for dep in (self.pending.get(key), self.active.get(key)):
                if dep is not None and dep.generation == generation:
                    return dep
        return None

    def active_deployment(self, key: Key) -> Deployment | None:
        return self.active.get(key)

    def deploy(
        self, key: Key, generation: int, plan: dict, *, reuse: bool = False, publish_early: bool = False
    ) -> Deployment:
        """Start a fleet in the background. ``reuse``: keep the active fleet's instances of variants whose
        model and instance type are unchanged (weights/capacity updates). ``publish_early``: route to the
        instances while they start (restart recovery: requests wait for the model instead of failing)."""
        dep = Deployment(key, generation, plan)
        with self._lock:
            previous = self.pending.get(key)
            self.pending[key] = dep
        if previous is not None and previous is not dep:
            self.discard(previous)
        source = self.active.get(key) if reuse else None
        threading.Thread(
            target=self._bring_up, args=(dep, source, publish_early), daemon=True, name=f"deploy-{key[2]}"
        ).start()
        return dep

    def _bring_up(self, dep: Deployment, source: Deployment | None, publish_early: bool) -> None:
        account, region, name = dep.key
        started: list[Instance] = []
        try:
            for variant in dep.plan["Variants"] + dep.plan.get("ShadowVariants", []):
                vname = variant["VariantName"]
                signature = variant_signature(variant)
                if variant.get("Serverless"):  # workers on demand (serving/serverless.py)
                    from .serverless import bring_up_serverless

                    dep.variants[vname] = bring_up_serverless(self, dep, variant, started)
                    dep.signatures[vname] = signature
                    continue
                count = max(0, int(variant.get("InstanceCount", 1)))
                reused: list[Instance] = []
                if source is not None and source.signatures.get(vname) == signature:
                    reused = [i for i in source.variants.get(vname, []) if i.state != FAILED][:count]
                instances = list(reused)
                if len(instances) < count:
                    spec = WorkerSpec(
                        self.prepare(variant["Containers"], variant.get("InstanceType")),
                        variant.get("Mode") or "Serial",
                        variant.get("InstanceType") or "ml.m5.large",
                        _workers(variant["Containers"]),
                        account,
                        region,
                        f"/aws/sagemaker/Endpoints/{name}",
                        f"{vname}/",
                        {"endpoint": name, "variant": vname},
                    )
                    for _ in range(count - len(instances)):
                        instance = self.new_instance(spec).start()
                        started.append(instance)
                        instances.append(instance)
                dep.variants[vname] = instances
                dep.signatures[vname] = signature
                from .multi_model import attach_source  # multi-model variants (serving/multi_model.py)

                attach_source(self, dep, variant)
            if publish_early:
                self.activate(dep.key, dep)
            deadline = time.monotonic() + READY_TIMEOUT_S
            for vname, instances in dep.variants.items():
                for instance in instances:
                    if not instance.wait(max(0.0, deadline - time.monotonic())):
                        raise _InstanceFailed(vname, instance)
            dep.state = READY
        except _InstanceFailed as exc:
            # One line, as SageMaker reports it (native libraries append whole stack traces).
            reason = (exc.instance.failure or "the model server did not start in time").strip()
            reason = reason.splitlines()[0][:500]
            dep.failure = (
                f"The primary container for production variant {exc.variant} did not pass the ping "
                f"health check: {reason}. Please check CloudWatch logs for this endpoint."
            )
        except (ArtifactError, RuntimeUnavailable) as exc:
            dep.failure = str(exc)
        except Exception as exc:
            log.exception("deployment of endpoint %s failed", name)
            dep.failure = f"{type(exc).__name__}: {exc}"
        if dep.state != READY:
            dep.state = FAILED
            for instance in started:
                instance.stop()
            if publish_early and self.active.get(dep.key) is dep:
                self.router.withdraw(dep.key)
        dep.done.set()

    def activate(self, key: Key, dep: Deployment) -> None:
        """Send the endpoint's traffic to ``dep`` and retire what the previous fleet no longer shares."""
        with self._lock:
            old = self.active.get(key)
            self.active[key] = dep
            if self.pending.get(key) is dep:
                del self.pending[key]
        self.router.publish(key, self.route(key, dep))
        if old is not None and old is not dep:
            keep = set(map(id, dep.instances()))
            self.retire([i for i in old.instances() if id(i) not in keep])

    def route(self, key: Key, dep: Deployment) -> EndpointRoute:
        capture = CaptureSettings.from_config(dep.plan.get("DataCaptureConfig"))
        variants = [
            VariantRoute(
                v["VariantName"],
                float(v.get("Weight", 1.0)),
                dep.variants.get(v["VariantName"], []),
                capture,
                v.get("ModelName", ""),
            )
            for v in dep.plan["Variants"]
        ]
        for variant in variants:  # serverless pools and multi-model sources (production endpoints II)
            extras = dep.extras.get(variant.name) or {}
            variant.pool, variant.models = extras.get("pool"), extras.get("models")
        shadows = [
            ShadowTarget(
                EndpointRoute(
                    key[2],
                    key[0],
                    key[1],
                    [
                        VariantRoute(
                            v["VariantName"],
                            1.0,
                            dep.variants.get(v["VariantName"], []),
                            capture,
                            v.get("ModelName", ""),
                        )
                    ],
                ),
                sampling_fraction(v, dep.plan["Variants"]),
            )
            for v in dep.plan.get("ShadowVariants", [])
            if dep.variants.get(v["VariantName"])
        ]
        route = EndpointRoute(key[2], key[0], key[1], variants, shadows)
        if dep.plan.get("ExplainerConfig"):  # online explainability (serving/explainer.py)
            from .explainer import Explainer

            route.explainer = Explainer(self.platform, dep.plan["ExplainerConfig"])
        return route

    def discard(self, dep: Deployment) -> None:
        """Drop a deployment that will not serve (failed, or superseded before it was activated)."""
        with self._lock:
            if self.pending.get(dep.key) is dep:
                del self.pending[dep.key]
            active = self.active.get(dep.key)
        keep = set(map(id, active.instances())) if active is not None and active is not dep else set()
        threading.Thread(target=self._stop_when_done, args=(dep, keep), daemon=True).start()

    def _stop_when_done(self, dep: Deployment, keep: set[int]) -> None:
        dep.done.wait(READY_TIMEOUT_S)
        for instance in dep.instances():
            if id(instance) not in keep:
                instance.stop()

    def remove(self, key: Key) -> None:
        """Stop serving an endpoint (DeleteEndpoint, or an endpoint that vanished from the store)."""
        self.router.withdraw(key)
        with self._lock:
            active = self.active.pop(key, None)
            pending = self.pending.pop(key, None)
        if pending is not None:
            threading.Thread(target=self._stop_when_done, args=(pending, set()), daemon=True).start()
        if active is not None:
            self.retire(active.instances(), drain=1.0)

    def retire(self, instances: list[Instance], drain: float | None = None) -> None:
        """Stop instances once their in-flight requests are answered (in the background)."""
        if not instances:
            return

        with self._lock:
            self.retiring.update((id(i), i) for i in instances)

        def run() -> None:
            time.sleep(0.5)  # requests that picked the old route just before the switch
            deadline = time.monotonic() + (drain if drain is not None else self.router.timeout + 5)
            while any(i.inflight for i in instances) and time.monotonic() < deadline:
                time.sleep(0.05)
            for instance in instances:
                instance.stop()
                with self._lock:
                    self.retiring.pop(id(instance), None)

        threading.Thread(target=run, daemon=True, name="retire").start()

    def keys(self) -> set[Key]:
        with self._lock:
            return set(self.active) | set(self.pending)

    def describe(self, key: Key) -> dict:
        """Instances per variant (for tests and diagnostics)."""
        dep = self.active.get(key)
        if dep is None:
            return {}
        return {name: [i.describe() for i in group] for name, group in dep.variants.items()}

    def shutdown(self) -> None:
        self._closed = True
        with self._lock:
            deps = list(self.active.values()) + list(self.pending.values())
            self.active.clear()
            self.pending.clear()
            retiring = dict(self.retiring)  # a server going down stops them now (containers outlive it)
        instances = {id(i): i for dep in deps for i in dep.instances()}
        instances.update(retiring)
        threads = [threading.Thread(target=i.stop, kwargs={"timeout": 3.0}) for i in instances.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        for flush in (self.metrics.flush, self.capture.flush):
            try:
                flush()
            except Exception:
                log.exception("final serving flush failed")

    def _instance_changed(self, instance: Instance) -> None:
        if instance.state == READY and instance.setup_time_us and instance.spec.labels.get("endpoint"):
            labels = instance.spec.labels
            self.metrics.model_setup_time(
                instance.spec.account,
                instance.spec.region,
                labels["endpoint"],
                labels.get("variant", ""),
                instance.setup_time_us,
            )


class _InstanceFailed(Exception):
    def __init__(self, variant: str, instance: Instance):
        super().__init__(instance.failure)
        self.variant = variant
        self.instance = instance


def _workers(containers: list[dict]) -> int:
    for container in containers:
        value = (container.get("Environment") or container.get("environment") or {}).get(
            "SAGEMAKER_MODEL_SERVER_WORKERS"
        )
        if value:
            try:
                return max(1, int(value))
            except ValueError:
                pass
    return 1


def serving_controller(platform) -> ServingController:
    """The platform's serving controller (built once)."""
    return platform.component("serving", ServingController)
