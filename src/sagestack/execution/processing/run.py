"""One processing job run: stage the inputs, run the container command once per host, stream logs,
enforce stops and ``MaxRuntimeInSeconds``, upload the outputs — reporting to the observer the reconciler
passed in (the run never writes the job's status itself). The host processes, log streaming, supervision
and the executor are the training runs' own."""

from __future__ import annotations

import datetime
import json
import logging
import shutil
import time

from ...containers.engine import engine_for, missing_image_reason
from ...domain import images, instance_types
from ...domain.processing_jobs import EXIT_MESSAGE_LIMIT, LOG_GROUP, METRIC_NAMESPACE
from ...domain.state import utcnow
from ...store.resources import Resource
from .. import container_jobs
from ..access import job_access
from ..framework_env import FrameworkUnavailable, job_python
from ..instance_metrics import SAMPLE_SECONDS, InstanceMetrics
from ..layout import HostLayout
from ..observer import JobObserver
from ..training import supervision
from ..training.job import HostProcess, JobFailed, JobRun
from ..training.metrics import MetricCollector
from . import smspark_submit, staging

log = logging.getLogger("sagestack.processing")

CONTINUOUS_UPLOAD_SECONDS = 2.0


class ProcessingRun(JobRun):
    """Runs one job on its own thread; the executor tracks it for stops and capacity."""

    kind = "processing"

    def __init__(self, platform, job: Resource, cpus: int, executor, observer: JobObserver):
        super().__init__(platform, job, cpus, executor, observer)
        self.pipes: list = []  # what ends each Pipe input's feeding thread
        self.network: tuple = (None, None)  # (engine, container_jobs.JobNetwork): removed when the run ends

    @staticmethod
    def cluster(data: dict) -> dict:
        return data["ProcessingResources"]["ClusterConfig"]

    def _main(self) -> None:
        try:
            self._run()
        except JobFailed as exc:
            self._finish_failed(exc.reason)
        except Exception as exc:  # an internal error: the job fails with a clear reason
            log.exception("processing job %s crashed", self.name)
            self._finish_failed(
                f"InternalServerError: sagestack failed running the job: {type(exc).__name__}: {exc}"
            )
        finally:
            self._end_pipes()
            self._close_network()
            self.executor.finished(self)

    def _run(self) -> None:
        data = self.data
        app = data["AppSpecification"]
        image = images.parse_image(app["ImageUri"])
        cluster = self.cluster(data)
        count = int(cluster.get("InstanceCount", 1))
        instance = instance_types.spec(cluster.get("InstanceType"))
        host_names = [f"algo-{i}" for i in range(1, count + 1)]
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        started = time.time()
        self.hosts[:] = [
            HostProcess(h, HostLayout(self.root / h, self.root / h), f"{self.name}/{h}-{int(started)}")
            for h in host_names
        ]
        self.executor.place(self)
        data = self.observer.on_progress("InProgress", extra={"ProcessingStartTime": utcnow()}) or data
        self.data = data
        spark = image.repository in images.SPARK_REPOSITORIES
        engine = engine_for(self.platform)
        try:
            runner = images.processing_runner(
                image,
                smspark_submit.missing() if spark else None,
                bool(app.get("ContainerEntrypoint")),
                engine is not None,
            )
        except images.UnsupportedImage as exc:
            raise JobFailed(f"ClientError: {exc}") from None
        if runner == "container" and not engine.image_exists(image.uri):
            raise JobFailed(f"ClientError: {missing_image_reason(engine, image.uri)}")
        if self.stop.is_set():
            return self.observer.on_finished("Stopped")
        for host in self.hosts:
            host.layout.root.mkdir(parents=True, exist_ok=True)
            staging.prepare_host(host.layout, data, host.host, host_names)
        self.pipes = staging.stage_inputs(self.storage, data, self.hosts, self.region, self.stop, self.name)
        if self.stop.is_set():
            return self.observer.on_finished("Stopped")
        python = None
        if runner == "processing" and not spark and image.repository not in images.BUILTIN_PROCESSING_MODULES:
            try:  # the framework version the image tag names
                python = job_python(self.platform, image, self._note_all)
            except FrameworkUnavailable as exc:
                raise JobFailed(str(exc)) from None
        cpus_per_host = max(1, min(instance.vcpus, self.cpus // max(1, count) or 1))
        network = data.get("NetworkConfig") or {}
        config = {
            "job_name": self.name,
            "region": self.region,
            "hosts": host_names,
            "image": image.uri,
            "entrypoint": app.get("ContainerEntrypoint"),
            "arguments": app.get("ContainerArguments"),
            "network_isolation": bool(network.get("EnableNetworkIsolation")),
            "spark": spark,
            "module": images.builtin_processing_module(image, bool(app.get("ContainerEntrypoint"))),
            "python": python,
        }
        no_metrics = MetricCollector([])
        runtime = float((data.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 86400))
        aws_env, client_dir = job_access(
            self.platform, self.account_id, self.region, data.get("RoleArn", ""), runtime
        )
        job_network = None
        if runner == "container":
            isolated = bool(network.get("EnableNetworkIsolation"))
            job_network = container_jobs.open_network(engine, self.hosts, self.name, isolated)
            self.network = (engine, job_network)
        for host in self.hosts:
            if runner == "container":
                container_jobs.launch_processing(
                    host,
                    engine,
                    data=data,
                    name=self.name,
                    region=self.region,
                    image=image.uri,
                    host_names=host_names,
                    storage=self.storage,
                    log_group=LOG_GROUP,
                    metrics=no_metrics,
                    aws_env=aws_env,
                    network=job_network,
                )
                continue
            supervision.spawn(
                host,
                runner=runner,
                config=config,
                environment=data.get("Environment"),
                cpus=cpus_per_host,
                storage=self.storage,
                log_group=LOG_GROUP,
                metrics=no_metrics,
                name=self.name,
                aws_env=aws_env,
                client_dir=client_dir,
            )
        self.observer.on_processes(self.local_pids())
        outputs = staging.OutputUploader(self.storage, data, self.hosts)
        usage = InstanceMetrics(
            self.storage,
            METRIC_NAMESPACE,
            self.name,
            self.hosts,
            instance.memory_mb,
            float(cluster.get("VolumeSizeInGB") or 30),
        )
        usage.sample()
        exit_codes = supervision.supervise(
            self.hosts,
            data.get("StoppingCondition") or {},
            data["CreationTime"].timestamp(),
            started,
            self.stop,
            lambda: self.executor.interrupting,
            [(CONTINUOUS_UPLOAD_SECONDS, outputs.sync_continuous), (SAMPLE_SECONDS, usage.sample)],
        )
        self._end_pipes()  # before the inputs are removed
        self._close_network()  # its containers are gone: before the job says it ended
        self._finish(exit_codes, outputs)

    def _close_network(self) -> None:
        network, self.network = self.network, (None, None)
        container_jobs.close_network(*network)

    def _note_all(self, message: str) -> None:
        for host in self.hosts:
            supervision.log_line(self.storage, LOG_GROUP, host, message)

    def _end_pipes(self) -> None:
        pipes, self.pipes = self.pipes, []
        for end in pipes:
            end()

    def _finish(self, exit_codes: list[int], outputs: staging.OutputUploader) -> None:
        if self.executor.interrupting:
            return  # the server is going down: recovery decides on the next start
        extra: dict = {}
        message = staging.exit_message(self.hosts, EXIT_MESSAGE_LIMIT)
        if message:
            extra["ExitMessage"] = message
        if self.stop.reason is not None:
            outputs.sync_continuous()
            if self.stop.reason == "MaxRuntimeExceeded":
                extra["FailureReason"] = (
                    "MaxRuntimeExceeded: the processing job ran longer than "
                    "StoppingCondition.MaxRuntimeInSeconds and was stopped."
                )
            self.observer.on_finished("Stopped", extra=extra or None)
            return
        lost = next((host.lost for host in self.hosts if host.lost), None)
        if lost:  # a cluster node went away mid-job
            self._finish_failed(f"InternalServerError: instance lost: {lost}", extra)
            return
        if any(code != 0 for code in exit_codes):
            try:
                outputs.upload_all()  # what a failed job wrote is uploaded too
            except JobFailed:
                log.warning("output upload of failed job %s failed", self.name)
            self._finish_failed(self._failure_reason(exit_codes), extra)
            return
        outputs.upload_all()
        self._publish_container_metrics()
        self.observer.on_finished("Completed", extra=extra or None)
        for host in self.hosts:  # the input copies; outputs and logs stay for inspection
            inputs = host.layout.own("processing", "input")  # not through a link the job made
            if inputs is not None:
                shutil.rmtree(inputs, ignore_errors=True)

    def _publish_container_metrics(self) -> None:
        """Metrics the container wrote as JSON Lines under /opt/ml/output/metrics/cloudwatch/ (the Model
        Monitor contract), published under the namespace the job was launched with, if any."""
        namespace = self.data.get("_CloudWatchNamespace")
        if not namespace:
            return
        items = []
        for host in self.hosts:
            folder = host.layout.own("output", "metrics", "cloudwatch")
            for path in sorted(folder.glob("*")) if folder is not None and folder.is_dir() else []:
                if path.is_symlink():  # never a file of someone else's the job linked there
                    continue
                for line in path.read_text(errors="replace").splitlines():
                    try:
                        items.append(_metric_item(json.loads(line)))
                    except (ValueError, KeyError, TypeError):
                        log.warning(
                            "job %s: skipping a malformed CloudWatch metric line in %s", self.name, path
                        )
        if items:
            try:
                self.storage.put_metrics(namespace, items)
            except Exception:  # metrics are a side output: the job's result stands
                log.exception("job %s: publishing its CloudWatch metrics failed", self.name)

    def _finish_failed(self, reason: str, extra: dict | None = None) -> None:
        try:
            self.observer.on_finished("Failed", extra={"FailureReason": reason[:1024], **(extra or {})})
        except Exception:
            log.exception("could not record the failure of %s", self.name)

    def _failure_reason(self, exit_codes: list[int]) -> str:
        for host in self.hosts:
            failure = host.layout.own("output", "failure")
            if failure is not None and failure.is_file():
                text = failure.read_text(errors="replace").strip()
                if text:
                    return text
        code = next((c for c in exit_codes if c != 0), 1)
        return f"AlgorithmError: See job logs for more information. ExitCode {code}."


def _metric_item(entry: dict) -> dict:
    """One PutMetricData-shaped JSON object as a metric-store item."""
    stamp = entry.get("Timestamp")
    if isinstance(stamp, str):
        stamp = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    item = {
        "name": entry["MetricName"],
        "timestamp": float(stamp) if stamp is not None else time.time(),
        "dimensions": {d["Name"]: d["Value"] for d in entry.get("Dimensions") or []},
        "unit": entry.get("Unit"),
    }
    if entry.get("StatisticValues") is not None:
        item["statistics"] = entry["StatisticValues"]
    else:
        item["value"] = float(entry["Value"])
    return item
