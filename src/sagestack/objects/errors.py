"""What the object layer refuses, as domain errors naming the bucket, key or upload — no S3 codes or
HTTP statuses: the S3 service words them (``services/s3/errors.py``), the other subsystems put
``str(error)`` in their failure reasons."""

from __future__ import annotations


class ObjectError(Exception):
    """An object-store operation that cannot be done as asked."""


class NoSuchBucket(ObjectError):
    def __init__(self, bucket: str):
        super().__init__(f"bucket {bucket} does not exist")
        self.bucket = bucket


class NoSuchKey(ObjectError):
    def __init__(self, bucket: str, key: str):
        super().__init__(f"object {key} does not exist in bucket {bucket}")
        self.bucket = bucket
        self.key = key


class NoSuchUpload(ObjectError):
    def __init__(self, upload_id: str):
        super().__init__(f"multipart upload {upload_id} does not exist (aborted, completed or never created)")
        self.upload_id = upload_id


class BucketNotEmpty(ObjectError):
    def __init__(self, bucket: str):
        super().__init__(f"bucket {bucket} is not empty")
        self.bucket = bucket


class BucketExists(ObjectError):
    """The name is taken — by the caller's own account when ``owned_by_caller``."""

    def __init__(self, bucket: str, owned_by_caller: bool):
        super().__init__(f"bucket {bucket} already exists" + (" (it is yours)" if owned_by_caller else ""))
        self.bucket = bucket
        self.owned_by_caller = owned_by_caller


class NotBucketOwner(ObjectError):
    """The bucket belongs to another account."""

    def __init__(self, bucket: str):
        super().__init__(f"bucket {bucket} belongs to another account")
        self.bucket = bucket


class PreconditionFailed(ObjectError):
    """A conditional write did not hold: ``condition`` is ``"if-match"`` (the ETag differs) or
    ``"if-none-match"`` (the key exists)."""

    def __init__(self, bucket: str, key: str, condition: str):
        super().__init__(f"the {condition} condition on {bucket}/{key} did not hold")
        self.bucket = bucket
        self.key = key
        self.condition = condition


class ConfigChanged(ObjectError):
    """A write was planned against a configuration of its bucket (its default encryption) that
    changed before the write's transaction; nothing was stored. ``data``: the configuration now."""

    def __init__(self, bucket: str, data: dict | None):
        super().__init__(f"the configuration of bucket {bucket} changed during the write")
        self.bucket = bucket
        self.data = data
