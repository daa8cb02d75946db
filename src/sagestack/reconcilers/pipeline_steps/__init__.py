"""Step-type handlers, one module per family; :data:`HANDLERS` is the table the engine dispatches on
(a type missing here fails its step clearly through :data:`.unsupported.UNSUPPORTED`)."""

from __future__ import annotations

from .base import Outcome, StepContext, StepHandler
from .callback import CALLBACK
from .checks import CLARIFY_CHECK, QUALITY_CHECK
from .control import CONDITION, FAIL
from .functions import LAMBDA
from .hosting import ENDPOINT, ENDPOINT_CONFIG
from .jobs import PROCESSING, TRAINING, TRANSFORM, TUNING
from .models import MODEL, REGISTER_MODEL
from .unsupported import UNSUPPORTED

HANDLERS: dict[str, StepHandler] = {
    "Processing": PROCESSING,
    "Training": TRAINING,
    "Transform": TRANSFORM,
    "Tuning": TUNING,
    "Model": MODEL,
    "RegisterModel": REGISTER_MODEL,
    "Condition": CONDITION,
    "Fail": FAIL,
    "Callback": CALLBACK,
    "Lambda": LAMBDA,
    "QualityCheck": QUALITY_CHECK,
    "ClarifyCheck": CLARIFY_CHECK,
    "EndpointConfig": ENDPOINT_CONFIG,
    "Endpoint": ENDPOINT,
}


def handler_for(step_type: str) -> StepHandler:
    return HANDLERS.get(step_type, UNSUPPORTED)


__all__ = ["HANDLERS", "Outcome", "StepContext", "StepHandler", "handler_for"]
