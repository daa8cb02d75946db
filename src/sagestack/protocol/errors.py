"""Errors as AWS answers them: one exception type carrying code, status and fault; serializers per
protocol turn it into the wire format."""

from __future__ import annotations


class ServiceError(Exception):
    """An AWS error response. ``code`` is the AWS error code, ``status`` the HTTP status."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        *,
        sender_fault: bool = True,
        headers: dict[str, str] | None = None,
        fields: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        self.headers = headers or {}
        self.fields = fields or {}  # extra members (S3 <BucketName>, runtime OriginalStatusCode, …)

    def __repr__(self) -> str:
        return f"ServiceError({self.code!r}, {self.message!r}, {self.status})"


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


def not_found(message: str, code: str = "ResourceNotFound") -> ServiceError:
    return ServiceError(code, message, 400)


def in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUse", message, 400)


def limit_exceeded(message: str) -> ServiceError:
    return ServiceError("ResourceLimitExceeded", message, 400)


def not_implemented(service: str, operation: str) -> ServiceError:
    return ServiceError(
        "NotImplemented",
        f"The operation {operation} of service {service} is not implemented by sagestack yet. "
        f"See docs/coverage.md for the operations that are.",
        501,
        sender_fault=False,
    )


def internal(message: str = "An internal error occurred.") -> ServiceError:
    return ServiceError("InternalFailure", message, 500, sender_fault=False)
