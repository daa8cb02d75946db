"""Objects whose bytes live in a remote S3-compatible service (``--objects-url s3://bucket/prefix``).

The S3 semantics stay sagestack's own: the object index — buckets, keys, versions of metadata, ETags,
checksums, tags, SSE settings, multipart uploads and their parts — is the SQL store's, exactly as with
the local backend, so listing, conditional writes, presigned URLs (signed and checked by sagestack;
clients talk to sagestack) and the KMS framing of encrypted objects behave the same. Only where the
bytes are kept changes: every stored file (``data/xx/<uuid>``, immutable once written) is an object
under ``<prefix>/`` of one remote bucket, written with boto3's managed transfers (multipart above
8 MiB), copied server-side for CopyObject, deleted when the index lets it go. The first read of a
stored file downloads it whole into a local read cache (``<objects-dir>/cache/``, one file per stored
file; stored files never change, so it never goes stale, and it is safe to delete at any time) from which
requests, training channels and model downloads are served.

Several servers (``--cluster``) on one database may use one remote store (each with its own cache), as
they may share a local data dir. The remote bucket holds sagestack's files, not one remote bucket per
sagestack bucket: give sagestack a bucket (or a prefix) of its own.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .local import ObjectStore, StagedFile


class RemoteObjectsError(ValueError):
    """The remote object store is misconfigured or unreachable (names the URL and the reason)."""


@dataclass(frozen=True)
class RemoteConfig:
    bucket: str
    prefix: str
    endpoint_url: str | None
    region: str | None
    access_key: str | None
    secret_key: str | None

    @classmethod
    def parse(
        cls, url: str, access_key: str | None = None, secret_key: str | None = None, region: str | None = None
    ) -> RemoteConfig:
        """``s3://bucket[/prefix][?endpoint_url=http://host:port&region=…]``."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise RemoteObjectsError(
                f"objects URL {url!r}: expected s3://bucket[/prefix][?endpoint_url=URL&region=REGION]"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"endpoint_url", "region"}
        if unknown:
            raise RemoteObjectsError(
                f"objects URL {url!r}: unknown parameter(s) {', '.join(sorted(unknown))}"
            )
        prefix = parts.path.strip("/")
        return cls(
            bucket=parts.netloc,
            prefix=prefix + "/" if prefix else "",
            endpoint_url=query.get("endpoint_url"),
            region=region or query.get("region"),
            access_key=access_key,
            secret_key=secret_key,
        )

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region or "us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 5, "mode": "standard"},
                max_pool_connections=32,
            ),
        )


class RemoteObjectStore(ObjectStore):
    """The object store with its bytes in a remote S3 bucket (see the module doc)."""

    def __init__(self, root: Path, index, region: str, keyring, remote: RemoteConfig, client=None):
        super().__init__(root, index, region, keyring)
        self.remote = remote
        self.client = client or remote.client()
        self.cache_dir = self.root / "cache"
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._fetching: dict[str, threading.Lock] = {}
        self._fetch_lock = threading.Lock()
        self._ensure_bucket()

    def _ensure_bucket(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.remote.bucket)
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise RemoteObjectsError(f"remote bucket {self.remote.bucket}: {exc}") from None
        except BotoCoreError as exc:
            raise RemoteObjectsError(
                f"remote object store {self.remote.endpoint_url or 'AWS'}: {exc}"
            ) from None
        try:
            self.client.create_bucket(Bucket=self.remote.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou",):
                raise RemoteObjectsError(f"remote bucket {self.remote.bucket}: {exc}") from None

    def remote_key(self, storage_path: str) -> str:
        return self.remote.prefix + storage_path

    # -- where bytes live: the four primitives the local store builds on ----------------------------

    def _publish(self, staged: StagedFile) -> str:
        name = uuid.uuid4().hex
        relative = f"data/{name[:2]}/{name}"
        self.client.upload_file(str(staged.path), self.remote.bucket, self.remote_key(relative))
        staged.published = True
        try:
            os.unlink(staged.path)
        except FileNotFoundError:
            pass
        return relative

    def _link(self, storage_path: str) -> str:
        name = uuid.uuid4().hex
        relative = f"data/{name[:2]}/{name}"
        self.client.copy(
            {"Bucket": self.remote.bucket, "Key": self.remote_key(storage_path)},
            self.remote.bucket,
            self.remote_key(relative),
        )
        return relative

    def _release(self, storage_paths: Iterable[str]) -> None:
        paths = list(storage_paths)
        for start in range(0, len(paths), 1000):
            batch = paths[start : start + 1000]
            self.client.delete_objects(
                Bucket=self.remote.bucket,
                Delete={"Objects": [{"Key": self.remote_key(p)} for p in batch], "Quiet": True},
            )
        for relative in paths:
            try:
                os.unlink(self.cache_dir / relative)
            except FileNotFoundError:
                pass

    def path_of(self, storage_path: str) -> Path:
        """The stored file in the local read cache, fetched from the remote on first use
        (FileNotFoundError when the remote no longer has it: the object was replaced)."""
        target = self.cache_dir / storage_path
        if target.exists():
            return target
        with self._fetch_lock:
            lock = self._fetching.setdefault(storage_path, threading.Lock())
        with lock:
            try:
                if target.exists():
                    return target
                self._fetch(storage_path, target)
            finally:
                with self._fetch_lock:
                    self._fetching.pop(storage_path, None)
        return target

    def _fetch(self, storage_path: str, target: Path) -> None:
        from botocore.exceptions import ClientError

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp_dir / uuid.uuid4().hex
        try:
            self.client.download_file(self.remote.bucket, self.remote_key(storage_path), str(tmp))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(storage_path) from None
            raise
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, target)


def build_remote_store(root: Path, index, region: str, keyring, settings) -> RemoteObjectStore:
    remote = RemoteConfig.parse(
        settings.objects_url,
        access_key=settings.objects_access_key,
        secret_key=settings.objects_secret_key,
        region=settings.objects_region,
    )
    return RemoteObjectStore(root, index, region, keyring, remote)
