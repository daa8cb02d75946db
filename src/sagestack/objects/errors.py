"""S3's errors, worded as S3 words them (code, message, HTTP status, extra XML members)."""

from __future__ import annotations

from ..protocol.errors import ServiceError


def no_such_bucket(bucket: str) -> ServiceError:
    return ServiceError("NoSuchBucket", "The specified bucket does not exist", 404,
                        fields={"BucketName": bucket})


def no_such_key(key: str) -> ServiceError:
    return ServiceError("NoSuchKey", "The specified key does not exist.", 404, fields={"Key": key})


def no_such_upload(upload_id: str) -> ServiceError:
    return ServiceError("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, "
                        "or the upload may have been aborted or completed.", 404,
                        fields={"UploadId": upload_id})


def bucket_not_empty(bucket: str) -> ServiceError:
    return ServiceError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409,
                        fields={"BucketName": bucket})


def bucket_owned_by_you(bucket: str) -> ServiceError:
    return ServiceError("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket "
                        "succeeded and you already own it.", 409, fields={"BucketName": bucket})


def bucket_exists(bucket: str) -> ServiceError:
    return ServiceError("BucketAlreadyExists", "The requested bucket name is not available. The bucket "
                        "namespace is shared by all users of the system. Please select a different name "
                        "and try again.", 409, fields={"BucketName": bucket})


def invalid_bucket_name(bucket: str) -> ServiceError:
    return ServiceError("InvalidBucketName", "The specified bucket is not valid.", 400,
                        fields={"BucketName": bucket})


def access_denied() -> ServiceError:
    return ServiceError("AccessDenied", "Access Denied", 403)


def precondition_failed(condition: str) -> ServiceError:
    return ServiceError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                        412, fields={"Condition": condition})


def malformed_xml() -> ServiceError:
    return ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                        "against our published schema", 400)


def invalid_argument(message: str, name: str | None = None, value: str | None = None) -> ServiceError:
    fields = {}
    if name is not None:
        fields = {"ArgumentName": name, "ArgumentValue": "" if value is None else str(value)}
    return ServiceError("InvalidArgument", message, 400, fields=fields)


def invalid_request(message: str) -> ServiceError:
    return ServiceError("InvalidRequest", message, 400)
