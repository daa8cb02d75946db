"""Lambda Invoke: RequestResponse (the run awaited on a pool of its own, never on the event loop or the
request threads), Event (queued, 202) and DryRun (204); LogType Tail answers the log's last 4 KB."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from ...domain.functions import FunctionError
from ...execution import functions as runner
from ..context import RequestContext
from ..registry import OperationTable
from .common import errors, function_of

OPERATIONS = OperationTable("lambda", errors)


def _pool(platform) -> ThreadPoolExecutor:
    def build(p) -> ThreadPoolExecutor:
        pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="lambda-invoke")
        p.on_shutdown(lambda: pool.shutdown(wait=False, cancel_futures=True))
        return pool

    return platform.component("function-runs", build)


@OPERATIONS.handler("Invoke")
async def invoke(ctx: RequestContext, params: dict) -> dict:
    kind = params.get("InvocationType") or "RequestResponse"
    payload = params.get("Payload") or b""
    if isinstance(payload, str):
        payload = payload.encode()
    ref = params["FunctionName"]
    row, qualifier = await asyncio.to_thread(function_of, ctx, ref)
    qualifier = params.get("Qualifier") or qualifier
    if payload.strip():
        try:
            json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise FunctionError(
                "InvalidRequestContent",
                "Could not parse request body into json: Could not parse payload into json",
            ) from None
    if kind == "DryRun":
        return {"StatusCode": 204}
    if kind == "Event":
        await asyncio.to_thread(
            runner.invoke_async,
            ctx.platform,
            account=ctx.account_id,
            region=ctx.region,
            function=ref,
            payload=payload,
            qualifier=qualifier,
        )
        return {"StatusCode": 202, "Payload": b""}
    client_context = None
    if params.get("ClientContext"):
        import base64

        try:
            client_context = json.loads(base64.b64decode(params["ClientContext"]))
        except ValueError:
            raise FunctionError(
                "InvalidRequestContent", "Client context must be a valid Base64-encoded JSON object."
            ) from None
    loop = asyncio.get_running_loop()
    outcome = await loop.run_in_executor(
        _pool(ctx.platform),
        lambda: runner.invoke(
            ctx.platform,
            account=ctx.account_id,
            region=ctx.region,
            function=ref,
            payload=payload,
            qualifier=qualifier,
            client_context=client_context,
        ),
    )
    out = {
        "StatusCode": outcome.status_code,
        "Payload": outcome.payload,
        "ExecutedVersion": outcome.executed_version,
    }
    if outcome.function_error:
        out["FunctionError"] = outcome.function_error
    if params.get("LogType") == "Tail":
        out["LogResult"] = outcome.log_tail
    return out
