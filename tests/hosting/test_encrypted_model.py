"""An endpoint serves a model artifact stored SSE-KMS (sealed at rest in the object store)."""

from __future__ import annotations

import uuid


def test_endpoint_from_sse_kms_model(hosting):
    key = hosting.server.client("kms").create_key()["KeyMetadata"]
    hosting.s3.put_bucket_encryption(
        Bucket=hosting.bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key["KeyId"],
                    }
                }
            ]
        },
    )
    name = f"kms-model-{uuid.uuid4().hex[:6]}"
    model = hosting.script_model(name, tag="sealed")
    url = hosting.sm.describe_model(ModelName=model)["PrimaryContainer"]["ModelDataUrl"]
    head = hosting.s3.head_object(Bucket=hosting.bucket, Key=url.split("/", 3)[3])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key["Arn"]
    config = hosting.config(f"{name}-cfg", [("A", model, 1.0)], KmsKeyId=key["Arn"])
    try:
        desc = hosting.endpoint(name, config)
        assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
        body, _ = hosting.invoke(name)
        assert "sealed" in body
    finally:
        hosting.delete(name)
