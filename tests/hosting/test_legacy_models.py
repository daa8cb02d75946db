"""Models trained on AWS by older images, hosted through CreateModel / CreateEndpointConfig / CreateEndpoint:
an XGBoost model in the legacy binary format and a pickled 0.90 booster (image 1.0-1), and a K-Means
model in SageMaker's MXNet layout (image kmeans:1). Fixtures: tests/algorithms/data/."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hosting_support import ROLE, tar_bytes

pytest.importorskip("xgboost")

DATA = Path(__file__).parent.parent / "algorithms" / "data"
REGION = "us-east-1"


def image(framework: str, version: str | None = None) -> str:
    """The image URI the SageMaker SDK names (its own lookup when installed)."""
    try:
        from sagemaker import image_uris

        return image_uris.retrieve(framework, REGION, version)
    except ImportError:
        account = {"xgboost": "683313688378", "kmeans": "382416733822"}[framework]
        repo = "sagemaker-xgboost" if framework == "xgboost" else framework
        tag = f"{version}-cpu-py3" if framework == "xgboost" else "1"
        return f"{account}.dkr.ecr.{REGION}.amazonaws.com/{repo}:{tag}"


def create_model(hosting, name: str, image_uri: str, files: dict[str, bytes]) -> str:
    url = hosting.upload(f"legacy/{name}/model.tar.gz", tar_bytes(files))
    hosting.sm.create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": image_uri, "ModelDataUrl": url}
    )
    return name


def csv_rows(rows: list[list[float | None]]) -> str:
    return "\n".join(",".join("" if v is None else repr(v) for v in row) for row in rows)


def test_xgboost_models_of_older_releases_serve_their_predictions(hosting):
    expected = json.loads((DATA / "xgboost_legacy" / "expected-0.90.json").read_text())
    uri = image("xgboost", "1.0-1")
    binary = expected["models"]["binary_logistic"]
    pickled = expected["models"]["early_stopped"]
    create_model(
        hosting,
        "legacy-xgb-binary",
        uri,
        {"xgboost-model": (DATA / "xgboost_legacy" / binary["file"]).read_bytes()},
    )
    create_model(
        hosting,
        "legacy-xgb-pickle",
        uri,
        {"xgboost-model": (DATA / "xgboost_legacy" / pickled["file"]).read_bytes()},
    )
    hosting.config(
        "legacy-xgb-config", [("Binary", "legacy-xgb-binary", 1.0), ("Pickle", "legacy-xgb-pickle", 1.0)]
    )
    try:
        desc = hosting.endpoint("legacy-xgb", "legacy-xgb-config")
        assert desc["EndpointStatus"] == "InService", desc
        body = csv_rows(expected["x_test"])
        for variant, case in (("Binary", binary), ("Pickle", pickled)):
            text, response = hosting.invoke("legacy-xgb", body, TargetVariant=variant, Accept="text/csv")
            assert response["InvokedProductionVariant"] == variant
            got = [float(line) for line in text.strip().splitlines()]
            # the pickle predicts with its best_ntree_limit, as the container does
            np.testing.assert_allclose(got, case["predictions"], rtol=2e-6, atol=2e-7)
    finally:
        hosting.delete("legacy-xgb")


def test_kmeans_model_trained_on_aws(hosting):
    expected = json.loads((DATA / "mxnet_aws" / "expected.json").read_text())
    create_model(
        hosting,
        "legacy-kmeans",
        image("kmeans"),
        {"model_algo-1": (DATA / "mxnet_aws" / "kmeans-model_algo-1").read_bytes()},
    )
    hosting.config("legacy-kmeans-config", [("AllTraffic", "legacy-kmeans", 1.0)])
    try:
        desc = hosting.endpoint("legacy-kmeans", "legacy-kmeans-config")
        assert desc["EndpointStatus"] == "InService", desc
        text, _ = hosting.invoke("legacy-kmeans", csv_rows(expected["x_test"]), Accept="application/json")
        rows = json.loads(text)["predictions"]
        assert [r["closest_cluster"] for r in rows] == [
            float(c) for c in expected["kmeans"]["closest_cluster"]
        ]
        np.testing.assert_allclose(
            [r["distance_to_cluster"] for r in rows], expected["kmeans"]["distance_to_cluster"], rtol=1e-5
        )
    finally:
        hosting.delete("legacy-kmeans")
