"""The SageMaker SDK's Lambda helper (sagemaker.lambda_helper.Lambda, what LambdaStep users call to make
their function): create from a script or a zipped code dir in S3, upsert, invoke, delete."""

from __future__ import annotations

import json
import uuid
import zipfile

import pytest

from helpers import ROLE

pytest.importorskip("sagemaker")

SCRIPT = "def handler(event, context):\n    return {'ok': True, 'version': 'one'}\n"


@pytest.fixture
def session(sdk_env):
    import boto3
    import sagemaker

    return sagemaker.Session(boto_session=boto3.Session())


def _wait(session, name: str, waiter: str) -> None:
    client = session.boto_session.client("lambda")
    client.get_waiter(waiter).wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


@pytest.mark.sdk_flow("lambda-schedules", "Lambda(script=...).create, invoke, upsert, delete")
def test_create_invoke_upsert_delete_from_a_script(session, tmp_path):
    from sagemaker.lambda_helper import Lambda

    name = f"sdk-fn-{uuid.uuid4().hex[:8]}"
    script = tmp_path / "handler.py"
    script.write_text(SCRIPT)
    function = Lambda(
        function_name=name,
        execution_role_arn=ROLE,
        script=str(script),
        handler="handler.handler",
        session=session,
        runtime="python3.12",
        timeout=30,
    )
    created = function.create()
    assert created["FunctionName"] == name and created["Timeout"] == 30
    _wait(session, name, "function_active_v2")
    answer = function.invoke()
    assert answer["StatusCode"] == 200 and json.loads(answer["Payload"].read()) == {
        "ok": True,
        "version": "one",
    }
    script.write_text(SCRIPT.replace("one", "two"))
    function.upsert()  # exists: updates the code
    _wait(session, name, "function_updated_v2")
    assert json.loads(function.invoke()["Payload"].read())["version"] == "two"
    function.delete()
    with pytest.raises(ValueError):
        function.invoke()


@pytest.mark.sdk_flow("lambda-schedules", "Lambda(zipped_code_dir=...) through S3")
def test_create_from_a_zipped_code_dir_uploaded_to_s3(session, tmp_path):
    from sagemaker.lambda_helper import Lambda

    package = tmp_path / "code.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("main.py", SCRIPT.replace("one", "zipped"))
    name = f"sdk-fn-{uuid.uuid4().hex[:8]}"
    function = Lambda(
        function_name=name,
        execution_role_arn=ROLE,
        zipped_code_dir=str(package),
        handler="main.handler",
        session=session,
        runtime="python3.11",
    )
    function.create()
    _wait(session, name, "function_active_v2")
    assert json.loads(function.invoke()["Payload"].read())["version"] == "zipped"
    function.delete()


def test_the_sdk_default_runtime_is_refused_as_lambda_does(session, tmp_path):
    from sagemaker.lambda_helper import Lambda

    script = tmp_path / "handler.py"
    script.write_text(SCRIPT)
    function = Lambda(
        function_name=f"sdk-fn-{uuid.uuid4().hex[:8]}",
        execution_role_arn=ROLE,
        script=str(script),
        handler="handler.handler",
        session=session,
    )  # python3.8
    with pytest.raises(ValueError, match="python3.8 is no longer supported"):
        function.create()
