"""The whole server on PostgreSQL (`--database-url`): S3, a real training job, a restart."""

from __future__ import annotations

import json
import os

import pytest

from helpers import ROLE, SKLEARN_IMAGE, drop_all_tables, read_tar_gz, tar_gz, wait_training
from sagestack.local_server import ServerProcess

PG_URL = os.environ.get("SAGESTACK_TEST_DATABASE_URL")

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_server(tmp_path):
    if not PG_URL:
        pytest.skip(
            "no PostgreSQL server: set SAGESTACK_TEST_DATABASE_URL (CI starts one with .ci/postgres.sh)"
        )
    drop_all_tables(PG_URL)
    server = ServerProcess(tmp_path / "data", database_url=PG_URL).start()
    yield server
    server.stop()


def test_server_on_postgres(pg_server):
    s3 = pg_server.client("s3")
    s3.create_bucket(Bucket="pg-bucket")
    for i in range(30):
        s3.put_object(Bucket="pg-bucket", Key=f"data/train/part-{i:02d}.csv", Body=f"{i}\n".encode())
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket="pg-bucket", Prefix="data/", PaginationConfig={"PageSize": 7}
    )
    assert sum(len(p.get("Contents", [])) for p in pages) == 30
    script = (
        "import os, json\njson.dump(sorted(os.listdir(os.environ['SM_CHANNEL_TRAIN'])), "
        "open('/opt/ml/model/files.json', 'w'))\n"
    )
    s3.put_object(Bucket="pg-bucket", Key="code/sourcedir.tar.gz", Body=tar_gz({"train.py": script.encode()}))
    sm = pg_server.client("sagemaker")
    sm.create_training_job(
        TrainingJobName="pg-job",
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://pg-bucket/data/train/"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": "s3://pg-bucket/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps("s3://pg-bucket/code/sourcedir.tar.gz"),
        },
    )
    desc = wait_training(sm, "pg-job", 120)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    pg_server.restart(sig="KILL")
    s3 = pg_server.client("s3")
    model = read_tar_gz(
        s3.get_object(Bucket="pg-bucket", Key="output/pg-job/output/model.tar.gz")["Body"].read()
    )
    assert len(json.loads(model["files.json"])) == 30
    assert (
        pg_server.client("sagemaker").describe_training_job(TrainingJobName="pg-job")["TrainingJobStatus"]
        == "Completed"
    )
