"""SDK v3's ModelBuilder, unchanged: an InferenceSpec built, deployed and invoked (the endpoint's worker
loads the SDK's inference.py with SDK v3: SAGESTACK_SDK_V3_PYTHON)."""

from __future__ import annotations

import pytest

from v3_support import ROLE

pytestmark = [pytest.mark.slow, pytest.mark.sdk_flow("flow12", "SDK v3 ModelBuilder (own venv)")]


def test_inference_spec_is_built_deployed_and_invoked(run_v3):
    out, log = run_v3("model_builder_spec.py")
    assert out["answer"] == [[6.0, 8.0], [1.0, 2.0]]
    assert out["role"] == ROLE and out["program"] == "inference.py"
    assert out["image"].split("/", 1)[1].startswith("pytorch-inference:")
