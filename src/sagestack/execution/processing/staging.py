"""A processing run's data: ``ProcessingInputs`` into each host's ``/opt/ml/processing/…`` (S3 prefix or
manifest; fully replicated or sharded by key; gzip'd objects inflated), the container's config files, and
``ProcessingOutputConfig`` uploads (at the end of the job, and while it runs for ``Continuous``)."""

from __future__ import annotations

import gzip
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from ..layout import OPT_ML, HostLayout, inside
from ..storage import DataError, JobStorage
from ..training.job import HostProcess, JobFailed, StopRequest
from ..training.staging import channel_objects, start_pipe

log = logging.getLogger("sagestack.processing")

#: What the processing image's ``/opt/ml/config/processingjobconfig.json`` holds (the Create request).
CONFIG_MEMBERS = (
    "ProcessingJobArn",
    "ProcessingJobName",
    "AppSpecification",
    "Environment",
    "ProcessingInputs",
    "ProcessingOutputConfig",
    "ProcessingResources",
    "RoleArn",
    "StoppingCondition",
    "NetworkConfig",
)


def local_dir(layout: HostLayout, local_path: str) -> Path:
    """Where an ``/opt/ml/...`` LocalPath lives in the host's tree."""
    rel = (
        local_path[len(str(OPT_ML)) :].strip("/")
        if local_path.startswith(str(OPT_ML) + "/")
        else local_path.strip("/")
    )
    return layout.path(*[part for part in rel.split("/") if part])


def _dataset_failure(item: dict) -> str:
    definition = item["DatasetDefinition"]
    service = "Amazon Athena" if definition.get("AthenaDatasetDefinition") else "Amazon Redshift"
    return (
        f"ClientError: Input {item['InputName']}: a DatasetDefinition needs {service} to run its query, and "
        f"sagestack has no {service}. Run the query elsewhere and give its results as an S3Input, or set "
        f"AppManaged=true and read the data from the processing script."
    )


def stage_inputs(
    storage: JobStorage, data: dict, hosts: list[HostProcess], region: str, stop: StopRequest, name: str
) -> list[Callable[[], None]]:
    """Every platform-managed input into every host (its share of the objects when sharded): ``File``
    inputs copied into LocalPath, ``Pipe`` inputs streamed through the FIFOs ``<LocalPath>_<epoch>`` by
    training's Pipe-mode feeder. Returns what ends those feeders (when the job is over)."""
    pipes: list[Callable[[], None]] = []
    try:
        for item in data.get("ProcessingInputs") or []:
            if item.get("AppManaged"):
                continue  # the application moves its own data
            if item.get("DatasetDefinition"):
                raise JobFailed(_dataset_failure(item))
            source = item["S3Input"]
            try:
                objects = channel_objects(storage, source)
            except DataError as exc:
                raise JobFailed(
                    f"ClientError: Input {item['InputName']}: data download failed: {exc}"
                ) from None
            if not objects:
                bucket = source["S3Uri"][5:].split("/", 1)[0]
                raise JobFailed(
                    f'ClientError: Input {item["InputName"]}: no S3 objects found under S3 URL "{source["S3Uri"]}". '
                    f"Please ensure that the bucket exists in the selected region ({region}), that objects exist "
                    f'under that S3 prefix, and that the role "{data.get("RoleArn")}" has "s3:ListBucket" '
                    f'permissions on bucket "{bucket}".'
                )
            sharded = source.get("S3DataDistributionType") == "ShardedByS3Key"
            inflate = source.get("S3CompressionType") == "Gzip"
            for index, host in enumerate(hosts):
                target = local_dir(host.layout, source["LocalPath"])
                mine = objects[index :: len(hosts)] if sharded else objects
                if source.get("S3InputMode") == "Pipe":
                    try:
                        pipes.append(
                            start_pipe(storage, target, mine, stop, f"{name}-{host.host}", inflate=inflate)
                        )
                    except DataError as exc:
                        raise JobFailed(
                            f"ClientError: Input {item['InputName']}: data download failed: {exc}"
                        ) from None
                    continue
                target.mkdir(parents=True, exist_ok=True)
                for bucket, key, rel in mine:
                    try:
                        if inflate:
                            _inflate(storage, bucket, key, target / rel.removesuffix(".gz"))
                        else:
                            storage.fetch(bucket, key, target / rel)
                    except (DataError, OSError) as exc:
                        raise JobFailed(
                            f"ClientError: Input {item['InputName']}: data download failed: {exc}"
                        ) from None
    except BaseException:  # the feeders already started end with the job's failure
        for end in pipes:
            end()
        raise
    return pipes


def _inflate(storage: JobStorage, bucket: str, key: str, dest: Path) -> None:
    """S3CompressionType Gzip on a File input (which AWS refuses at Create): delivered decompressed."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (
        storage.open(bucket, key) as raw,
        gzip.GzipFile(fileobj=raw, mode="rb") as src,
        open(dest, "wb") as out,
    ):
        shutil.copyfileobj(src, out, 1 << 20)


def prepare_host(layout: HostLayout, data: dict, host: str, hosts: list[str]) -> None:
    """The host's tree: ``config/*.json``, ``output/`` and every output's LocalPath (made before the
    entrypoint runs)."""
    config = layout.path("config")
    config.mkdir(parents=True, exist_ok=True)
    layout.path("output").mkdir(parents=True, exist_ok=True)
    job_config = {key: data[key] for key in CONFIG_MEMBERS if key in data}
    (config / "processingjobconfig.json").write_text(json.dumps(job_config, indent=2))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": hosts}))
    for output in s3_outputs(data):
        local_dir(layout, output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)


def s3_outputs(data: dict) -> list[dict]:
    return [
        o
        for o in (data.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        if o.get("S3Output") and not o.get("AppManaged")
    ]


class OutputUploader:
    """Each output's LocalPath → its S3Uri: ``Continuous`` ones while the job runs (new or changed files),
    every one at the end."""

    def __init__(self, storage: JobStorage, data: dict, hosts: list[HostProcess]):
        self.storage = storage
        self.outputs = s3_outputs(data)
        self.hosts = hosts
        self.known: dict[tuple[str, str], dict[str, float]] = {}

    def _upload(self, output: dict) -> None:
        s3 = output["S3Output"]
        for host in self.hosts:
            directory = local_dir(host.layout, s3["LocalPath"])
            if inside(host.layout.root, directory) is not None and directory.is_dir():
                known = self.known.setdefault((output["OutputName"], host.host), {})
                # SageMaker does not follow symbolic links when it uploads outputs.
                self.storage.upload_tree(directory, s3["S3Uri"], known, follow_symlinks=False)

    def sync_continuous(self) -> None:
        for output in self.outputs:
            if output["S3Output"].get("S3UploadMode") == "Continuous":
                try:
                    self._upload(output)
                except Exception:
                    log.debug("continuous upload of %s failed", output["OutputName"], exc_info=True)

    def upload_all(self) -> None:
        for output in self.outputs:
            try:
                self._upload(output)
            except Exception as exc:
                raise JobFailed(
                    f"ClientError: Output {output['OutputName']}: upload to "
                    f"{output['S3Output']['S3Uri']} failed: {exc}"
                ) from None


def exit_message(hosts: list[HostProcess], limit: int) -> str | None:
    """``/opt/ml/output/message`` of every host, concatenated, the first ``limit`` characters; raises
    JobFailed when one is not UTF-8."""
    parts = []
    for host in hosts:
        path = host.layout.own("output", "message")
        if path is not None and path.is_file():
            try:
                parts.append(path.read_bytes().decode("utf-8"))
            except UnicodeDecodeError:
                raise JobFailed(
                    f"ClientError: /opt/ml/output/message of {host.host} is not valid UTF-8 text."
                ) from None
    text = "".join(parts)
    return text[:limit] if text else None
