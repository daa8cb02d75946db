"""Support for the Model Monitor tests: an endpoint with data capture (a tiny script-mode model that
answers a CSV row with ``1`` when its features sum above zero, else ``0``) and capture records written
straight into S3 in the data-capture layout."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import time
import uuid

from helpers import ROLE, SKLEARN_IMAGE, tar_gz

ANALYZER_IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"

SUM_MODEL = """
def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return body.decode() if isinstance(body, (bytes, bytearray)) else body

def predict_fn(data, model):
    return [1 if _total(line) > 0 else 0 for line in data.splitlines() if line]

def _total(line):
    total = 0.0
    for x in line.split(","):
        try:
            total += float(x)
        except ValueError:
            pass
    return total

def output_fn(prediction, accept):
    return "\\n".join(str(p) for p in prediction).encode(), "text/csv"
"""


class Monitor:
    """One bucket, clients, and endpoints with data capture on."""

    def __init__(self, server):
        self.server = server
        self.sm = server.client("sagemaker")
        self.rt = server.client("sagemaker-runtime")
        self.s3 = server.client("s3")
        self.cw = server.client("cloudwatch")
        self.bucket = f"monitor-{uuid.uuid4().hex[:8]}"
        self.s3.create_bucket(Bucket=self.bucket)

    def put(self, key: str, data: bytes | str) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data.encode() if isinstance(data, str) else data)
        return f"s3://{self.bucket}/{key}"

    def get_json(self, uri: str) -> dict:
        bucket, key = uri[5:].split("/", 1)
        return json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def capture_uri(self) -> str:
        return f"s3://{self.bucket}/capture"

    def endpoint(self, name: str, wait: bool = True) -> str:
        url = self.put(
            f"models/{name}/model.tar.gz", tar_gz({"code/inference.py": textwrap.dedent(SUM_MODEL).encode()})
        )
        self.sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": SKLEARN_IMAGE,
                "ModelDataUrl": url,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                },
            },
        )
        self.sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
            DataCaptureConfig={
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": self.capture_uri(),
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
            },
        )
        self.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        if wait:
            deadline = time.time() + 120
            while self.sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating":
                assert time.time() < deadline, "endpoint did not come up"
                time.sleep(0.3)
        return name

    def write_capture(
        self,
        endpoint: str,
        rows: list[list[float]],
        when: dt.datetime,
        outputs: list[str] | None = None,
        inference_ids: list[str] | None = None,
    ) -> str:
        """One capture file in the layout the endpoint's data capture writes: one record per row."""
        lines = []
        for index, row in enumerate(rows):
            features = ",".join(repr(float(v)) if isinstance(v, int | float) else str(v) for v in row)
            total = sum(v for v in row if isinstance(v, int | float))
            output = outputs[index] if outputs else ("1" if total > 0 else "0")
            meta = {"eventId": str(uuid.uuid4()), "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
            if inference_ids:
                meta["inferenceId"] = inference_ids[index]
            lines.append(
                json.dumps(
                    {
                        "captureData": {
                            "endpointInput": {
                                "observedContentType": "text/csv",
                                "mode": "INPUT",
                                "data": features,
                                "encoding": "CSV",
                            },
                            "endpointOutput": {
                                "observedContentType": "text/csv",
                                "mode": "OUTPUT",
                                "data": output,
                                "encoding": "CSV",
                            },
                        },
                        "eventMetadata": meta,
                        "eventVersion": "0",
                    }
                )
            )
        key = f"capture/{endpoint}/AllTraffic/{when:%Y/%m/%d/%H}/{when:%M-%S}-000-{uuid.uuid4()}.jsonl"
        return self.put(key, "\n".join(lines) + "\n")

    def wait_execution(self, schedule: str, timeout: float = 180.0) -> dict:
        deadline = time.time() + timeout
        while True:
            found = self.sm.list_monitoring_executions(MonitoringScheduleName=schedule)[
                "MonitoringExecutionSummaries"
            ]
            if found and found[0]["MonitoringExecutionStatus"] not in ("Pending", "InProgress", "Stopping"):
                return found[0]
            assert time.time() < deadline, f"execution of {schedule} did not finish: {found}"
            time.sleep(0.5)
