"""sagemaker-runtime: InvokeEndpoint, InvokeEndpointWithResponseStream and InvokeEndpointAsync.

``POST /endpoints/{name}/invocations`` normally never reaches this table: the gateway hands it to the
serving router (the fast path). The handler here serves the same call when the router is not attached
(and shares its code). The streaming operation answers with an AWS event stream of ``PayloadPart``
events carrying the model's response.
"""

from __future__ import annotations

import time

from ...protocol.http import HttpResponse
from ...serving import eventstream
from ...serving.controller import serving_controller
from ...serving.router import MAX_PAYLOAD, invocation_response, payload_too_large
from ..context import RequestContext
from ..registry import OperationTable

OPERATIONS = OperationTable("sagemaker-runtime")
PART_SIZE = 64 * 1024


async def _forward(ctx: RequestContext, params: dict, accept: str | None):
    router = serving_controller(ctx.platform).router
    route = router.route_for(ctx.account_id, ctx.region, params["EndpointName"])
    return await router.forward(
        route,
        params.get("Body") or b"",
        params.get("ContentType"),
        accept,
        params.get("CustomAttributes"),
        params.get("TargetVariant"),
        params.get("TargetContainerHostname"),
        params.get("InferenceId"),
        time.perf_counter(),
        params.get("TargetModel"),
    )


@OPERATIONS.handler("InvokeEndpoint")
async def invoke_endpoint(ctx: RequestContext, params: dict) -> HttpResponse:
    if len(params.get("Body") or b"") > MAX_PAYLOAD:
        return payload_too_large(ctx.request)
    variant, response, _ = await _forward(ctx, params, params.get("Accept"))
    return invocation_response(ctx.request_id, variant, response)


@OPERATIONS.handler("InvokeEndpointWithResponseStream")
async def invoke_endpoint_with_response_stream(ctx: RequestContext, params: dict) -> HttpResponse:
    if len(params.get("Body") or b"") > MAX_PAYLOAD:
        return payload_too_large(ctx.request)
    variant, response, _ = await _forward(ctx, params, params.get("Accept"))
    content_type = response.header(b"content-type")
    headers = [
        ("content-type", "application/vnd.amazon.eventstream"),
        (
            "x-amzn-sagemaker-content-type",
            content_type.decode("latin-1") if content_type else "application/octet-stream",
        ),
        ("x-amzn-invoked-production-variant", variant.name),
        ("x-amzn-requestid", ctx.request_id),
    ]
    custom = response.header(b"x-amzn-sagemaker-custom-attributes")
    if custom is not None:
        headers.append(("x-amzn-sagemaker-custom-attributes", custom.decode("latin-1")))
    body = response.body

    async def events():
        for start in range(0, max(len(body), 1), PART_SIZE):
            yield eventstream.payload_part(body[start : start + PART_SIZE])

    return HttpResponse(200, headers, events())


@OPERATIONS.handler("InvokeEndpointAsync")
def invoke_endpoint_async(ctx: RequestContext, params: dict) -> dict:
    """Queue the request durably and answer at once (serving/async_inference.py does the work)."""
    from ...serving.async_inference import submit

    return submit(ctx.platform, ctx.account_id, ctx.region, params)
