"""One batch transform run: start the model's workers (the same worker processes endpoints use), stream
every input file through them in batches, join/filter as asked and write ``<file>.out`` in input order.

Memory stays bounded: files are read in chunks, at most ``2 × MaxConcurrentTransforms`` batches are in
flight per instance, and outputs stream to a staging file before they are stored.
"""

from __future__ import annotations

import datetime as dt
import gzip
import http.client
import logging
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO
from urllib.parse import urlsplit

from ..domain import transform_jobs
from ..domain.models import TYPE as MODEL_TYPE
from ..domain.models import model_containers
from ..domain.state import utcnow
from ..domain.transform_jobs import LOG_GROUP
from ..store.resources import Resource
from . import jsonpath
from .observer import JobObserver
from .storage import DataError, JobStorage
from .transform_records import (
    Batch,
    RecordError,
    batches,
    filter_input,
    iter_line_chunks,
    iter_lines,
    iter_recordio,
    iter_tfrecord,
    join_and_filter,
    split_output,
    with_inference_ids,
)

log = logging.getLogger("sagestack.transform")


def output_name(prefix: str, key: str) -> str:
    """The name an input object's ``.out`` gets below S3OutputPath, as SageMaker names it: the key
    relative to the input prefix (``data/multi`` + ``data/multi/part0.csv`` → ``part0.csv``); where
    the prefix ends inside a name (``data/part`` or the object's whole key), relative to the prefix's
    folder (``data/part0.csv`` → ``part0.csv``)."""
    rest = key[len(prefix) :]
    if prefix.endswith("/") or not prefix:
        return rest
    if rest.startswith("/"):
        return rest[1:]
    return key[prefix.rfind("/") + 1 :]


class TransformFailed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Stopped(Exception):
    pass


class WorkerClient:
    """A kept-alive HTTP connection to one worker, per thread."""

    def __init__(self, address: str, timeout: float):
        parts = urlsplit(address)
        self.host, self.port = parts.hostname, parts.port
        self.timeout = timeout
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.local.conn = conn
        return conn

    def invoke(self, payload: bytes, content_type: str | None, accept: str | None) -> tuple[int, bytes]:
        headers = {"Content-Type": content_type or "application/octet-stream"}
        if accept:
            headers["Accept"] = accept
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request("POST", "/invocations", body=payload, headers=headers)
                response = conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        raise ConnectionError("unreachable")


class TransformRun:
    def __init__(self, platform, job: Resource, executor, observer: JobObserver):
        self.platform = platform
        self.executor = executor
        self.observer = observer
        self.account_id, self.region, self.name = job.account_id, job.region, job.name
        self.data = job.data
        self.storage = JobStorage(platform, job.account_id, job.region)
        self.stop_event = threading.Event()  # StopTransformJob
        self.abort = threading.Event()  # another instance failed, or the server is going down
        self.interrupted = False
        self.root = platform.settings.jobs_dir / "transform" / job.account_id / job.region / job.name
        self.thread = threading.Thread(target=self._main, name=f"transform-{self.name}", daemon=True)
        self.group = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account_id, self.region, self.name)

    def start(self) -> None:
        self.thread.start()

    def request_stop(self) -> None:
        self.stop_event.set()

    def interrupt(self) -> None:
        """The server is stopping: end without a verdict; recovery re-runs the job at the next start."""
        self.interrupted = True
        self.abort.set()

    def _halted(self) -> bool:
        return self.stop_event.is_set() or self.abort.is_set()

    def _main(self) -> None:
        try:
            status, extra = self._outcome()
            if not self.interrupted:  # an interrupted run is re-run after the restart
                self.observer.on_finished(status, extra=extra)
        finally:
            if self.group is not None:
                self.group.stop()
            shutil.rmtree(self.root, ignore_errors=True)
            self.executor.finished(self)

    def _outcome(self) -> tuple[str, dict]:
        try:
            self._run()
            return "Completed", {}
        except Stopped:
            return "Stopped", {}
        except TransformFailed as exc:
            return "Failed", {"FailureReason": exc.reason[:1024]}
        except Exception as exc:
            log.exception("transform job %s crashed", self.name)
            return "Failed", {"FailureReason": f"InternalServerError: {type(exc).__name__}: {exc}"[:1024]}

    def _run(self) -> None:
        self.started = utcnow()
        self.observer.on_progress("Transforming", extra={"TransformStartTime": self.started})
        data = self.data
        source = data["TransformInput"]["DataSource"]["S3DataSource"]
        try:
            inputs = self._inputs(source)
        except DataError as exc:
            raise TransformFailed(f"ClientError: {exc}") from None
        if not inputs:
            raise TransformFailed(
                f'ClientError: No S3 objects found under S3 URL "{source["S3Uri"]}" '
                "given in input data source."
            )
        model = self.platform.resources.get(self.account_id, self.region, MODEL_TYPE, data["ModelName"])
        if model is None:
            raise TransformFailed(f'ClientError: Could not find model "{data["ModelName"]}".')
        concurrency = max(1, int(data.get("MaxConcurrentTransforms") or 1))
        # One serving process per concurrent request (unless the model says otherwise): requests to one
        # process would queue behind each other.
        containers = [
            dict(
                c,
                Environment={
                    "SAGEMAKER_MODEL_SERVER_WORKERS": str(concurrency),
                    **(c.get("Environment") or {}),
                },
            )
            for c in model_containers(model.data)
        ]
        mode = (model.data.get("InferenceExecutionConfig") or {}).get("Mode", "Serial")
        resources = data["TransformResources"]
        count = int(resources.get("InstanceCount", 1))
        environment = {
            "SAGEMAKER_BATCH": "true",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(data.get("MaxPayloadInMB", 6)),
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(data.get("MaxConcurrentTransforms", 1)),
            "SAGEMAKER_BATCH_STRATEGY": data.get("BatchStrategy", "MultiRecord"),
            **(data.get("Environment") or {}),
        }
        try:
            self.group = self.executor.workers().start_workers(
                containers,
                count,
                mode=mode,
                instance_type=resources.get("InstanceType", "ml.m5.large"),
                account=self.account_id,
                region=self.region,
                log_group=LOG_GROUP,
                log_stream_prefix=f"{self.name}/",
                environment=environment,
            )
            addresses = self.group.wait_ready(timeout=600)
        except Exception as exc:
            raise TransformFailed(f"ClientError: the model could not be loaded: {exc}") from None
        if self.stop_event.is_set():
            raise Stopped()
        config = data.get("ModelClientConfig") or {}
        timeout = float(config.get("InvocationsTimeoutInSeconds", 600))
        retries = int(config.get("InvocationsMaxRetries", 3))
        clients = [WorkerClient(address, timeout) for address in addresses]
        errors: list[BaseException] = []
        assignments = [inputs[i :: len(clients)] for i in range(len(clients))]
        threads = []
        for client, files in zip(clients, assignments):
            thread = threading.Thread(
                target=self._instance, args=(client, files, concurrency, retries, errors), daemon=True
            )
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        if errors and not self.interrupted:
            first = errors[0]
            if isinstance(first, (TransformFailed, Stopped)):
                raise first
            raise TransformFailed(f"InternalServerError: {type(first).__name__}: {first}")
        if self._halted():
            raise Stopped()
        self._write_capture(inputs)

    def _write_capture(self, inputs: list[tuple[str, str, str]]) -> None:
        """DataCaptureConfig: manifests of what the job read and wrote, under
        ``<DestinationS3Uri>/input|output/yyyy/mm/dd/hh/`` (what Model Monitor's batch-transform input reads)."""
        destination = (self.data.get("DataCaptureConfig") or {}).get("DestinationS3Uri")
        if not destination:
            return
        output = self.data["TransformOutput"]["S3OutputPath"].rstrip("/")
        inputs_uri, outputs_uri = transform_jobs.capture_manifest_uris(destination, self.started, self.name)
        for uri, listed in (
            (inputs_uri, [f"s3://{bucket}/{key}" for bucket, key, _ in inputs]),
            (outputs_uri, [f"{output}/{rel}.out" for _, _, rel in inputs]),
        ):
            path = self.root / "capture-manifest.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(transform_jobs.capture_manifest(listed))
            try:
                self.storage.upload_file(path, uri, "application/json")
            except Exception as exc:
                raise TransformFailed(
                    f"ClientError: writing the data capture manifest {uri} failed: {exc}"
                ) from None

    def _inputs(self, source: dict) -> list[tuple[str, str, str]]:
        """(bucket, key, output-relative name) for each input object."""
        uri = source["S3Uri"]
        if source.get("S3DataType") == "ManifestFile":
            return [(b, k, rel) for b, k, rel in self.storage.manifest_entries(uri)]
        prefix = uri[5:].split("/", 1)[1] if "/" in uri[5:] else ""
        return [(b, k, output_name(prefix, k)) for b, k, _ in self.storage.list_prefix(uri)]

    # -- per instance ----------------------------------------------------------------------

    def _instance(
        self, client: WorkerClient, files: list, concurrency: int, retries: int, errors: list
    ) -> None:
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"tx-{self.name}")
        try:
            for bucket, key, rel in files:
                if self._halted():
                    return
                self._file(client, pool, concurrency, retries, bucket, key, rel)
        except BaseException as exc:  # recorded for the job's failure reason; the other instances stop
            if not isinstance(exc, Stopped):
                errors.append(exc)
                self.abort.set()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _open(self, bucket: str, key: str) -> BinaryIO:
        handle = self.storage.open(bucket, key)
        if self.data["TransformInput"].get("CompressionType") == "Gzip":
            return _Gunzip(fileobj=handle, mode="rb")
        return handle

    def _batches(self, stream: BinaryIO) -> Iterator[Batch]:
        data = self.data
        split = data["TransformInput"].get("SplitType", "None")
        strategy = data.get("BatchStrategy", "MultiRecord")
        max_bytes = int(data.get("MaxPayloadInMB", 6)) * 1024 * 1024
        processing = data.get("DataProcessing") or {}
        simple = (
            processing.get("JoinSource", "None") == "None"
            and jsonpath.parse(processing.get("InputFilter")).identity
            and jsonpath.parse(processing.get("OutputFilter")).identity
        )
        if split == "None":
            body = stream.read()
            yield Batch(0, 1, [body], body, 1)
            return
        if split == "Line" and strategy == "MultiRecord" and simple:
            number = 1
            for index, (payload, count) in enumerate(iter_line_chunks(stream, max_bytes or (6 << 20))):
                yield Batch(index, number, None, payload, count)
                number += count
            return
        if split == "Line":
            records, separator = iter_lines(stream), b"\n"
        elif split == "RecordIO":
            records, separator = iter_recordio(stream), b""
        else:
            records, separator = iter_tfrecord(stream), b""
        yield from batches(records, strategy, max_bytes, separator)

    def _file(
        self,
        client: WorkerClient,
        pool: ThreadPoolExecutor,
        concurrency: int,
        retries: int,
        bucket: str,
        key: str,
        rel: str,
    ) -> None:
        data = self.data
        content_type = data["TransformInput"].get("ContentType")
        output = data["TransformOutput"]
        accept = output.get("Accept")
        assemble = output.get("AssembleWith", "None") == "Line"
        processing = data.get("DataProcessing") or {}
        input_filter = jsonpath.parse(processing.get("InputFilter"))
        output_filter = jsonpath.parse(processing.get("OutputFilter"))
        join = processing.get("JoinSource", "None") == "Input"
        uri = f"s3://{bucket}/{key}"
        staging = self.root / "out" / (rel + ".out")
        staging.parent.mkdir(parents=True, exist_ok=True)

        capture = data.get("DataCaptureConfig") or {}
        started = self.started.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

        def work(batch: Batch) -> bytes:
            body = answer(batch)
            if capture.get("GenerateInferenceId"):
                body = with_inference_ids(body, accept or content_type, started, lambda: str(uuid.uuid4()))
            return body

        def answer(batch: Batch) -> bytes:
            payload = batch.payload
            if batch.records is not None and not input_filter.identity:
                filtered = filter_input(batch.records, input_filter, content_type)
                payload = (
                    b"\n".join(filtered) + b"\n"
                    if data["TransformInput"].get("SplitType") == "Line"
                    else b"".join(filtered)
                )
            body = self._invoke(client, payload, content_type, accept, retries, uri, batch)
            if batch.records is None or (not join and output_filter.identity):
                if assemble and not body.endswith(b"\n"):
                    body += b"\n"
                return body
            outputs = split_output(body, batch.count)
            records = join_and_filter(batch.records, outputs, join, output_filter, content_type, accept)
            return b"".join(r + b"\n" for r in records) if assemble else b"".join(records)

        pending: deque[Future] = deque()
        try:
            with self._open(bucket, key) as stream, open(staging, "wb") as out:
                for batch in self._batches(stream):
                    if self._halted():
                        raise Stopped()
                    pending.append(pool.submit(work, batch))
                    while len(pending) > concurrency:  # bounded: memory never grows with the file
                        out.write(pending.popleft().result())
                while pending:
                    out.write(pending.popleft().result())
        except RecordError as exc:
            raise TransformFailed(f"ClientError: {uri}: {exc}") from None
        except (OSError, EOFError) as exc:
            if isinstance(exc, gzip.BadGzipFile) or "gzip" in str(exc).lower():
                raise TransformFailed(f"ClientError: {uri} is not a valid gzip file: {exc}") from None
            raise
        finally:
            for future in pending:
                future.cancel()
        destination = f"{output['S3OutputPath'].rstrip('/')}/{rel}.out"
        self.storage.upload_file(staging, destination, accept)
        staging.unlink(missing_ok=True)

    def _invoke(
        self,
        client: WorkerClient,
        payload: bytes,
        content_type: str | None,
        accept: str | None,
        retries: int,
        uri: str,
        batch: Batch,
    ) -> bytes:
        last = ""
        for attempt in range(retries + 1):
            if self._halted():
                raise Stopped()
            try:
                status, body = client.invoke(payload, content_type, accept)
            except (OSError, http.client.HTTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
                time.sleep(min(2.0, 0.2 * (attempt + 1)))
                continue
            if status < 400:
                return body
            message = body.decode("utf-8", "replace").strip()[:500]
            records = (
                f"record {batch.first_record}"
                if batch.count == 1
                else f"records {batch.first_record}-{batch.first_record + batch.count - 1}"
            )
            if status < 500:
                raise TransformFailed(
                    f"ClientError: the model rejected {records} of {uri} with status {status}: {message}"
                )
            last = f"status {status}: {message}"
        raise TransformFailed(
            f"AlgorithmError: the model failed on {uri} after {retries + 1} attempts ({last})"
        )


class TransformExecutor:
    """``workers()`` gives what starts a model's worker instances (the serving controller's
    ``start_workers``): the caller passes it in, so that execution never imports serving."""

    def __init__(self, platform, workers):
        self.platform = platform
        self.workers = workers
        self.runs: dict[tuple, TransformRun] = {}
        self.lock = threading.Lock()

    def start(self, job: Resource, observer: JobObserver) -> None:
        with self.lock:
            key = (job.account_id, job.region, job.name)
            if key in self.runs:
                return
            run = TransformRun(self.platform, job, self, observer)
            self.runs[key] = run
        run.start()

    def get(self, key: tuple) -> TransformRun | None:
        with self.lock:
            return self.runs.get(key)

    def finished(self, run: TransformRun) -> None:
        with self.lock:
            self.runs.pop(run.key, None)

    def shutdown(self) -> None:
        with self.lock:
            runs = list(self.runs.values())
        for run in runs:
            run.interrupt()
        for run in runs:
            run.thread.join(timeout=10)


class _Gunzip(gzip.GzipFile):
    """Decompresses an open object; closing it closes the object too."""

    def close(self) -> None:
        raw = self.fileobj
        try:
            super().close()
        finally:
            if raw is not None:
                raw.close()
