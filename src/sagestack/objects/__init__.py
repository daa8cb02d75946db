"""The object layer: S3 buckets and objects that every subsystem reads and writes.

Training downloads channels and uploads ``model.tar.gz``, serving reads models, batch transform streams
inputs and outputs, the S3 API serves clients — all through one ``ObjectStore``::

    from sagestack.objects import object_store, parse_s3_uri

    store = object_store(platform)               # built once per platform
    bucket, key = parse_s3_uri("s3://bkt/path/model.tar.gz")
    store.put_file(account, bucket, key, "/tmp/model.tar.gz")
    path = store.get_path(bucket, key)           # the stored file: read it, never modify it
    handle, info = store.open(bucket, key)       # or stream it (objects stored encrypted: only this way)
    for info in store.iter_keys(bucket, "train/"):
        ...

Errors are the domain errors of ``objects.errors`` (``NoSuchBucket``, ``NoSuchKey``, …); the S3 service
words them as S3 does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..store.objects_index import BucketInfo, ListPage, ObjectInfo, PartInfo, UploadInfo
from .local import EncryptedObject, ObjectStore, StagedFile

if TYPE_CHECKING:
    from ..platform import Platform

__all__ = [
    "BucketInfo",
    "EncryptedObject",
    "ListPage",
    "ObjectInfo",
    "ObjectStore",
    "PartInfo",
    "StagedFile",
    "UploadInfo",
    "object_store",
    "parse_s3_uri",
]


def _build(platform: Platform) -> ObjectStore:
    from ..store.kms import key_store
    from ..store.objects_index import ObjectIndex

    settings = platform.settings
    if settings.objects_url:  # the bytes in a remote S3 service (objects/remote.py)
        from .remote import build_remote_store

        return build_remote_store(
            settings.objects_dir, ObjectIndex(platform.db), settings.region, key_store(platform), settings
        )
    return ObjectStore(
        platform.settings.objects_dir,
        ObjectIndex(platform.db),
        platform.settings.region,
        keyring=key_store(platform),
    )


def object_store(platform: Platform) -> ObjectStore:
    """The platform's object store (built on first use)."""
    return platform.component("objects", _build)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/parts`` → ``("bucket", "key/parts")`` (key may be empty)."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an S3 URI: {uri!r} (expected s3://bucket/key)")
    key = uri.split("://", 1)[1].split("/", 1)[1] if "/" in uri.split("://", 1)[1] else ""
    return parts.netloc, key
