"""Amazon S3 (rest-xml): buckets, objects, listing, multipart uploads and tagging over the object
layer (``sagestack.objects``). One module per resource family; this table merges them."""

from __future__ import annotations

from ..registry import OperationTable
from . import bucket_config, buckets, listing, multipart, objects
from .errors import s3_error

OPERATIONS = OperationTable("s3", errors=s3_error).merge(
    buckets.OPERATIONS, objects.OPERATIONS, listing.OPERATIONS, multipart.OPERATIONS, bucket_config.OPERATIONS
)
