"""One training job run: stage the inputs, run one process per host, stream logs and metrics, sync
checkpoints, enforce limits, upload the artifacts — and report every change of stage to the observer the
reconciler passed in (the run never writes the job's status itself)."""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

from ...containers.engine import engine_for, missing_image_reason
from ...domain import images, instance_types
from ...domain.state import utcnow
from ...domain.training_jobs import LOG_GROUP, METRIC_NAMESPACE
from ...store.resources import Resource
from .. import container_jobs
from ..access import job_access
from ..framework_env import FrameworkUnavailable, job_python
from ..instance_metrics import SAMPLE_SECONDS, InstanceMetrics
from ..layout import HostLayout, write_config
from ..observer import JobObserver
from . import staging, supervision, upload
from .job import HostProcess, JobFailed, JobRun
from .metrics import MetricCollector, collector_for

log = logging.getLogger("sagestack.training")


WARM_POOL_CACHE_VARIABLE = "SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY"


def warm_pool_environment(jobs_dir: Path, account: str, region: str, resource: dict) -> dict[str, str]:
    """A job that asks for a warm pool (``KeepAlivePeriodInSeconds`` > 0) gets SageMaker's persistent cache
    directory: one per account, region, instance type and count, kept between the jobs that match it (the
    SDK's remote functions keep their pip and conda caches there). No instance is kept warm: a job here
    starts in well under a second."""
    if not int(resource.get("KeepAlivePeriodInSeconds") or 0):
        return {}
    pool = f"{resource.get('InstanceType')}-x{int(resource.get('InstanceCount', 1))}"
    directory = jobs_dir / "warm-pool-cache" / account / region / pool
    directory.mkdir(parents=True, exist_ok=True)
    return {WARM_POOL_CACHE_VARIABLE: str(directory)}


class TrainingRun(JobRun):
    """Runs one job on its own thread; the executor tracks it for stops and capacity."""

    kind = "training"

    def __init__(self, platform, job: Resource, cpus: int, executor, observer: JobObserver):
        super().__init__(platform, job, cpus, executor, observer)
        self.checkpoints = upload.CheckpointSync(self.storage, self.data, self.hosts, self.name)
        self.network: tuple = (None, None)  # (engine, container_jobs.JobNetwork): removed when the run ends

    @staticmethod
    def cluster(data: dict) -> dict:
        """The job's instances (``InstanceType``, ``InstanceCount``)."""
        return data["ResourceConfig"]

    def _progress(self, status: str, **extra) -> None:
        data = self.observer.on_progress(status, extra=extra or None)
        if data is not None:
            self.data = data

    # -- the run ---------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            self._run()
        except JobFailed as exc:
            self._finish_failed(exc.reason)
        except Exception as exc:  # an internal error: the job fails with a clear reason
            log.exception("training job %s crashed", self.name)
            self._finish_failed(
                f"InternalServerError: sagestack failed running the job: {type(exc).__name__}: {exc}"
            )
        finally:
            self._close_network()
            self.executor.finished(self)

    def _run(self) -> None:
        data = self.data
        algorithm = data["AlgorithmSpecification"]
        hyperparameters: dict[str, str] = dict(data.get("HyperParameters") or {})
        image = images.parse_image(algorithm["TrainingImage"])
        has_entrypoint = bool(algorithm.get("ContainerEntrypoint"))
        engine = engine_for(self.platform)
        try:
            runner = images.training_runner(image, hyperparameters, has_entrypoint, engine is not None)
        except images.UnsupportedImage as exc:
            raise JobFailed(f"ClientError: {exc}") from None
        if runner == "container" and not engine.image_exists(image.uri):
            raise JobFailed(f"ClientError: {missing_image_reason(engine, image.uri)}")
        resource = data["ResourceConfig"]
        count = int(resource.get("InstanceCount", 1))
        instance = instance_types.spec(resource.get("InstanceType"))
        host_names = [f"algo-{i}" for i in range(1, count + 1)]
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        started = time.time()
        self.hosts[:] = [
            HostProcess(h, HostLayout(self.root / h, self.root / h), f"{self.name}/{h}-{int(started)}")
            for h in host_names
        ]
        for host in self.hosts:
            host.layout.create()
        self.executor.place(self)

        if self.stop.is_set():
            return self._finish_stopped()
        self._progress("Downloading", TrainingStartTime=utcnow())
        training_start = time.time()
        input_config = staging.stage_inputs(
            self.storage, self.data, self.hosts, self.region, self.stop, self.name
        )
        staging.stage_code(self.storage, self.hosts, hyperparameters)
        staging.restore_checkpoints(self.storage, self.data, self.hosts, self._note)
        python = None
        if runner == "script":  # the framework version the image tag names (a ContainerEntrypoint's too)
            try:
                python = job_python(self.platform, image, self._note_all)
            except FrameworkUnavailable as exc:
                raise JobFailed(str(exc)) from None

        algorithm_repo = image.repository if runner == "algorithm" else None
        metrics = collector_for(algorithm, algorithm_repo)

        for host in self.hosts:
            resource_config = {
                "current_host": host.host,
                "current_instance_type": instance.instance_type,
                "current_group_name": "homogeneousCluster",
                "hosts": host_names,
                "instance_groups": [
                    {
                        "instance_group_name": "homogeneousCluster",
                        "instance_type": instance.instance_type,
                        "hosts": host_names,
                    }
                ],
                "network_interface_name": "eth0",
            }
            write_config(
                host.layout, hyperparameters, input_config, resource_config, self.data.get("CheckpointConfig")
            )

        if self.stop.is_set():
            return self._finish_stopped()
        self._progress("Training")
        cpus_per_host = max(1, min(instance.vcpus, self.cpus // max(1, count) or 1))
        runtime = float(self.data["StoppingCondition"].get("MaxRuntimeInSeconds", 86400))
        aws_env, client_dir = job_access(
            self.platform, self.account_id, self.region, self.data.get("RoleArn", ""), runtime
        )
        environment = warm_pool_environment(
            self.platform.settings.jobs_dir, self.account_id, self.region, resource
        )
        network = None
        if runner == "container":
            isolated = bool(self.data.get("EnableNetworkIsolation"))
            network = container_jobs.open_network(engine, self.hosts, self.name, isolated)
            self.network = (engine, network)
        for host in self.hosts:
            if runner == "container":
                container_jobs.launch_training(
                    host,
                    engine,
                    data=self.data,
                    name=self.name,
                    region=self.region,
                    image=image.uri,
                    cpus=cpus_per_host,
                    gpus=instance.gpus,
                    host_names=host_names,
                    storage=self.storage,
                    log_group=LOG_GROUP,
                    metrics=metrics,
                    aws_env=aws_env,
                    network=network,
                )
                continue
            supervision.launch(
                host,
                data=self.data,
                environment=environment,
                name=self.name,
                region=self.region,
                runner=runner,
                image=image,
                cpus=cpus_per_host,
                gpus=instance.gpus,
                host_names=host_names,
                algorithm_repo=algorithm_repo,
                storage=self.storage,
                log_group=LOG_GROUP,
                metrics=metrics,
                aws_env=aws_env,
                client_dir=client_dir,
                python=python,
            )
        self.observer.on_processes(self.local_pids())
        usage = InstanceMetrics(
            self.storage,
            METRIC_NAMESPACE,
            self.name,
            self.hosts,
            instance.memory_mb,
            float(self.data["ResourceConfig"].get("VolumeSizeInGB") or 30),
        )
        usage.sample()
        exit_codes = supervision.supervise(
            self.hosts,
            self.data["StoppingCondition"],
            self.data["CreationTime"].timestamp(),
            training_start,
            self.stop,
            lambda: self.executor.interrupting,
            [
                (upload.CHECKPOINT_SYNC_SECONDS, self.checkpoints.sync),
                (1.0, lambda: metrics.flush(self.storage, METRIC_NAMESPACE)),
                (SAMPLE_SECONDS, usage.sample),
            ],
        )
        metrics.flush(self.storage, METRIC_NAMESPACE)
        self.checkpoints.sync(final=True)
        self._close_network()  # its containers are gone: before the job says it ended
        self._finish(exit_codes, metrics, training_start)

    def _close_network(self) -> None:
        network, self.network = self.network, (None, None)
        container_jobs.close_network(*network)

    def _note(self, host: HostProcess, message: str) -> None:
        supervision.log_line(self.storage, LOG_GROUP, host, message)

    def _note_all(self, message: str) -> None:
        for host in self.hosts:
            self._note(host, message)

    # -- the end ---------------------------------------------------------------------------

    def _finish(self, exit_codes: list[int], metrics: MetricCollector, training_start: float) -> None:
        if self.executor.interrupting:
            return  # the server is going down: recovery decides on the next start
        end = time.time()
        final_metrics = metrics.final()
        seconds = max(1, int(round(end - training_start)))
        count = len(self.hosts)
        timing = {"TrainingTimeInSeconds": seconds, "BillableTimeInSeconds": seconds * count}
        if final_metrics:
            timing["FinalMetricDataList"] = final_metrics
        if self.stop.reason is not None:
            upload.upload_outputs(self.storage, self.data, self.name, self.root, self.hosts, allow_empty=True)
            secondary = {"stop": "Stopped"}.get(self.stop.reason, self.stop.reason)
            self.observer.on_finished("Stopped", secondary=secondary, extra=timing)
            return
        lost = next((host.lost for host in self.hosts if host.lost), None)
        if lost:  # a cluster node went away: like a spot interruption
            reason = f"InternalServerError: instance lost: {lost}"
            on_lost = getattr(self.observer, "on_lost", None)
            if on_lost is None:
                self._finish_failed(reason, timing)
            else:
                on_lost(reason, timing)
            return
        if any(code != 0 for code in exit_codes):
            reason = self._failure_reason(exit_codes)
            upload.upload_output_data_after_failure(self.storage, self.data, self.name, self.root, self.hosts)
            self._finish_failed(reason, timing)
            return
        self._progress("Uploading")
        upload.upload_outputs(self.storage, self.data, self.name, self.root, self.hosts)
        self.observer.on_finished("Completed", extra=timing)
        upload.cleanup(self.root, self.hosts)

    def _finish_stopped(self) -> None:
        self.observer.on_finished("Stopped")

    def _finish_failed(self, reason: str, timing: dict | None = None) -> None:
        extra = {"FailureReason": reason[:1024], **(timing or {})}
        try:
            self.observer.on_finished("Failed", message=reason[:1024], extra=extra)
        except Exception:
            log.exception("could not record the failure of %s", self.name)

    def _failure_reason(self, exit_codes: list[int]) -> str:
        for host in self.hosts:
            failure = host.layout.own("output", "failure")
            if failure is not None and failure.is_file():
                text = failure.read_text(errors="replace").strip()
                if text:
                    if not re.match(r"^(ClientError|AlgorithmError|InternalServerError|CapacityError)", text):
                        text = f"AlgorithmError: {text}"
                    return text
        code = next((c for c in exit_codes if c != 0), 1)
        return (
            f"AlgorithmError: the training process exited with code {code} and wrote no "
            f"/opt/ml/output/failure; see the job's log stream in {LOG_GROUP}"
        )
