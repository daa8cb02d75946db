"""Helpers for the end-to-end tests: an SDK session with boto3 polling, and Record readers."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"
INSTANCE_TYPE = "ml.m5.large"

logger = logging.getLogger(__name__)


class E2E:
    """A SageMaker SDK session plus boto3 polling helpers; remembers endpoints to delete."""

    def __init__(self, server):
        import sagemaker

        self.server = server
        self.sm = server.client("sagemaker")
        self.session = sagemaker.Session()
        self.bucket = self.session.default_bucket()
        self.region = self.session.boto_region_name
        self.endpoints: list[Any] = []  # predictors

    def wait_jobs(self, names: Iterable[str], timeout: float = 180.0) -> dict[str, dict]:
        """DescribeTrainingJob for each name once it has ended (Completed, Failed or Stopped)."""
        pending, done = set(names), {}
        deadline = time.time() + timeout
        while pending:
            for name in sorted(pending):
                desc = self.sm.describe_training_job(TrainingJobName=name)
                if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
                    done[name] = desc
                    pending.discard(name)
            if pending:
                if time.time() > deadline:
                    raise AssertionError(f"training jobs still running after {timeout}s: {sorted(pending)}")
                time.sleep(0.25)
        return done

    def wait_estimators(self, estimators: Iterable[Any], timeout: float = 180.0) -> None:
        """Wait for each estimator's latest job (started with ``fit(wait=False)``); all must complete."""
        estimators = list(estimators)
        names = [e.latest_training_job.name for e in estimators]
        for name, desc in self.wait_jobs(names, timeout).items():
            assert desc["TrainingJobStatus"] == "Completed", (name, desc.get("FailureReason"))

    def deploy(self, estimator, **kwargs) -> Any:
        """``estimator.deploy(wait=False)``; the predictor is remembered for deletion."""
        predictor = estimator.deploy(
            initial_instance_count=1, instance_type=INSTANCE_TYPE, wait=False, **kwargs
        )
        self.endpoints.append(predictor)
        return predictor

    def wait_endpoints(self, predictors: Iterable[Any], timeout: float = 180.0) -> None:
        pending = {p.endpoint_name for p in predictors}
        deadline = time.time() + timeout
        while pending:
            for name in sorted(pending):
                desc = self.sm.describe_endpoint(EndpointName=name)
                status = desc["EndpointStatus"]
                if status not in ("Creating", "Updating"):
                    assert status == "InService", (name, status, desc.get("FailureReason"))
                    pending.discard(name)
            if pending:
                if time.time() > deadline:
                    raise AssertionError(f"endpoints not InService after {timeout}s: {sorted(pending)}")
                time.sleep(0.25)

    def cleanup(self) -> None:
        for predictor in self.endpoints:
            try:
                predictor.delete_endpoint()
            except Exception as exc:  # noqa: BLE001 - best effort; the endpoint may never have been created
                logger.warning("could not delete endpoint %s: %s", predictor.endpoint_name, exc)
        self.endpoints.clear()


def record_values(records: list, key: str) -> list[list[float]]:
    """``label[key].float32_tensor.values`` of each Record the SDK's RecordDeserializer returned."""
    return [list(r.label[key].float32_tensor.values) for r in records]
