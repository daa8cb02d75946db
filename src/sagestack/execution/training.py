"""One training job run: stage the inputs, run one process per host, stream logs and metrics, sync
checkpoints, enforce limits, upload the artifacts, and record every status change in the store."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..reconcilers.state import TRAINING, mutate, utcnow
from ..store.resources import Resource
from . import images, instances
from .layout import HostLayout, write_config
from .storage import DataError, JobStorage, extract_tarball, make_tarball

log = logging.getLogger("sagestack.training")

TYPE = "training-job"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
METRIC_NAMESPACE = "/aws/sagemaker/TrainingJobs"
STOP_GRACE_SECONDS = 5.0
CHECKPOINT_SYNC_SECONDS = 2.0

MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job runtime exceeded MaxRuntimeInSeconds provided",
    "MaxWaitTimeExceeded": "Training job exceeded MaxWaitTimeInSeconds provided",
    "Interrupted": "The training job was interrupted (the sagestack server stopped); it resumes from its "
                   "last checkpoint",
    "Restarting": "Restarting the training job from its last checkpoint",
}


class JobFailed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class HostProcess:
    host: str
    layout: HostLayout
    stream: str
    process: subprocess.Popen | None = None
    reader: threading.Thread | None = None


@dataclass
class MetricCollector:
    definitions: list[tuple[str, re.Pattern]]
    latest: dict[str, tuple[float, float]] = field(default_factory=dict)
    pending: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def scan(self, line: str, host_dimension: str) -> None:
        for name, pattern in self.definitions:
            match = pattern.search(line)
            if not match:
                continue
            try:
                value = float(match.group(1))
            except (IndexError, ValueError):
                continue
            stamp = time.time()
            with self.lock:
                self.latest[name] = (value, stamp)
                self.pending.append({"name": name, "value": value, "timestamp": stamp,
                                     "dimensions": {"Host": host_dimension}, "unit": "None"})

    def drain(self) -> list[dict]:
        with self.lock:
            items, self.pending = self.pending, []
        return items


def compile_metric_definitions(definitions: list[dict]) -> list[tuple[str, re.Pattern]]:
    compiled = []
    for item in definitions or []:
        try:
            compiled.append((item["Name"], re.compile(item["Regex"])))
        except (re.error, KeyError):
            continue
    return compiled


class TrainingRun:
    """Runs one job on its own thread; the executor tracks it for stops and capacity."""

    def __init__(self, platform, job: Resource, cpus: int, executor):
        self.platform = platform
        self.executor = executor
        self.account_id = job.account_id
        self.region = job.region
        self.name = job.name
        self.data = job.data
        self.cpus = cpus
        self.memory_mb = 0  # set by the executor (its share of the memory capacity)
        self.storage = JobStorage(platform, job.account_id, job.region)
        self.stop_reason: str | None = None  # "stop" | "MaxRuntimeExceeded" | "MaxWaitTimeExceeded"
        self._stop_event = threading.Event()
        self.hosts: list[HostProcess] = []
        self.thread = threading.Thread(target=self._main, name=f"training-{self.name}", daemon=True)
        settings = platform.settings
        self.root = settings.jobs_dir / "training" / job.account_id / job.region / job.name

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account_id, self.region, self.name)

    def start(self) -> None:
        self.thread.start()

    def request_stop(self, reason: str = "stop") -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop_event.set()

    # -- status ----------------------------------------------------------------------------

    def secondary(self, status: str, message: str | None = None, primary: str | None = None,
                  extra: dict | None = None) -> Resource | None:
        message = message or MESSAGES.get(status, status)

        def change(job: Resource):
            data = job.data
            stamp = utcnow()
            transitions = data.setdefault("SecondaryStatusTransitions", [])
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1]["EndTime"] = stamp
            transitions.append({"Status": status, "StartTime": stamp, "StatusMessage": message})
            data["SecondaryStatus"] = status
            data["LastModifiedTime"] = stamp
            if extra:
                data.update(extra)
            if primary and TRAINING.terminal(primary):
                transitions[-1]["EndTime"] = stamp
            return primary

        job = mutate(self.platform.resources, self.account_id, self.region, TYPE, self.name, change,
                     TRAINING, "TrainingJobStatus")
        if job is not None:
            self.data = job.data
        return job

    def _current_status(self) -> str | None:
        job = self.platform.resources.get(self.account_id, self.region, TYPE, self.name)
        return job.status if job else None

    # -- the run ---------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            self._run()
        except JobFailed as exc:
            self._finish_failed(exc.reason)
        except Exception as exc:  # an internal error: the job fails with a clear reason
            log.exception("training job %s crashed", self.name)
            self._finish_failed(f"InternalServerError: sagestack failed running the job: "
                                f"{type(exc).__name__}: {exc}")
        finally:
            self.executor.finished(self)

    def _run(self) -> None:
        data = self.data
        algorithm = data["AlgorithmSpecification"]
        hyperparameters: dict[str, str] = dict(data.get("HyperParameters") or {})
        image = images.parse_image(algorithm["TrainingImage"])
        has_entrypoint = bool(algorithm.get("ContainerEntrypoint"))
        try:
            runner = images.training_runner(image, hyperparameters, has_entrypoint)
        except images.UnsupportedImage as exc:
            raise JobFailed(f"ClientError: {exc}") from None
        resource = data["ResourceConfig"]
        count = int(resource.get("InstanceCount", 1))
        instance = instances.spec(resource.get("InstanceType"))
        host_names = [f"algo-{i}" for i in range(1, count + 1)]
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        started = time.time()
        self.hosts = [HostProcess(h, HostLayout(self.root / h, self.root / h),
                                  f"{self.name}/{h}-{int(started)}") for h in host_names]
        for host in self.hosts:
            host.layout.create()

        if self._stop_event.is_set():
            return self._finish_stopped()
        self.secondary("Downloading", extra={"TrainingStartTime": utcnow()})
        training_start = time.time()
        input_config = self._stage_inputs(host_names)
        self._stage_code(hyperparameters, runner)
        self._restore_checkpoints()

        definitions = list(algorithm.get("MetricDefinitions") or [])
        algorithm_repo = image.repository if runner == "algorithm" else None
        if algorithm_repo and not definitions:
            from ..algorithms import registry

            module = registry.load(algorithm_repo)
            definitions = list(getattr(module.SPEC, "metric_definitions", ()))
        metrics = MetricCollector(compile_metric_definitions(definitions))

        for index, host in enumerate(self.hosts):
            resource_config = {
                "current_host": host.host, "current_instance_type": instance.instance_type,
                "current_group_name": "homogeneousCluster", "hosts": host_names,
                "instance_groups": [{"instance_group_name": "homogeneousCluster",
                                     "instance_type": instance.instance_type, "hosts": host_names}],
                "network_interface_name": "eth0",
            }
            write_config(host.layout, hyperparameters, input_config, resource_config,
                         self.data.get("CheckpointConfig"))

        if self._stop_event.is_set():
            return self._finish_stopped()
        self.secondary("Training")
        cpus_per_host = max(1, min(instance.vcpus, self.cpus // max(1, count) or 1))
        for host in self.hosts:
            self._launch(host, runner, image, cpus_per_host, instance.gpus, host_names, algorithm_repo,
                         metrics)
        self._record_pids()
        exit_codes = self._supervise(metrics, training_start)
        self._flush_metrics(metrics)
        self._sync_checkpoints(final=True)
        self._finish(exit_codes, metrics, training_start)

    # -- staging ---------------------------------------------------------------------------

    def _stage_inputs(self, host_names: list[str]) -> dict:
        input_config: dict[str, dict] = {}
        mode_default = self.data["AlgorithmSpecification"].get("TrainingInputMode", "File")
        for channel in self.data.get("InputDataConfig", []):
            name = channel["ChannelName"]
            source = channel["DataSource"]["S3DataSource"]
            mode = channel.get("InputMode") or mode_default
            entry = {"TrainingInputMode": mode,
                     "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                     "RecordWrapperType": channel.get("RecordWrapperType", "None")}
            if channel.get("ContentType"):
                entry["ContentType"] = channel["ContentType"]
            if channel.get("CompressionType") and channel["CompressionType"] != "None":
                entry["CompressionType"] = channel["CompressionType"]
            input_config[name] = entry
            try:
                objects = self._channel_objects(source)
            except DataError as exc:
                raise JobFailed(f"ClientError: Data download failed: {exc}") from None
            if not objects:
                bucket = source["S3Uri"][5:].split("/", 1)[0]
                raise JobFailed(
                    f"ClientError: Data download failed:No S3 objects found under S3 URL "
                    f"\"{source['S3Uri']}\" given in input data source. Please ensure that the bucket "
                    f"exists in the selected region ({self.region}), that objects exist under that S3 "
                    f"prefix, and that the role \"{self.data.get('RoleArn')}\" has \"s3:ListBucket\" "
                    f"permissions on bucket \"{bucket}\".")
            sharded = entry["S3DistributionType"] == "ShardedByS3Key"
            for index, host in enumerate(self.hosts):
                mine = objects[index::len(self.hosts)] if sharded else objects
                target = host.layout.path("input", "data", name)
                if mode == "Pipe":
                    self._start_pipe(host.layout, name, mine, channel.get("RecordWrapperType"))
                    continue
                for bucket, key, rel in mine:
                    try:
                        self.storage.fetch(bucket, key, target / rel)
                    except DataError as exc:
                        raise JobFailed(f"ClientError: Data download failed: {exc}") from None
        return input_config

    def _channel_objects(self, source: dict) -> list[tuple[str, str, str]]:
        kind = source.get("S3DataType", "S3Prefix")
        uri = source["S3Uri"]
        if kind == "ManifestFile":
            return self.storage.manifest_entries(uri)
        if kind == "AugmentedManifestFile":
            bucket, key = uri[5:].split("/", 1)
            return [(bucket, key, key.rsplit("/", 1)[-1])]
        bucket, prefix = uri[5:].split("/", 1) if "/" in uri[5:] else (uri[5:], "")
        result = []
        for b, key, _size in self.storage.list_prefix(uri):
            rel = key[len(prefix):].lstrip("/") or key.rsplit("/", 1)[-1]
            result.append((b, key, rel))
        return result

    def _start_pipe(self, layout: HostLayout, channel: str, objects: list, wrapper: str | None) -> None:
        """Pipe mode: ``input/data/<channel>_<epoch>`` FIFOs, each streaming the channel once."""
        sources = [(b, k) for b, k, _ in objects]
        for bucket, key in sources:  # unreadable inputs fail the job now, not mid-stream
            self.storage.open(bucket, key).close()
        base = layout.path("input", "data")

        def feed() -> None:
            epoch = 0
            while not self._stop_event.is_set():
                fifo = base / f"{channel}_{epoch}"
                try:
                    os.mkfifo(fifo)
                except FileExistsError:
                    pass
                try:
                    fd = os.open(fifo, os.O_WRONLY)
                except OSError:
                    return
                try:
                    with os.fdopen(fd, "wb") as out:
                        for bucket, key in sources:
                            with self.storage.open(bucket, key) as src:
                                shutil.copyfileobj(src, out, 1 << 20)
                except (BrokenPipeError, OSError):
                    pass
                epoch += 1

        threading.Thread(target=feed, name=f"pipe-{self.name}-{channel}", daemon=True).start()

    def _stage_code(self, hyperparameters: dict[str, str], runner: str) -> None:
        submit = hyperparameters.get("sagemaker_submit_directory")
        if not submit:
            return
        try:
            submit = json.loads(submit)
        except ValueError:
            pass
        if not isinstance(submit, str) or not submit.startswith("s3://"):
            return
        bucket, key = submit[5:].split("/", 1)
        for host in self.hosts:
            try:
                archive = self.storage.open(bucket, key)
            except DataError as exc:
                raise JobFailed(f"ClientError: could not fetch the source directory {submit}: {exc}") from None
            try:
                with archive:
                    extract_tarball(archive, host.layout.path("code"))
            except Exception as exc:
                raise JobFailed(f"ClientError: the source directory {submit} is not a valid tar.gz: "
                                f"{exc}") from None

    def _checkpoint_dir(self, layout: HostLayout) -> Path:
        local = (self.data.get("CheckpointConfig") or {}).get("LocalPath", "/opt/ml/checkpoints")
        if local.startswith("/opt/ml/"):
            return layout.path(*local[len("/opt/ml/"):].split("/"))
        return layout.path("checkpoints")

    def _restore_checkpoints(self) -> None:
        config = self.data.get("CheckpointConfig")
        if not config:
            return
        for host in self.hosts:
            count = self.storage.download_tree(config["S3Uri"], self._checkpoint_dir(host.layout))
            if count:
                self._log(host, f"sagestack: restored {count} checkpoint file(s) from {config['S3Uri']}")
        self._checkpoint_known: dict[str, float] = {}

    def _sync_checkpoints(self, final: bool = False) -> None:
        config = self.data.get("CheckpointConfig")
        if not config or not self.hosts:
            return
        known = getattr(self, "_checkpoint_known", None)
        if known is None:
            known = self._checkpoint_known = {}
        for host in self.hosts:
            directory = self._checkpoint_dir(host.layout)
            if directory.exists():
                try:
                    self.storage.upload_tree(directory, config["S3Uri"], known)
                except Exception:
                    if final:
                        raise
                    log.debug("checkpoint sync failed for %s", self.name, exc_info=True)

    # -- processes -------------------------------------------------------------------------

    def _launch(self, host: HostProcess, runner: str, image: images.ImageInfo, cpus: int, gpus: int,
                host_names: list[str], algorithm_repo: str | None, metrics: MetricCollector) -> None:
        from .layout import inherited_environment

        algorithm = self.data["AlgorithmSpecification"]
        config = {
            "job_name": self.name, "num_cpus": cpus, "num_gpus": gpus, "region": self.region,
            "network_isolation": bool(self.data.get("EnableNetworkIsolation")),
            "algorithm": algorithm_repo, "image_tag": image.tag,
            "entrypoint": algorithm.get("ContainerEntrypoint"),
            "arguments": algorithm.get("ContainerArguments"),
            "hosts": host_names,
        }
        env = inherited_environment()
        env.update(self.data.get("Environment") or {})
        env.update({
            "SAGESTACK_JOB_ROOT": str(host.layout.root),
            "SAGESTACK_RUNNER": runner,
            "SAGESTACK_JOB_CONFIG": json.dumps(config),
            "SAGESTACK_PRIVATE_OPT_ML": "1",
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": str(cpus),
        })
        # Scripts that call `python`/`python3`/`pip` get the server's interpreter and its packages.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
        src = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([src] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        host.process = subprocess.Popen(
            [sys.executable, "-m", "sagestack.execution.entry"], env=env, cwd=str(host.layout.root),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        host.reader = threading.Thread(target=self._pump, args=(host, metrics), daemon=True,
                                       name=f"log-{self.name}-{host.host}")
        host.reader.start()

    def _log(self, host: HostProcess, message: str) -> None:
        try:
            self.storage.append_logs(LOG_GROUP, host.stream, [(int(time.time() * 1000), message)])
        except Exception:
            log.debug("log append failed", exc_info=True)

    def _pump(self, host: HostProcess, metrics: MetricCollector) -> None:
        """Job output → the log store (batched, live) and the metric regexes."""
        assert host.process is not None and host.process.stdout is not None
        buffer: list[tuple[int, str]] = []
        last_flush = time.monotonic()
        dimension = f"{self.name}/{host.host}"
        for raw in host.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            buffer.append((int(time.time() * 1000), line))
            if metrics.definitions:
                metrics.scan(line, dimension)
            if len(buffer) >= 500 or time.monotonic() - last_flush > 0.3:
                self._flush_logs(host, buffer)
                buffer = []
                last_flush = time.monotonic()
        self._flush_logs(host, buffer)

    def _flush_logs(self, host: HostProcess, events: list[tuple[int, str]]) -> None:
        if not events:
            return
        try:
            self.storage.append_logs(LOG_GROUP, host.stream, events)
        except Exception:
            log.warning("could not store log lines of %s", self.name, exc_info=True)

    def _record_pids(self) -> None:
        pids = [h.process.pid for h in self.hosts if h.process]

        def change(job: Resource):
            job.data["_pids"] = pids
            return None

        mutate(self.platform.resources, self.account_id, self.region, TYPE, self.name, change)

    def _supervise(self, metrics: MetricCollector, training_start: float) -> list[int]:
        stopping = self.data["StoppingCondition"]
        max_runtime = stopping.get("MaxRuntimeInSeconds", 86400)
        max_wait = stopping.get("MaxWaitTimeInSeconds")
        created = self.data["CreationTime"].timestamp()
        last_sync = last_metrics = time.monotonic()
        killed_at: float | None = None
        while True:
            codes = [h.process.poll() for h in self.hosts if h.process]
            if all(code is not None for code in codes):
                break
            now = time.time()
            if self.stop_reason is None:
                if now - training_start > max_runtime:
                    self.request_stop("MaxRuntimeExceeded")
                elif max_wait and now - created > max_wait:
                    self.request_stop("MaxWaitTimeExceeded")
                elif self.executor.interrupting:
                    return []
            if self._stop_event.is_set():
                if killed_at is None:
                    killed_at = now
                    self._signal_all(signal.SIGTERM)
                elif now - killed_at > STOP_GRACE_SECONDS:
                    self._signal_all(signal.SIGKILL)
            if any(code not in (None, 0) for code in codes) and len(codes) > 1 and killed_at is None:
                # One host failed: the job fails; stop the others.
                killed_at = now
                self._signal_all(signal.SIGTERM)
            if time.monotonic() - last_sync > CHECKPOINT_SYNC_SECONDS:
                self._sync_checkpoints()
                last_sync = time.monotonic()
            if time.monotonic() - last_metrics > 1.0:
                self._flush_metrics(metrics)
                last_metrics = time.monotonic()
            self._stop_event.wait(0.1)
        for host in self.hosts:
            if host.reader:
                host.reader.join(timeout=10)
        self._signal_all(signal.SIGKILL)  # leftovers of the process groups
        return [h.process.returncode for h in self.hosts if h.process]

    def _signal_all(self, sig: int) -> None:
        for host in self.hosts:
            if host.process is not None:
                kill_tree(host.process.pid, sig)

    def _flush_metrics(self, metrics: MetricCollector) -> None:
        items = metrics.drain()
        if items:
            try:
                self.storage.put_metrics(METRIC_NAMESPACE, items)
            except Exception:
                log.debug("metric store failed", exc_info=True)

    # -- the end ---------------------------------------------------------------------------

    def _finish(self, exit_codes: list[int], metrics: MetricCollector, training_start: float) -> None:
        if self.executor.interrupting:
            return  # the server is going down: recovery decides on the next start
        end = time.time()
        final_metrics = [
            {"MetricName": name, "Value": value,
             "Timestamp": dt.datetime.fromtimestamp(stamp, dt.timezone.utc)}
            for name, (value, stamp) in sorted(metrics.latest.items())
        ]
        seconds = max(1, int(round(end - training_start)))
        count = len(self.hosts)
        timing = {"TrainingTimeInSeconds": seconds, "BillableTimeInSeconds": seconds * count}
        if final_metrics:
            timing["FinalMetricDataList"] = final_metrics
        if self.stop_reason is not None:
            self._upload_outputs(allow_empty=True)
            secondary = {"stop": "Stopped"}.get(self.stop_reason, self.stop_reason)
            self.secondary(secondary, primary="Stopped",
                           extra={**timing, "TrainingEndTime": utcnow()})
            return
        if any(code != 0 for code in exit_codes):
            reason = self._failure_reason(exit_codes)
            self._finish_failed(reason, timing)
            return
        self.secondary("Uploading")
        self._upload_outputs()
        self.secondary("Completed", primary="Completed", extra={**timing, "TrainingEndTime": utcnow()})
        self._cleanup()

    def _finish_stopped(self) -> None:
        self.secondary("Stopped", primary="Stopped", extra={"TrainingEndTime": utcnow()})

    def _finish_failed(self, reason: str, timing: dict | None = None) -> None:
        status = self._current_status()
        if status is None or TRAINING.terminal(status):
            return
        extra = {"FailureReason": reason[:1024], "TrainingEndTime": utcnow(), **(timing or {})}
        extra.pop("ModelArtifacts", None)
        try:
            self.secondary("Failed", message=reason[:1024], primary="Failed", extra=extra)
        except Exception:
            log.exception("could not record the failure of %s", self.name)

    def _failure_reason(self, exit_codes: list[int]) -> str:
        for host in self.hosts:
            failure = host.layout.path("output", "failure")
            if failure.exists():
                text = failure.read_text(errors="replace").strip()
                if text:
                    if not re.match(r"^(ClientError|AlgorithmError|InternalServerError|CapacityError)", text):
                        text = f"AlgorithmError: {text}"
                    return text
        code = next((c for c in exit_codes if c != 0), 1)
        return (f"AlgorithmError: the training process exited with code {code} and wrote no "
                f"/opt/ml/output/failure; see the job's log stream in {LOG_GROUP}")

    def _upload_outputs(self, allow_empty: bool = False) -> None:
        output = self.data["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        staging = self.root / "_upload"
        merged = staging / "model"
        merged.mkdir(parents=True, exist_ok=True)
        for host in reversed(self.hosts):  # algo-1 wins when hosts write the same file
            model_dir = host.layout.path("model")
            if model_dir.exists():
                shutil.copytree(model_dir, merged, dirs_exist_ok=True)
        try:
            tarball = staging / "model.tar.gz"
            make_tarball(merged, tarball)
            self.storage.upload_file(tarball, f"{output}/{self.name}/output/model.tar.gz",
                                     "application/x-tar")
            data_dir = self.hosts[0].layout.path("output", "data") if self.hosts else None
            if data_dir is not None and data_dir.exists() and any(data_dir.iterdir()):
                out_tar = staging / "output.tar.gz"
                make_tarball(data_dir, out_tar)
                self.storage.upload_file(out_tar, f"{output}/{self.name}/output/output.tar.gz",
                                         "application/x-tar")
        except Exception as exc:
            if not allow_empty:
                raise JobFailed(f"ClientError: could not upload the model artifacts to {output}: {exc}")
            log.warning("artifact upload after stop failed for %s: %s", self.name, exc)

    def _cleanup(self) -> None:
        for host in self.hosts:
            shutil.rmtree(host.layout.path("input", "data"), ignore_errors=True)
        shutil.rmtree(self.root / "_upload", ignore_errors=True)


def kill_tree(pid: int, sig: int) -> None:
    """Signal a job's process group and every descendant (even ones that left the group)."""
    try:
        import psutil

        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            children = []
        for child in children:
            try:
                child.send_signal(sig)
            except psutil.Error:
                pass
    except ImportError:
        pass
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
