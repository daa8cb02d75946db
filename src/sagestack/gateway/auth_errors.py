"""Authentication errors, worded as AWS words them for the service family the request was signed for.

S3 (rest-xml codes such as ``SignatureDoesNotMatch`` / ``InvalidAccessKeyId``, with S3's extra XML
members), query services (sts, iam, monitoring: ``SignatureDoesNotMatch`` / ``InvalidClientTokenId``,
403) and JSON services (sagemaker, logs, ...: ``InvalidSignatureException`` /
``UnrecognizedClientException``, 400). The verifiers (``sigv4``, ``sigv2``) decide *what* failed; this
module says it.
"""

from __future__ import annotations

import time

from ..protocol.signing import MAX_SKEW_SECONDS, amz_date

# Signing names of the services answering in the query protocol's error vocabulary.
QUERY_STYLE_SERVICES = frozenset({"sts", "iam", "monitoring", "sns", "sqs", "ec2", "autoscaling"})

S3_SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
_SIG_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


class AuthError(Exception):
    """An authentication failure, worded as the AWS service answers it."""

    def __init__(self, code: str, message: str, status: int = 403, s3_extra: dict[str, str] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.s3_extra: dict[str, str] = dict(s3_extra or {})


def _iso_seconds(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class AuthErrors:
    """Builds AuthErrors in the vocabulary of the service family the request was signed for."""

    def __init__(self, service: str | None):
        self.service = service or ""
        self.s3 = service == "s3"
        self.json = not self.s3 and self.service not in QUERY_STYLE_SERVICES

    def _coded(self, base: str, message: str, json_status: int = 400, query_status: int = 403) -> AuthError:
        if self.json:
            return AuthError(base + "Exception", message, json_status)
        return AuthError(base, message, query_status)

    def missing(self) -> AuthError:
        if self.s3:
            return AuthError("AccessDenied", "Access Denied", 403)
        if self.json:
            return AuthError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        return AuthError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)

    def malformed(self, message: str) -> AuthError:
        if self.s3:
            return AuthError(
                "AuthorizationHeaderMalformed", f"The authorization header is malformed; {message}", 400
            )
        return self._coded("IncompleteSignature", message, 400, 400)

    def malformed_query(self, message: str) -> AuthError:
        if self.s3:
            return AuthError("AuthorizationQueryParametersError", message, 400)
        return self._coded("IncompleteSignature", message, 400, 400)

    def unknown_key(self, access_key_id: str) -> AuthError:
        if self.s3:
            return AuthError(
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                403,
                {"AWSAccessKeyId": access_key_id},
            )
        message = "The security token included in the request is invalid."
        return AuthError(
            *(
                ("UnrecognizedClientException", message, 400)
                if self.json
                else ("InvalidClientTokenId", message, 403)
            )
        )

    def bad_token(self, access_key_id: str) -> AuthError:
        if self.s3:
            return AuthError("InvalidToken", "The provided token is malformed or otherwise invalid.", 400)
        return self.unknown_key(access_key_id)

    def expired_token(self, token: str) -> AuthError:
        if self.s3:
            return AuthError("ExpiredToken", "The provided token has expired.", 400, {"Token-0": token})
        message = "The security token included in the request is expired"
        return self._coded("ExpiredToken", message, 400, 403)

    def signature(self, message: str | None = None, extra: dict[str, str] | None = None) -> AuthError:
        if self.s3:
            return AuthError("SignatureDoesNotMatch", message or S3_SIGNATURE_MESSAGE, 403, extra)
        if self.json:
            return AuthError("InvalidSignatureException", message or _SIG_MESSAGE, 400)
        return AuthError("SignatureDoesNotMatch", message or _SIG_MESSAGE, 403)

    def skewed(self, request_time: float, now: float) -> AuthError:
        if self.s3:
            return AuthError(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                403,
                {
                    "RequestTime": amz_date(request_time),
                    "ServerTime": _iso_seconds(now),
                    "MaxAllowedSkewMilliseconds": str(MAX_SKEW_SECONDS * 1000),
                },
            )
        if request_time < now:
            message = (
                f"Signature expired: {amz_date(request_time)} is now earlier than "
                f"{amz_date(now - MAX_SKEW_SECONDS)} ({amz_date(now)} - 15 min.)"
            )
        else:
            message = (
                f"Signature not yet current: {amz_date(request_time)} is still later than "
                f"{amz_date(now + MAX_SKEW_SECONDS)} ({amz_date(now)} + 15 min.)"
            )
        return self.signature(message)

    def credential_date_mismatch(self, date: str, timestamp: str) -> AuthError:
        if self.s3:
            return self.malformed("Invalid credential date. Date is not the same as X-Amz-Date.")
        return self.signature(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date}' != '{timestamp[:8]}', from '{timestamp}'."
        )

    def host_not_signed(self) -> AuthError:
        if self.s3:
            return self.malformed("the SignedHeaders must include 'host'.")
        return self.malformed("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")

    def headers_not_signed(self, names: list[str]) -> AuthError:
        return AuthError(
            "AccessDenied",
            "There were headers present in the request which were not signed",
            403,
            {"HeadersNotSigned": ", ".join(names)},
        )

    def missing_date(self) -> AuthError:
        if self.s3:
            return AuthError(
                "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", 403
            )
        return self.malformed(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )

    def presign_not_yet_valid(self, request_time: float, now: float) -> AuthError:
        if self.s3:
            return AuthError("AccessDenied", "Request is not valid yet", 403)
        return self.skewed(request_time, now)

    def presign_expired(self, request_time: float, expires: int, now: float) -> AuthError:
        if self.s3:
            return AuthError(
                "AccessDenied",
                "Request has expired",
                403,
                {
                    "X-Amz-Expires": str(expires),
                    "Expires": _iso_seconds(request_time + expires),
                    "ServerTime": _iso_seconds(now),
                },
            )
        return self.signature(
            f"Signature expired: {amz_date(request_time + expires)} is now earlier than {amz_date(now)}."
        )

    def missing_content_sha(self) -> AuthError:
        return AuthError(
            "InvalidRequest", "Missing required header for this request: x-amz-content-sha256", 400
        )

    def content_sha_mismatch(self, declared: str, computed: str) -> AuthError:
        if self.s3:
            return AuthError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
                {"ClientComputedContentSHA256": declared, "S3ComputedContentSHA256": computed},
            )
        return self.signature()

    def bad_content_sha(self) -> AuthError:
        if self.s3:
            return AuthError(
                "InvalidArgument",
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
                "or a valid sha256 value.",
                400,
                {"ArgumentName": "x-amz-content-sha256"},
            )
        return self.signature()


def content_sha256_mismatch(service: str, declared: str, computed: str) -> AuthError:
    """The error for a body whose hash differs from the declared one (for callers checking later)."""
    return AuthErrors(service).content_sha_mismatch(declared, computed)
