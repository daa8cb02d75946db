"""Shadow variants: a sampled copy of live traffic sent to a shadow fleet, off the caller's path.

The router answers the caller from the production variant first; only then does it hand the request to
:func:`mirror`, which samples it per shadow variant and schedules the copy as a task on the event loop.
The copy goes through the router's ordinary forwarding (so the shadow's Invocations, errors and latencies
are recorded under ``VariantName=<shadow>`` and its data capture applies), and whatever happens to it —
an error from a broken shadow model, a timeout, a crashed worker — is swallowed: callers only ever see
production answers. A shadow already holding ``MAX_INFLIGHT`` copies per instance drops new ones rather
than queueing without bound.

Sampling: a shadow variant of an endpoint config gets ``InitialVariantWeight(shadow) / Σ weight(production)``
of the requests (capped at all of them); a shadow of an inference experiment its ``SamplingPercentage``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("sagestack.serving")
MAX_INFLIGHT = 128  # copies in flight per shadow instance before new ones are dropped


@dataclass(frozen=True)
class ShadowTarget:
    """One shadow variant of an endpoint: a one-variant route and the share of requests it gets."""

    route: Any  # EndpointRoute holding only the shadow variant
    fraction: float

    @property
    def variant(self) -> Any:
        return self.route.variants[0]


def sampling_fraction(shadow: dict, production: list[dict]) -> float:
    if shadow.get("SamplingPercentage") is not None:
        return max(0.0, min(1.0, float(shadow["SamplingPercentage"]) / 100.0))
    total = sum(max(0.0, float(v.get("Weight", 1.0))) for v in production) or 1.0
    return max(0.0, min(1.0, float(shadow.get("Weight", 1.0)) / total))


def mirror(
    router: Any,
    shadows: list[ShadowTarget],
    body: bytes,
    content_type: str | None,
    accept: str | None,
    custom_attributes: str | None,
    inference_id: str | None,
) -> None:
    """Schedule sampled copies of one request (called after the caller's answer is ready)."""
    loop = None
    for shadow in shadows:
        if shadow.fraction < 1.0 and random.random() >= shadow.fraction:
            continue
        instances = shadow.variant.instances
        if not instances or sum(i.inflight for i in instances) >= MAX_INFLIGHT * len(instances):
            continue
        if loop is None:
            loop = asyncio.get_running_loop()
        loop.create_task(_send(router, shadow, body, content_type, accept, custom_attributes, inference_id))


async def _send(
    router: Any,
    shadow: ShadowTarget,
    body: bytes,
    content_type: str | None,
    accept: str | None,
    custom_attributes: str | None,
    inference_id: str | None,
) -> None:
    try:
        await router.forward(
            shadow.route,
            body,
            content_type,
            accept,
            custom_attributes,
            None,
            None,
            inference_id,
            time.perf_counter(),
        )
    except Exception as exc:  # noqa: BLE001 - a failing shadow never reaches the caller
        log.debug("shadow variant %s of %s failed: %s", shadow.variant.name, shadow.route.name, exc)
