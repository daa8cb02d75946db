"""Endpoints with a ``ClarifyExplainerConfig``: InvokeEndpoint answers Clarify's JSON (the model's
predictions plus Kernel SHAP attributions per record, :mod:`..clarify.online`). The router hands such
requests here (one attribute check on its fast path); the synthetic records SHAP needs go to the same
variant through the router's ``forward`` (not captured), while the SHAP arithmetic runs in a thread so
the event loop keeps serving."""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from ..clarify.errors import ClarifyError
from ..clarify.online import RESPONSE_CONTENT_TYPE, SUPPORTED, ExplainerSettings, base_type, response
from ..protocol.errors import ServiceError
from ..protocol.http import HttpRequest, HttpResponse

log = logging.getLogger("sagestack.serving")

DEFAULT_RECORDS_PER_CALL = 1000
SHAP_TIMEOUT_S = 60.0


def _read_s3(platform):
    def read(uri: str) -> str:
        from ..objects import object_store, parse_s3_uri

        bucket, key = parse_s3_uri(uri)
        handle, _ = object_store(platform).open(bucket, key)
        with handle:
            return handle.read().decode("utf-8", "replace")

    return read


class Explainer:
    """One endpoint deployment's explainer settings (built when its route is published)."""

    __slots__ = ("failure", "records_per_call", "settings")

    def __init__(self, platform, explainer_config: dict):
        self.failure: str | None = None
        self.settings: ExplainerSettings | None = None
        inference = (explainer_config.get("ClarifyExplainerConfig") or {}).get("InferenceConfig") or {}
        self.records_per_call = int(inference.get("MaxRecordCount") or DEFAULT_RECORDS_PER_CALL)
        try:
            self.settings = ExplainerSettings.from_config(explainer_config, _read_s3(platform))
        except Exception as exc:  # reported on each invocation rather than breaking the deployment
            log.warning("explainer config unusable: %s", exc)
            self.failure = f"The endpoint's ClarifyExplainerConfig cannot be used: {exc}"

    async def handle(self, router, route, request: HttpRequest, body: bytes, started: float) -> HttpResponse:
        headers = request.headers
        content_type, accept = headers.get("content-type"), headers.get("accept")
        if self.failure or self.settings is None:
            raise ServiceError("ValidationError", self.failure or "explainer unavailable", 400)
        kind = base_type(content_type)
        if kind not in SUPPORTED or base_type(accept) not in SUPPORTED:
            raise ServiceError(
                "ValidationError",
                f"Endpoints with a ClarifyExplainerConfig need ContentType and Accept of {' or '.join(SUPPORTED)}; "
                f"got ContentType {content_type!r} and Accept {accept!r}.",
                400,
            )
        custom = headers.get("x-amzn-sagemaker-custom-attributes")
        variant, answer, _ = await router.forward(
            route,
            body,
            content_type,
            accept,
            custom,
            headers.get("x-amzn-sagemaker-target-variant"),
            None,
            headers.get("x-amzn-sagemaker-inference-id"),
            started,
        )
        answer_type = (answer.header(b"content-type") or b"").decode("latin-1") or accept
        settings = self.settings
        loop = asyncio.get_running_loop()

        def predict(matrix: np.ndarray) -> np.ndarray:
            rows = np.asarray(matrix).tolist()
            out = []
            for start in range(0, len(rows), self.records_per_call):
                chunk = rows[start : start + self.records_per_call]
                call = router.forward(
                    route,
                    settings.serialize(chunk, kind),
                    content_type,
                    accept,
                    custom,
                    variant.name,
                    None,
                    None,
                    started,
                    capture=False,
                )
                _, reply, _ = asyncio.run_coroutine_threadsafe(call, loop).result(SHAP_TIMEOUT_S)
                records = settings.output_records(reply.body, (reply.header(b"content-type") or b"").decode())
                if len(records) != len(chunk):
                    raise ClarifyError(
                        f"The model returned {len(records)} predictions for {len(chunk)} records"
                    )
                out.append(settings.scores(records))
            return np.concatenate(out)

        def work() -> bytes:
            rows = settings.request_rows(body, kind)
            records = settings.output_records(answer.body, answer_type)
            flags = settings.explained(records, headers.get("x-amzn-sagemaker-enable-explanations"))
            chosen = [row for row, flag in zip(rows, flags, strict=False) if flag]
            explanations = None
            if chosen:
                computed = iter(settings.explain(chosen, predict))
                explanations = [next(computed) if flag else None for flag in flags]
            return response(answer.body, answer_type, explanations, settings.label_headers_for(records))

        try:
            payload = await loop.run_in_executor(None, work)
        except ClarifyError as exc:
            raise ServiceError("ValidationError", str(exc), 400) from None
        except (ValueError, TypeError) as exc:
            raise ServiceError("ValidationError", f"The explanation failed: {exc}", 400) from None
        return HttpResponse(
            200,
            [
                ("content-type", RESPONSE_CONTENT_TYPE),
                ("x-amzn-invoked-production-variant", variant.name),
                ("x-amzn-requestid", request.request_id),
            ],
            payload,
        )
