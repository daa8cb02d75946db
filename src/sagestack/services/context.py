"""What a handler gets besides its parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..protocol.http import HttpRequest

if TYPE_CHECKING:
    from ..platform import Platform


@dataclass
class RequestContext:
    platform: Platform
    request: HttpRequest
    service: str
    operation: str
    account_id: str
    region: str
    principal_arn: str
    access_key_id: str
    auth: Any = None  # gateway.sigv4.AuthResult: what the signature proved (S3 streams need it)

    @property
    def request_id(self) -> str:
        return self.request.request_id

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"
