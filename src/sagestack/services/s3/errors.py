"""S3's errors, worded as S3 words them (code, message, HTTP status, extra XML members), and the one
place the layers below are mapped to them: ``s3_error`` turns the object layer's domain errors
(``objects.errors``) and the aws-chunked decoder's (``protocol.aws_chunked``) into S3's answers."""

from __future__ import annotations

from ...objects import errors as object_errors
from ...protocol import aws_chunked
from ...protocol.errors import ServiceError

SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)


def no_such_bucket(bucket: str) -> ServiceError:
    return ServiceError(
        "NoSuchBucket", "The specified bucket does not exist", 404, fields={"BucketName": bucket}
    )


def no_such_key(key: str) -> ServiceError:
    return ServiceError("NoSuchKey", "The specified key does not exist.", 404, fields={"Key": key})


def no_such_upload(upload_id: str) -> ServiceError:
    return ServiceError(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, "
        "or the upload may have been aborted or completed.",
        404,
        fields={"UploadId": upload_id},
    )


def bucket_not_empty(bucket: str) -> ServiceError:
    return ServiceError(
        "BucketNotEmpty", "The bucket you tried to delete is not empty", 409, fields={"BucketName": bucket}
    )


def bucket_owned_by_you(bucket: str) -> ServiceError:
    return ServiceError(
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.",
        409,
        fields={"BucketName": bucket},
    )


def bucket_exists(bucket: str) -> ServiceError:
    return ServiceError(
        "BucketAlreadyExists",
        "The requested bucket name is not available. The bucket "
        "namespace is shared by all users of the system. Please select a different name "
        "and try again.",
        409,
        fields={"BucketName": bucket},
    )


def invalid_bucket_name(bucket: str) -> ServiceError:
    return ServiceError(
        "InvalidBucketName", "The specified bucket is not valid.", 400, fields={"BucketName": bucket}
    )


def access_denied() -> ServiceError:
    return ServiceError("AccessDenied", "Access Denied", 403)


def precondition_failed(condition: str) -> ServiceError:
    return ServiceError(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        412,
        fields={"Condition": condition},
    )


def operation_aborted() -> ServiceError:
    return ServiceError(
        "OperationAborted",
        "A conflicting conditional operation is currently in progress against this resource. Try again.",
        409,
    )


def malformed_xml() -> ServiceError:
    return ServiceError(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )


def invalid_argument(message: str, name: str | None = None, value: str | None = None) -> ServiceError:
    fields = {}
    if name is not None:
        fields = {"ArgumentName": name, "ArgumentValue": "" if value is None else str(value)}
    return ServiceError("InvalidArgument", message, 400, fields=fields)


def invalid_request(message: str) -> ServiceError:
    return ServiceError("InvalidRequest", message, 400)


def content_sha256_mismatch(declared: str, computed: str) -> ServiceError:
    return ServiceError(
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
        400,
        fields={"ClientComputedContentSHA256": declared, "S3ComputedContentSHA256": computed},
    )


def incomplete_body(message: str) -> ServiceError:
    return ServiceError("IncompleteBody", message, 400)


_CONDITION_HEADERS = {"if-match": "If-Match", "if-none-match": "If-None-Match"}


def s3_error(exc: Exception) -> ServiceError | None:
    """The S3 answer to a domain error from the layers below (None: not one of theirs)."""
    if isinstance(exc, object_errors.ObjectError):
        return _object_error(exc)
    if isinstance(exc, aws_chunked.ChunkedBodyError):
        return _chunked_error(exc)
    return None


def _object_error(exc: object_errors.ObjectError) -> ServiceError | None:
    e = object_errors
    if isinstance(exc, e.NoSuchBucket):
        return no_such_bucket(exc.bucket)
    if isinstance(exc, e.NoSuchKey):
        return no_such_key(exc.key)
    if isinstance(exc, e.NoSuchUpload):
        return no_such_upload(exc.upload_id)
    if isinstance(exc, e.BucketNotEmpty):
        return bucket_not_empty(exc.bucket)
    if isinstance(exc, e.BucketExists):
        return bucket_owned_by_you(exc.bucket) if exc.owned_by_caller else bucket_exists(exc.bucket)
    if isinstance(exc, e.NotBucketOwner):
        return access_denied()
    if isinstance(exc, e.PreconditionFailed):
        return precondition_failed(_CONDITION_HEADERS[exc.condition])
    if isinstance(exc, e.ConfigChanged):
        return operation_aborted()
    return None


def _chunked_error(exc: aws_chunked.ChunkedBodyError) -> ServiceError | None:
    if isinstance(exc, aws_chunked.MalformedBody):
        return incomplete_body(f"The aws-chunked body is malformed: {exc.detail}")
    if isinstance(exc, aws_chunked.TruncatedBody):
        return incomplete_body("The request body terminated unexpectedly")
    if isinstance(exc, aws_chunked.LengthMismatch):
        return incomplete_body(
            "You did not provide the number of bytes specified by the "
            "x-amz-decoded-content-length HTTP header"
        )
    if isinstance(exc, aws_chunked.ChunkSignatureMismatch):
        return ServiceError(
            "SignatureDoesNotMatch", SIGNATURE_MESSAGE, 403, fields={"StringToSign": exc.string_to_sign}
        )
    return None
