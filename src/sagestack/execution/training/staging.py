"""Staging a training run: the input channels (File, Pipe; S3 prefix, manifest, augmented manifest), the
source directory and the last checkpoints, into each host's ``/opt/ml``."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ...formats.archives import extract_tarball
from ..layout import HostLayout
from ..storage import DataError, JobStorage
from .job import HostProcess, JobFailed, StopRequest


def stage_inputs(
    storage: JobStorage, data: dict, hosts: list[HostProcess], region: str, stop: StopRequest, name: str
) -> dict:
    """Every channel into every host (sharded by key where asked); returns ``inputdataconfig.json``."""
    input_config: dict[str, dict] = {}
    mode_default = data["AlgorithmSpecification"].get("TrainingInputMode", "File")
    for channel in data.get("InputDataConfig", []):
        channel_name = channel["ChannelName"]
        source = channel["DataSource"]["S3DataSource"]
        mode = channel.get("InputMode") or mode_default
        entry = {
            "TrainingInputMode": mode,
            "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
        if channel.get("ContentType"):
            entry["ContentType"] = channel["ContentType"]
        if channel.get("CompressionType") and channel["CompressionType"] != "None":
            entry["CompressionType"] = channel["CompressionType"]
        input_config[channel_name] = entry
        try:
            objects = channel_objects(storage, source)
        except DataError as exc:
            raise JobFailed(f"ClientError: Data download failed: {exc}") from None
        if not objects:
            bucket = source["S3Uri"][5:].split("/", 1)[0]
            raise JobFailed(
                f"ClientError: Data download failed:No S3 objects found under S3 URL "
                f'"{source["S3Uri"]}" given in input data source. Please ensure that the bucket '
                f"exists in the selected region ({region}), that objects exist under that S3 "
                f'prefix, and that the role "{data.get("RoleArn")}" has "s3:ListBucket" '
                f'permissions on bucket "{bucket}".'
            )
        sharded = entry["S3DistributionType"] == "ShardedByS3Key"
        augmented = source.get("S3DataType") == "AugmentedManifestFile"
        attributes = source.get("AttributeNames") or None
        if augmented and mode == "Pipe":
            check_manifests(storage, objects, attributes)
        for index, host in enumerate(hosts):
            mine = objects[index :: len(hosts)] if sharded else objects
            target = host.layout.path("input", "data", channel_name)
            if mode == "Pipe":
                wrapped = augmented and entry["RecordWrapperType"] == "RecordIO"
                start_pipe(
                    storage,
                    target,
                    mine,
                    stop,
                    name,
                    inflate=channel.get("CompressionType") == "Gzip",
                    augmented_attributes=(attributes or []) if wrapped else None,
                )
                continue
            for bucket, key, rel in mine:
                try:
                    storage.fetch(bucket, key, target / rel)
                except DataError as exc:
                    raise JobFailed(f"ClientError: Data download failed: {exc}") from None
                if augmented:
                    stage_manifest_refs(storage, target / rel, target, attributes)
    return input_config


REFS_DIR = ".s3"


def check_manifests(storage: JobStorage, objects: list, attributes: list | None) -> None:
    """A Pipe-mode augmented manifest that does not parse (or lacks an ``AttributeNames`` attribute)
    fails the job before the stream starts."""
    from ...formats.manifest import FormatError, iter_augmented_manifest

    for bucket, key, _ in objects:
        try:
            for _ in iter_augmented_manifest(storage.read_bytes(bucket, key).splitlines(), attributes):
                pass
        except FormatError as exc:
            raise JobFailed(
                f"ClientError: The augmented manifest s3://{bucket}/{key} is invalid: {exc}"
            ) from None
        except DataError as exc:
            raise JobFailed(f"ClientError: Data download failed: {exc}") from None


def stage_manifest_refs(storage: JobStorage, manifest: Path, target: Path, attributes: list | None) -> None:
    """File mode with an augmented manifest: every object its ``-ref`` attributes (of ``AttributeNames``,
    else of each line) point at, copied to ``<channel>/.s3/<bucket>/<key>`` beside the manifest (the
    hidden folder keeps them out of the channel's data files)."""
    from ...formats.manifest import FormatError, is_ref, iter_augmented_manifest, split_s3_uri

    seen: set[str] = set()
    try:
        for doc in iter_augmented_manifest(manifest, attributes):
            for attribute, value in doc.items():
                if not is_ref(attribute) or not isinstance(value, str) or value in seen:
                    continue
                seen.add(value)
                bucket, key = split_s3_uri(value)
                storage.fetch(bucket, key, target / REFS_DIR / bucket / key)
    except FormatError as exc:
        raise JobFailed(f"ClientError: The augmented manifest {manifest.name} is invalid: {exc}") from None
    except DataError as exc:
        raise JobFailed(f"ClientError: Data download failed: {exc}") from None


def _augmented_stream(storage: JobStorage, objects: list, attributes: list, out: BinaryIO) -> None:
    """Pipe mode, ``RecordWrapperType=RecordIO``: each selected attribute of each manifest line as one
    RecordIO record, in ``AttributeNames`` order (the objects behind ``-ref`` URIs, values as JSON)."""
    from ...formats.manifest import iter_augmented_payloads, split_s3_uri
    from ...formats.recordio import frame

    def read_ref(uri: str) -> bytes:
        return storage.read_bytes(*split_s3_uri(uri))

    for bucket, key, _ in objects:
        with storage.open(bucket, key) as raw:
            lines = raw.read().splitlines()
        if attributes:
            for payloads in iter_augmented_payloads(lines, attributes, read_ref):
                out.write(frame(payloads))
        else:
            from ...formats.manifest import attribute_payload, iter_augmented_manifest

            for doc in iter_augmented_manifest(lines):
                out.write(frame([attribute_payload(n, v, read_ref) for n, v in doc.items()]))


def channel_objects(storage: JobStorage, source: dict) -> list[tuple[str, str, str]]:
    """(bucket, key, path below the channel directory) for each object of a channel."""
    kind = source.get("S3DataType", "S3Prefix")
    uri = source["S3Uri"]
    if kind == "ManifestFile":
        return storage.manifest_entries(uri)
    if kind == "AugmentedManifestFile":
        bucket, key = uri[5:].split("/", 1)
        return [(bucket, key, key.rsplit("/", 1)[-1])]
    bucket, prefix = uri[5:].split("/", 1) if "/" in uri[5:] else (uri[5:], "")
    result = []
    for b, key, _size in storage.list_prefix(uri):
        rel = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
        result.append((b, key, rel))
    return result


def start_pipe(
    storage: JobStorage,
    stem: Path,
    objects: list,
    stop: StopRequest,
    name: str,
    inflate: bool = False,
    augmented_attributes: list | None = None,
) -> Callable[[], None]:
    """Pipe mode: FIFOs ``<stem>_<epoch>`` (epoch 0, 1, …), each streaming every object once, in order —
    gunzipped on the way when ``inflate`` (``CompressionType``/``S3CompressionType`` Gzip). Training's are
    ``input/data/<channel>_<epoch>``, processing's ``<LocalPath>_<epoch>``. Returns what ends the feeding
    thread once the job is over (it otherwise waits for a reader that never comes). With
    ``augmented_attributes`` (an augmented manifest with ``RecordWrapperType=RecordIO``; ``[]``: every
    attribute) the stream is the manifest's attributes as RecordIO records (§1.3.5)."""
    sources = [(b, k) for b, k, _ in objects]
    for bucket, key in sources:  # unreadable inputs fail the job now, not mid-stream
        storage.open(bucket, key).close()
    stem.parent.mkdir(parents=True, exist_ok=True)

    def make(epoch: int) -> Path:
        fifo = stem.with_name(f"{stem.name}_{epoch}")
        try:
            os.mkfifo(fifo)
        except FileExistsError:
            pass
        return fifo

    first = make(0)  # there before the container starts
    ended = threading.Event()
    waiting = [first]  # the FIFO the thread opens next

    def feed() -> None:
        epoch, fifo = 0, first
        while not stop.is_set() and not ended.is_set():
            try:
                fd = os.open(fifo, os.O_WRONLY)
            except OSError:
                return
            try:
                make(epoch + 1)  # there when the reader reaches this epoch's end
                with os.fdopen(fd, "wb") as out:
                    if augmented_attributes is not None:
                        _augmented_stream(storage, objects, augmented_attributes, out)
                    for bucket, key in sources if augmented_attributes is None else []:
                        with storage.open(bucket, key) as raw:
                            if inflate:
                                with gzip.GzipFile(fileobj=raw, mode="rb") as src:
                                    shutil.copyfileobj(src, out, 1 << 20)
                            else:
                                shutil.copyfileobj(raw, out, 1 << 20)
            except (
                OSError,
                EOFError,
                DataError,
                ValueError,
            ):  # reader gone (BrokenPipeError), bad gzip/manifest
                pass
            epoch += 1
            fifo = waiting[0] = stem.with_name(f"{stem.name}_{epoch}")

    def end() -> None:
        ended.set()
        try:  # a reader that comes and goes: the blocked open returns, the write fails, the loop ends
            os.close(os.open(waiting[0], os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass

    threading.Thread(target=feed, name=f"pipe-{name}-{stem.name}", daemon=True).start()
    return end


def stage_code(storage: JobStorage, hosts: list[HostProcess], hyperparameters: dict[str, str]) -> None:
    """``sagemaker_submit_directory`` extracted into each host's ``code/``: an s3:// tar.gz (read through
    the object layer, which decrypts SSE-KMS objects), or a tar.gz inside the job's own /opt/ml — with
    network isolation the SDK ships the code as the input channel ``code`` and points at
    ``/opt/ml/input/data/code/sourcedir.tar.gz``."""
    submit = hyperparameters.get("sagemaker_submit_directory")
    if not submit:
        return
    try:
        submit = json.loads(submit)
    except ValueError:
        pass
    if not isinstance(submit, str):
        return
    if submit.startswith("/opt/ml/"):
        parts = [part for part in submit[len("/opt/ml/") :].split("/") if part]
        if ".." in parts or any(not host.layout.path(*parts).is_file() for host in hosts):
            raise JobFailed(
                f"ClientError: the source directory {submit} does not exist in the job: with "
                f"network isolation the code comes as an input channel (the SDK's 'code' "
                f"channel); check InputDataConfig"
            )

        def archive_of(host: HostProcess) -> BinaryIO:
            return open(host.layout.path(*parts), "rb")
    elif submit.startswith("s3://"):
        bucket, key = submit[5:].split("/", 1)

        def archive_of(host: HostProcess) -> BinaryIO:
            return storage.open(bucket, key)
    else:
        return
    for host in hosts:
        try:
            archive = archive_of(host)
        except DataError as exc:
            raise JobFailed(f"ClientError: could not fetch the source directory {submit}: {exc}") from None
        try:
            with archive:
                extract_tarball(archive, host.layout.path("code"))
        except Exception as exc:
            raise JobFailed(
                f"ClientError: the source directory {submit} is not a valid tar.gz: {exc}"
            ) from None


def checkpoint_dir(data: dict, layout: HostLayout) -> Path:
    """Where the job writes checkpoints (``CheckpointConfig.LocalPath``, below /opt/ml)."""
    local = (data.get("CheckpointConfig") or {}).get("LocalPath", "/opt/ml/checkpoints")
    if local.startswith("/opt/ml/"):
        return layout.path(*local[len("/opt/ml/") :].split("/"))
    return layout.path("checkpoints")


def restore_checkpoints(
    storage: JobStorage, data: dict, hosts: list[HostProcess], note: Callable[[HostProcess, str], None]
) -> None:
    """The checkpoints under ``CheckpointConfig.S3Uri`` into each host (a resumed job goes on from them)."""
    config = data.get("CheckpointConfig")
    if not config:
        return
    for host in hosts:
        count = storage.download_tree(config["S3Uri"], checkpoint_dir(data, host.layout))
        if count:
            note(host, f"sagestack: restored {count} checkpoint file(s) from {config['S3Uri']}")
