"""KMS through boto3: keys, aliases, policies, tags, and real authenticated encryption."""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest

from helpers import error_code


@pytest.fixture
def kms(server):
    return server.client("kms")


def _alias() -> str:
    return f"alias/test-{uuid.uuid4().hex[:10]}"


def test_create_describe_list_key(kms):
    meta = kms.create_key(Description="for tests")["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT" and meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["KeyManager"] == "CUSTOMER" and meta["Origin"] == "AWS_KMS"
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:{meta['AWSAccountId']}:key/{meta['KeyId']}"
    uuid.UUID(meta["KeyId"])
    for ref in (meta["KeyId"], meta["Arn"]):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["Description"] == "for tests"
    listed = [
        k
        for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2})
        for k in page["Keys"]
    ]
    assert {"KeyId": meta["KeyId"], "KeyArn": meta["Arn"]} in listed
    kms.update_key_description(KeyId=meta["KeyId"], Description="changed")
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["Description"] == "changed"


def test_unknown_key_and_alias(kms):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        kms.describe_key(KeyId=str(uuid.uuid4()))
    assert error_code(info) == "NotFoundException" and "does not exist" in str(info.value)
    with pytest.raises(kms.exceptions.NotFoundException) as info:
        kms.describe_key(KeyId="alias/nope-nothing")
    assert "alias/nope-nothing" in str(info.value)
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.encrypt(KeyId="alias/nope-nothing", Plaintext=b"x")


def test_unsupported_key_spec(kms):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    assert error_code(info) == "UnsupportedOperationException"


def test_encrypt_decrypt_round_trip_without_key_id(kms):
    key = kms.create_key()["KeyMetadata"]
    out = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret data", EncryptionContext={"purpose": "test"})
    assert out["KeyId"] == key["Arn"] and out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert b"secret data" not in out["CiphertextBlob"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"purpose": "test"})
    assert back["Plaintext"] == b"secret data" and back["KeyId"] == key["Arn"]
    # two encryptions of the same plaintext differ (fresh nonce)
    again = kms.encrypt(KeyId=key["Arn"], Plaintext=b"secret data", EncryptionContext={"purpose": "test"})
    assert again["CiphertextBlob"] != out["CiphertextBlob"]


def test_wrong_context_and_tampered_ciphertext(kms):
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"abc", EncryptionContext={"a": "1"})["CiphertextBlob"]
    for context in ({"a": "2"}, {}, {"a": "1", "b": "2"}):
        with pytest.raises(kms.exceptions.InvalidCiphertextException):
            kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=tampered, EncryptionContext={"a": "1"})
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=b"not a kms ciphertext at all")
    other = kms.create_key()["KeyMetadata"]
    with pytest.raises(kms.exceptions.IncorrectKeyException):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "1"}, KeyId=other["KeyId"])
    assert (
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "1"}, KeyId=key["Arn"])["Plaintext"]
        == b"abc"
    )


def test_disabled_key_refuses_and_enable_restores(kms):
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"data")["CiphertextBlob"]
    kms.disable_key(KeyId=key["KeyId"])
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and meta["Enabled"] is False
    with pytest.raises(kms.exceptions.DisabledException) as info:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"data")
    assert key["Arn"] in str(info.value) and "disabled" in str(info.value)
    with pytest.raises(kms.exceptions.DisabledException):
        kms.decrypt(CiphertextBlob=blob)
    with pytest.raises(kms.exceptions.DisabledException):
        kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"data"


def test_schedule_and_cancel_deletion(kms):
    key = kms.create_key()["KeyMetadata"]
    for days in (6, 31):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=days)
        assert error_code(info) == "ValidationException" and "pendingWindowInDays" in str(info.value)
    out = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion" and out["PendingWindowInDays"] == 7
    assert out["KeyId"] == key["Arn"]
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["DeletionDate"] == out["DeletionDate"]
    assert meta["PendingDeletionWindowInDays"] == 7
    with pytest.raises(kms.exceptions.KMSInvalidStateException) as info:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert "pending deletion" in str(info.value)
    with pytest.raises(kms.exceptions.KMSInvalidStateException):
        kms.enable_key(KeyId=key["KeyId"])
    with pytest.raises(kms.exceptions.KMSInvalidStateException):
        kms.schedule_key_deletion(KeyId=key["KeyId"])
    assert kms.cancel_key_deletion(KeyId=key["KeyId"])["KeyId"] == key["Arn"]
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and "DeletionDate" not in meta
    with pytest.raises(kms.exceptions.KMSInvalidStateException):
        kms.cancel_key_deletion(KeyId=key["KeyId"])


def test_aliases(kms):
    first, second = kms.create_key()["KeyMetadata"], kms.create_key()["KeyMetadata"]
    name = _alias()
    kms.create_alias(AliasName=name, TargetKeyId=first["KeyId"])
    with pytest.raises(kms.exceptions.AlreadyExistsException):
        kms.create_alias(AliasName=name, TargetKeyId=second["KeyId"])
    alias_arn = f"arn:aws:kms:us-east-1:{first['AWSAccountId']}:{name}"
    for ref in (name, alias_arn):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == first["KeyId"]
    blob = kms.encrypt(KeyId=name, Plaintext=b"via alias")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == first["Arn"]
    listed = kms.list_aliases(KeyId=first["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in listed] == [name]
    assert listed[0]["AliasArn"] == alias_arn and listed[0]["TargetKeyId"] == first["KeyId"]
    assert name in [
        a["AliasName"] for p in kms.get_paginator("list_aliases").paginate() for a in p["Aliases"]
    ]
    kms.update_alias(AliasName=name, TargetKeyId=second["Arn"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == second["KeyId"]
    assert kms.list_aliases(KeyId=first["KeyId"])["Aliases"] == []
    # an old blob still decrypts: it names its key, not the alias
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"via alias"
    kms.delete_alias(AliasName=name)
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=name)
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.delete_alias(AliasName=name)


def test_alias_name_rules(kms):
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        kms.create_alias(AliasName="no-prefix", TargetKeyId=key["KeyId"])
    assert error_code(info) == "ValidationException"
    with pytest.raises(kms.exceptions.InvalidAliasNameException):
        kms.create_alias(AliasName="alias/aws/mine", TargetKeyId=key["KeyId"])
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.create_alias(AliasName=_alias(), TargetKeyId=str(uuid.uuid4()))


def test_aws_managed_s3_key_created_on_first_describe(kms):
    meta = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS" and meta["KeyState"] == "Enabled"
    assert kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["KeyId"] == meta["KeyId"]
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/aws/s3"]["TargetKeyId"] == meta["KeyId"]
    policy = json.loads(kms.get_key_policy(KeyId="alias/aws/s3", PolicyName="default")["Policy"])
    assert (
        policy["Statement"][0]["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    )


def test_key_policies(kms):
    key = kms.create_key()["KeyMetadata"]
    text = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
    assert text.startswith('{\n  "Version" : "2012-10-17",\n  "Id" : "key-default-1",')
    policy = json.loads(text)
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{key['AWSAccountId']}:root"}
    assert policy["Statement"][0]["Action"] == "kms:*"
    assert kms.list_key_policies(KeyId=key["KeyId"])["PolicyNames"] == ["default"]
    mine = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}
            ],
        }
    )
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=mine)
    assert kms.get_key_policy(KeyId=key["KeyId"])["Policy"] == mine
    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException):
        kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy="{not json")
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.get_key_policy(KeyId=key["KeyId"], PolicyName="other")
    created = kms.create_key(Policy=mine)["KeyMetadata"]
    assert kms.get_key_policy(KeyId=created["KeyId"])["Policy"] == mine


def test_generate_data_key_and_reencrypt(kms):
    key = kms.create_key()["KeyMetadata"]
    out = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext={"k": "v"})
    assert len(out["Plaintext"]) == 32 and out["KeyId"] == key["Arn"]
    assert (
        kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"k": "v"})["Plaintext"]
        == out["Plaintext"]
    )
    assert len(kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=64)["Plaintext"]) == 64
    assert len(kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_128")["Plaintext"]) == 16
    with pytest.raises(botocore.exceptions.ClientError) as info:
        kms.generate_data_key(KeyId=key["KeyId"])
    assert error_code(info) == "ValidationException"
    bare = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256")
    assert (
        "Plaintext" not in bare and len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 32
    )
    other = kms.create_key()["KeyMetadata"]
    moved = kms.re_encrypt(
        CiphertextBlob=out["CiphertextBlob"],
        SourceEncryptionContext={"k": "v"},
        DestinationKeyId=other["KeyId"],
        DestinationEncryptionContext={"n": "m"},
    )
    assert moved["SourceKeyId"] == key["Arn"] and moved["KeyId"] == other["Arn"]
    back = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"n": "m"})
    assert back["Plaintext"] == out["Plaintext"] and back["KeyId"] == other["Arn"]
    assert len(kms.generate_random(NumberOfBytes=24)["Plaintext"]) == 24


def test_tags_and_rotation(kms):
    key = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "ml"}])["KeyMetadata"]
    kms.tag_resource(
        KeyId=key["KeyId"], Tags=[{"TagKey": "env", "TagValue": "dev"}, {"TagKey": "team", "TagValue": "ds"}]
    )
    tags = kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]
    assert tags == [{"TagKey": "env", "TagValue": "dev"}, {"TagKey": "team", "TagValue": "ds"}]
    kms.untag_resource(KeyId=key["KeyId"], TagKeys=["env"])
    assert kms.list_resource_tags(KeyId=key["Arn"])["Tags"] == [{"TagKey": "team", "TagValue": "ds"}]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 90


def test_dry_run(kms):
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(kms.exceptions.DryRunOperationException):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", DryRun=True)


def test_cli_encrypt_decrypt(server, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, **server.client_env()}
    aws = [sys.executable, "-m", "awscli"]
    key = json.loads(
        subprocess.run(
            aws + ["kms", "create-key", "--output", "json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )["KeyMetadata"]["KeyId"]
    (tmp_path / "plain.txt").write_text("hello from the cli")
    blob = subprocess.run(
        aws
        + [
            "kms",
            "encrypt",
            "--key-id",
            key,
            "--plaintext",
            "fileb://plain.txt",
            "--query",
            "CiphertextBlob",
            "--output",
            "text",
        ],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    import base64

    (tmp_path / "blob.bin").write_bytes(base64.b64decode(blob))
    plain = subprocess.run(
        aws
        + [
            "kms",
            "decrypt",
            "--ciphertext-blob",
            "fileb://blob.bin",
            "--query",
            "Plaintext",
            "--output",
            "text",
        ],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert base64.b64decode(plain) == b"hello from the cli"


def test_keys_and_sealed_objects_survive_a_restart(fresh_server):
    kms, s3 = fresh_server.client("kms"), fresh_server.client("s3")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/durable", TargetKeyId=key)
    blob = kms.encrypt(KeyId="alias/durable", Plaintext=b"kept")["CiphertextBlob"]
    s3.create_bucket(Bucket="durable-kms")
    s3.put_object(
        Bucket="durable-kms",
        Key="k",
        Body=b"sealed bytes",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId="alias/durable",
    )
    fresh_server.restart()
    kms, s3 = fresh_server.client("kms"), fresh_server.client("s3")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
    assert s3.get_object(Bucket="durable-kms", Key="k")["Body"].read() == b"sealed bytes"
    assert kms.describe_key(KeyId="alias/durable")["KeyMetadata"]["KeyId"] == key


def test_bad_marker_is_invalid_marker_exception(kms):
    """A Marker that is not one KMS handed out: InvalidMarkerException, as KMS answers it."""
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for call, params in (
        (kms.list_keys, {}),
        (kms.list_aliases, {}),
        (kms.list_resource_tags, {"KeyId": key_id}),
        (kms.list_key_policies, {"KeyId": key_id}),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            call(Marker="not-a-marker", **params)
        assert error_code(info) == "InvalidMarkerException", call
