"""What a job moves in and out: channel data, checkpoints, artifacts (through the object layer),
log lines and metrics (through the log and metric stores). One place that binds those APIs."""

from __future__ import annotations

import json
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..objects.errors import ObjectError


class DataError(Exception):
    """A problem with the job's input that SageMaker reports as a ClientError."""


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise DataError(f"{uri} is not an S3 URI (expected s3://bucket/prefix)")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


@dataclass
class JobStorage:
    platform: object
    account_id: str
    region: str

    @property
    def objects(self):
        from ..objects import object_store

        return object_store(self.platform)

    # -- inputs ---------------------------------------------------------------------------

    def list_prefix(self, uri: str) -> list[tuple[str, str, int]]:
        """(bucket, key, size) of every object whose key starts with the URI's prefix, key order."""
        bucket, prefix = split_uri(uri)
        try:
            items = [(bucket, info.key, info.size) for info in self.objects.iter_keys(bucket, prefix)]
        except ObjectError as exc:
            raise DataError(f"Could not access {uri}: {exc}") from None
        return [item for item in items if not item[1].endswith("/")]

    def read_bytes(self, bucket: str, key: str) -> bytes:
        with self.open(bucket, key) as handle:
            return handle.read()

    def open(self, bucket: str, key: str) -> BinaryIO:
        """The object's bytes, open for reading (decrypted as they are read when stored encrypted)."""
        from ..store.kms import KmsError

        try:
            handle, _ = self.objects.open(bucket, key)
        except ObjectError as exc:
            raise DataError(f"Could not read s3://{bucket}/{key}: {exc}") from None
        except KmsError as exc:
            raise DataError(
                f"Could not decrypt s3://{bucket}/{key} (SSE-KMS): {exc.message or exc.kind}"
            ) from None
        return handle

    def fetch(self, bucket: str, key: str, dest: Path) -> None:
        """Materialise one object at ``dest``: a copy (the job may modify its inputs; a hard link would
        let it modify the stored object)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.open(bucket, key) as source, open(dest, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)

    def manifest_entries(self, uri: str) -> list[tuple[str, str, str]]:
        """(bucket, key, name relative to the manifest's prefix) for each object a manifest lists."""
        from ..formats.manifest import FormatError, parse_manifest, split_s3_uri

        bucket, key = split_uri(uri)
        try:
            body = self.read_bytes(bucket, key)
            uris = parse_manifest(body)
            prefix_length = len(json.loads(body)[0]["prefix"])
            return [(*split_s3_uri(full), full[prefix_length:]) for full in uris]
        except FormatError as exc:
            raise DataError(f"The manifest file {uri} is invalid: {exc}") from None

    # -- outputs --------------------------------------------------------------------------

    def upload_file(self, path: Path, uri: str, content_type: str | None = None) -> None:
        bucket, key = split_uri(uri)
        self.objects.put_file(self.account_id, bucket, key, str(path), content_type=content_type)

    def upload_tree(
        self,
        directory: Path,
        uri_prefix: str,
        known: dict[str, float] | None = None,
        follow_symlinks: bool = True,
    ) -> None:
        """Upload files under ``directory`` whose mtime changed since ``known`` (updated in place);
        symbolic links are skipped unless ``follow_symlinks``."""
        base = uri_prefix.rstrip("/")
        for path in sorted(directory.rglob("*")):
            if not path.is_file() or (not follow_symlinks and path.is_symlink()):
                continue
            rel = path.relative_to(directory).as_posix()
            mtime = path.stat().st_mtime
            if known is not None and known.get(rel) == mtime:
                continue
            self.upload_file(path, f"{base}/{rel}")
            if known is not None:
                known[rel] = mtime

    def download_tree(self, uri_prefix: str, directory: Path) -> int:
        base_bucket, base_key = split_uri(uri_prefix.rstrip("/") + "/")
        count = 0
        for bucket, key, _ in self.list_prefix(f"s3://{base_bucket}/{base_key}"):
            self.fetch(bucket, key, directory / key[len(base_key) :])
            count += 1
        return count

    # -- logs and metrics -----------------------------------------------------------------

    def append_logs(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        from ..store.logs import log_store

        log_store(self.platform).append(self.account_id, self.region, group, stream, events)

    def put_metrics(self, namespace: str, items: list[dict]) -> None:
        """items: {"name", "value", "timestamp" (epoch s), "dimensions": {…}, "unit"}."""
        from ..store.metrics import metric_store

        metric_store(self.platform).put_many(
            self.account_id, self.region, [{**item, "namespace": namespace} for item in items]
        )


def make_tarball(source: Path, dest: Path) -> None:
    """``source``'s contents at the archive root, gzip'd (what SageMaker uploads as model.tar.gz)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w:gz", compresslevel=6) as tar:
        for path in sorted(source.iterdir()):
            tar.add(path, arcname=path.name)
