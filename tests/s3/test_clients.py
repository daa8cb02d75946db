"""Real clients against the server: the AWS CLI (`aws s3 cp/sync/ls/rm`) and the SageMaker SDK v2
(default bucket, upload/download helpers, S3Uploader/S3Downloader) with only `sagestack env`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

AWS = Path(sys.executable).parent / "aws"  # the AWS CLI of the venv running the tests


def _aws(server, tmp_path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(server.client_env())
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-creds"),
        AWS_PAGER="",
    )
    command = [str(AWS)] if AWS.exists() else [sys.executable, "-m", "awscli"]
    result = subprocess.run(command + list(args), env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.sdk_flow("aws-cli", "aws s3 cp/sync/ls/rm")
def test_aws_cli_cp_sync_ls_rm(server, s3, bucket, tmp_path):
    local = tmp_path / "tree"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_bytes(b"alpha")
    (local / "sub" / "b.csv").write_bytes(b"1,2,3\n" * 100)
    big = os.urandom(9 * 1024 * 1024)  # over the CLI's 8 MiB multipart threshold
    (local / "big.bin").write_bytes(big)
    _aws(server, tmp_path, "s3", "cp", str(local / "a.txt"), f"s3://{bucket}/single/a.txt")
    assert s3.get_object(Bucket=bucket, Key="single/a.txt")["Body"].read() == b"alpha"
    _aws(server, tmp_path, "s3", "sync", str(local), f"s3://{bucket}/synced")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="synced/")["Contents"])
    assert keys == ["synced/a.txt", "synced/big.bin", "synced/sub/b.csv"]
    assert s3.head_object(Bucket=bucket, Key="synced/big.bin")["ETag"].endswith('-2"')
    listing = _aws(server, tmp_path, "s3", "ls", f"s3://{bucket}/synced/")
    assert "PRE sub/" in listing and "a.txt" in listing and str(len(big)) in listing
    back = tmp_path / "back"
    _aws(server, tmp_path, "s3", "sync", f"s3://{bucket}/synced", str(back))
    assert (back / "big.bin").read_bytes() == big and (
        back / "sub" / "b.csv"
    ).read_bytes() == b"1,2,3\n" * 100
    _aws(server, tmp_path, "s3", "rm", f"s3://{bucket}/", "--recursive")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


@pytest.mark.sdk_flow("flow00", "default_bucket, upload_data, S3Uploader, S3Downloader")
def test_sagemaker_sdk_s3_helpers(server, sdk_env, tmp_path):
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    sagemaker = pytest.importorskip("sagemaker")
    from sagemaker.s3 import S3Downloader, S3Uploader

    session = sagemaker.Session()
    bucket = session.default_bucket()
    assert bucket == "sagemaker-us-east-1-000000000000"
    assert session.default_bucket() == bucket  # HeadBucket with ExpectedBucketOwner, no re-create
    source = tmp_path / "data"
    source.mkdir()
    (source / "train.csv").write_bytes(b"1,2\n3,4\n")
    (source / "big.bin").write_bytes(os.urandom(9 * 1024 * 1024))  # multipart via upload_data
    uri = session.upload_data(str(source), key_prefix="sdk-test/input")
    assert uri == f"s3://{bucket}/sdk-test/input"
    out = tmp_path / "out"
    session.download_data(str(out), bucket, key_prefix="sdk-test/input")
    assert (out / "train.csv").read_bytes() == b"1,2\n3,4\n"
    assert (out / "big.bin").read_bytes() == (source / "big.bin").read_bytes()
    S3Uploader.upload_string_as_file_body(
        "hello sdk", f"s3://{bucket}/sdk-test/strings/hello.txt", sagemaker_session=session
    )
    assert (
        S3Downloader.read_file(f"s3://{bucket}/sdk-test/strings/hello.txt", sagemaker_session=session)
        == "hello sdk"
    )
    S3Uploader.upload(str(source / "train.csv"), f"s3://{bucket}/sdk-test/up", sagemaker_session=session)
    listed = S3Downloader.list(f"s3://{bucket}/sdk-test/", sagemaker_session=session)
    assert sorted(listed) == sorted(
        f"s3://{bucket}/sdk-test/{k}"
        for k in ("input/big.bin", "input/train.csv", "strings/hello.txt", "up/train.csv")
    )
    target = tmp_path / "down"
    S3Downloader.download(f"s3://{bucket}/sdk-test/up", str(target), sagemaker_session=session)
    assert (target / "train.csv").read_bytes() == b"1,2\n3,4\n"
