"""KMS keys where SageMaker takes them: validated against existing keys and recorded; jobs read
SSE-KMS inputs (sealed at rest) transparently; a VpcConfig built from the default VPC is recorded."""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest

from helpers import ROLE, SKLEARN_IMAGE, read_tar_gz, tar_gz, wait_training

SCRIPT = """
import os
data = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "data.csv")).read()
open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.txt"), "w").write(data)
"""


@pytest.fixture
def bucket(server) -> str:
    name = f"smkms-{uuid.uuid4().hex[:10]}"
    server.client("s3").create_bucket(Bucket=name)
    return name


def _training(name: str, bucket: str, **output) -> dict:
    return dict(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train"}},
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output", **output},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/code/sourcedir.tar.gz"),
        },
    )


def test_training_job_with_unknown_key_is_refused(server, bucket):
    sm = server.client("sagemaker")
    name = f"kms-bad-{uuid.uuid4().hex[:8]}"
    for output, resource in (
        ({"KmsKeyId": str(uuid.uuid4())}, {}),
        ({"KmsKeyId": "alias/does-not-exist"}, {}),
        ({}, {"VolumeKmsKeyId": "arn:aws:kms:us-east-1:000000000000:key/" + str(uuid.uuid4())}),
    ):
        params = _training(name, bucket, **output)
        params["ResourceConfig"].update(resource)
        with pytest.raises(botocore.exceptions.ClientError) as info:
            sm.create_training_job(**params)
        assert info.value.response["Error"]["Code"] == "ValidationException"
        assert "KmsKeyId" in info.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError):
        sm.describe_training_job(TrainingJobName=name)


def test_endpoint_config_and_transform_with_unknown_key(server, bucket):
    sm = server.client("sagemaker")
    model = f"kms-model-{uuid.uuid4().hex[:8]}"
    sm.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": SKLEARN_IMAGE})
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sm.create_endpoint_config(
            EndpointConfigName=f"kms-cfg-{uuid.uuid4().hex[:8]}",
            KmsKeyId="alias/nope",
            ProductionVariants=[
                {
                    "VariantName": "A",
                    "ModelName": model,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sm.create_transform_job(
            TransformJobName=f"kms-tx-{uuid.uuid4().hex[:8]}",
            ModelName=model,
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/in"}}
            },
            TransformOutput={"S3OutputPath": f"s3://{bucket}/out", "KmsKeyId": str(uuid.uuid4())},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_disabled_key_is_refused(server, bucket):
    kms, sm = server.client("kms"), server.client("sagemaker")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sm.create_training_job(**_training(f"kms-dis-{uuid.uuid4().hex[:8]}", bucket, KmsKeyId=key))
    assert "disabled" in info.value.response["Error"]["Message"]


def test_training_reads_sse_kms_inputs_and_records_the_key(server, bucket):
    s3, kms, sm = server.client("s3"), server.client("kms"), server.client("sagemaker")
    key = kms.create_key()["KeyMetadata"]
    alias = f"alias/sm-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key["Arn"],
                    }
                }
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="train/data.csv", Body=b"1,2,3\n")
    s3.put_object(
        Bucket=bucket,
        Key="code/sourcedir.tar.gz",
        Body=tar_gz({"train.py": SCRIPT.encode()}),
        ServerSideEncryption="aws:kms",
    )  # the managed aws/s3 key, as the SDK uploads code
    assert s3.head_object(Bucket=bucket, Key="train/data.csv")["SSEKMSKeyId"] == key["Arn"]
    name = f"kms-job-{uuid.uuid4().hex[:8]}"
    params = _training(name, bucket, KmsKeyId=alias)
    params["ResourceConfig"]["VolumeKmsKeyId"] = key["KeyId"]
    ec2 = server.client("ec2")  # a VpcConfig from the default VPC: recorded, the job runs locally
    subnets = [
        s["SubnetId"]
        for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    ][:2]
    groups = [ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]]
    params["VpcConfig"] = {"Subnets": subnets, "SecurityGroupIds": groups}
    sm.create_training_job(**params)
    desc = wait_training(sm, name)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["OutputDataConfig"]["KmsKeyId"] == alias
    assert desc["ResourceConfig"]["VolumeKmsKeyId"] == key["KeyId"]
    assert desc["VpcConfig"] == {"Subnets": subnets, "SecurityGroupIds": groups}
    model = s3.get_object(Bucket=bucket, Key=f"output/{name}/output/model.tar.gz")
    assert read_tar_gz(model["Body"].read())["seen.txt"] == b"1,2,3\n"
