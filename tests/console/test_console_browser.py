"""The console in a real browser (headless Chromium driven by selenium) against the real server: sign-in,
pages showing a training job, a pipeline execution, a registered model and an endpoint with their
statuses, a running job's metric chart gaining points, the pipeline DAG's step statuses, approving a model
package through the UI, no JavaScript errors. Screenshots of each page go to ``$SAGESTACK_SCREENSHOTS`` or
a directory under the test's tmp path."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from helpers import ROLE, SKLEARN_IMAGE, script_training_job, tar_gz, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hosting"))
from hosting_support import Hosting  # noqa: E402

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from console_support import CHROMEDRIVER, CHROMIUM, NO_BROWSER, js_errors, open_page, shot, view_text  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason=NO_BROWSER)]

TRAIN = r"""
import os, time
for step in range(60):
    print(f"epoch {step} train-loss: {1.0 / (step + 1):.4f}", flush=True)
    time.sleep(0.5)
open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("ok")
"""

PIPELINE = {
    "Version": "2020-12-01",
    "Metadata": {},
    "Parameters": [{"Name": "Threshold", "Type": "Integer", "DefaultValue": 5}],
    "Steps": [
        {
            "Name": "Check",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [
                    {"Type": "GreaterThan", "LeftValue": {"Get": "Parameters.Threshold"}, "RightValue": 1}
                ],
                "IfSteps": [{"Name": "TooBig", "Type": "Fail", "Arguments": {"ErrorMessage": "too big"}}],
                "ElseSteps": [],
            },
        }
    ],
}


@pytest.fixture(scope="module")
def world(server):
    """A training job (running, emitting a metric), a pipeline execution, a registered model package and
    an endpoint, all made with boto3."""
    sm, s3 = server.client("sagemaker"), server.client("s3")
    tag = uuid.uuid4().hex[:6]
    bucket = f"console-{tag}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data/train/part-0.csv", Body=b"1,2\n3,4\n")
    s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=tar_gz({"train.py": TRAIN.encode()}))
    job = f"console-train-{tag}"
    sm.create_training_job(
        **script_training_job(
            job,
            bucket,
            "code/sourcedir.tar.gz",
            hyperparameters={"epochs": "60"},
            metric_definitions=[{"Name": "train:loss", "Regex": "train-loss: ([0-9.]+)"}],
        )
    )
    pipeline = f"console-pipe-{tag}"
    sm.create_pipeline(PipelineName=pipeline, RoleArn=ROLE, PipelineDefinition=json.dumps(PIPELINE))
    execution = sm.start_pipeline_execution(PipelineName=pipeline)["PipelineExecutionArn"]
    group = f"console-models-{tag}"
    sm.create_model_package_group(ModelPackageGroupName=group)
    package = sm.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [{"Image": SKLEARN_IMAGE, "ModelDataUrl": f"s3://{bucket}/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    hosting = Hosting(server)
    model = hosting.script_model(f"console-model-{tag}")
    endpoint = f"console-ep-{tag}"
    hosting.endpoint(endpoint, hosting.config(f"console-cfg-{tag}", [("AllTraffic", model, 1.0)]))
    hosting.invoke(endpoint, "1,2")
    yield {
        "bucket": bucket,
        "job": job,
        "pipeline": pipeline,
        "execution": execution,
        "group": group,
        "package": package,
        "endpoint": endpoint,
        "model": model,
    }
    hosting.delete(endpoint)


def test_sign_in_required_then_pages_show_resources(server, browser, world, shots):
    driver = browser
    sm = server.client("sagemaker")
    driver.get(f"{server.url}/_sagestack/console/")
    driver.delete_all_cookies()  # signed out, whatever ran before
    driver.get(f"{server.url}/_sagestack/console/#/training")
    form = wait_for(
        lambda: driver.find_element(By.ID, "signin").is_displayed() and driver.find_element(By.ID, "signin")
    )
    assert view_text(driver) == ""  # nothing readable before signing in
    shot(driver, shots, "00-sign-in")
    key, secret = server.credentials()
    form.find_element(By.NAME, "accessKeyId").send_keys(key)
    form.find_element(By.NAME, "secretAccessKey").send_keys("wrong")
    form.find_element(By.TAG_NAME, "button").click()
    wait_for(lambda: driver.find_element(By.ID, "signin-error").text, 10, 0.1, "sign-in error")
    secret_box = form.find_element(By.NAME, "secretAccessKey")
    secret_box.clear()
    secret_box.send_keys(secret + Keys.ENTER)
    wait_for(
        lambda: driver.execute_script("return document.getElementById('view').dataset.ready === '1'"), 20
    )
    assert not driver.find_element(By.ID, "signin").is_displayed()
    # the session cookie is HttpOnly: the page's script cannot read it
    assert "sagestack_console" not in driver.execute_script("return document.cookie")

    open_page(driver, server, "/")
    assert world["job"] in view_text(driver)  # running now
    assert "InProgress" in view_text(driver)
    # the pipeline execution failed (at its Fail step): a recent failure
    wait_for(
        lambda: (
            sm.describe_pipeline_execution(PipelineExecutionArn=world["execution"])["PipelineExecutionStatus"]
            == "Failed"
        ),
        30,
        0.3,
    )
    open_page(driver, server, "/")
    assert f"{world['pipeline']} · " in view_text(driver)
    shot(driver, shots, "01-overview")
    open_page(driver, server, "/training")
    assert world["job"] in view_text(driver)
    shot(driver, shots, "02-training-jobs")
    # filter by name: only the job
    box = driver.find_element(By.CSS_SELECTOR, "input[data-filter=name]")
    box.send_keys(world["job"])
    wait_for(
        lambda: len(driver.find_elements(By.CSS_SELECTOR, "#view table.data tbody tr")) == 1,
        10,
        0.2,
        "filtered list",
    )

    open_page(driver, server, f"/s3/{world['bucket']}/")
    assert "data/" in view_text(driver)
    shot(driver, shots, "03-s3-bucket")
    open_page(driver, server, f"/s3/{world['bucket']}/data/train/part-0.csv")
    wait_for(lambda: "1,2" in driver.find_element(By.CSS_SELECTOR, "pre.preview").text, 10, 0.2, "preview")
    shot(driver, shots, "04-s3-object")

    open_page(driver, server, f"/endpoints/{world['endpoint']}")
    assert "InService" in view_text(driver) and "AllTraffic" in view_text(driver)
    shot(driver, shots, "05-endpoint")
    open_page(driver, server, "/endpoints")
    assert world["endpoint"] in view_text(driver)

    for route, name in (
        ("/processing", "06-processing"),
        ("/transform", "07-transform"),
        ("/tuning", "08-tuning"),
        ("/experiments", "09-experiments"),
        ("/monitoring", "10-monitoring"),
        ("/logs", "11-logs"),
        ("/s3", "12-s3"),
        ("/pipelines", "13-pipelines"),
        ("/registry", "14-registry"),
    ):
        open_page(driver, server, route)
        assert not driver.find_elements(By.CSS_SELECTOR, "#view .error"), view_text(driver)
        shot(driver, shots, name)
        if route == "/pipelines":
            assert world["pipeline"] in view_text(driver)
        if route == "/registry":
            assert world["group"] in view_text(driver)
    assert not js_errors(driver)


def test_running_job_metric_chart_gains_points(server, browser, world, shots):
    driver = browser
    sm = server.client("sagemaker")
    assert sm.describe_training_job(TrainingJobName=world["job"])["TrainingJobStatus"] == "InProgress"
    open_page(driver, server, f"/training/{quote(world['job'])}")
    assert world["job"] in view_text(driver) and "Hyperparameters" in view_text(driver)

    def points() -> int:
        return int(
            driver.execute_script(
                "const c = document.querySelector('[data-chart=\"train:loss\"]'); return c ? c.dataset.points : 0"
            )
            or 0
        )

    first = wait_for(points, 60, 0.5, "the first metric points")
    wait_for(lambda: points() > first, 30, 0.5, "more metric points")
    assert driver.find_elements(By.CSS_SELECTOR, "[data-chart='train:loss'] canvas")  # drawn by uPlot
    wait_for(
        lambda: "train-loss" in driver.find_element(By.CSS_SELECTOR, "pre.log").text, 30, 0.5, "the log tail"
    )
    shot(driver, shots, "15-training-job-running")
    assert not js_errors(driver)


def test_pipeline_dag_shows_step_statuses(server, browser, world, shots):
    driver = browser
    sm = server.client("sagemaker")
    wait_for(
        lambda: (
            sm.describe_pipeline_execution(PipelineExecutionArn=world["execution"])["PipelineExecutionStatus"]
            in ("Failed", "Succeeded")
        ),
        60,
        0.5,
    )
    open_page(driver, server, f"/pipelines/{world['pipeline']}")
    assert "Failed" in view_text(driver)
    shot(driver, shots, "17-pipeline")
    open_page(driver, server, f"/executions/{quote(world['execution'], safe='')}")
    nodes = {
        n.get_attribute("data-step"): n.get_attribute("data-status")
        for n in driver.find_elements(By.CSS_SELECTOR, "svg.dag g.node")
    }
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=world["execution"])[
        "PipelineExecutionSteps"
    ]
    assert nodes == {"Check": "Succeeded", "TooBig": "Failed"} | {
        s["StepName"]: s["StepStatus"] for s in steps
    }
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg.dag path[d^='M']")) >= 1  # the edge Check → TooBig
    shot(driver, shots, "18-pipeline-execution")
    # Retry from the page: an execution that ended at a Fail step cannot be retried, and the page says so
    # in the operation's own words
    driver.find_element(By.XPATH, "//button[text()='Retry']").click()
    shown = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#view .error"), 10, 0.2, "the error")[
        0
    ].text
    with pytest.raises(sm.exceptions.ClientError) as refused:
        sm.retry_pipeline_execution(
            PipelineExecutionArn=world["execution"], ClientRequestToken=str(uuid.uuid4())
        )
    error = refused.value.response["Error"]
    assert shown == f"{error['Code']}: {error['Message']}"
    assert not js_errors(driver, expected=("/RetryPipelineExecution - ",))


def test_approving_a_package_in_the_ui_changes_it_in_the_api(server, browser, world, shots):
    driver = browser
    sm = server.client("sagemaker")
    open_page(driver, server, f"/registry/{world['group']}")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-approve='1']"), 10, 0.2, "the version row")
    assert "PendingManualApproval" in view_text(driver)
    driver.find_element(By.CSS_SELECTOR, "[data-comment='1']").send_keys("looks good")
    driver.find_element(By.CSS_SELECTOR, "[data-approve='1']").click()

    def approved():
        desc = sm.describe_model_package(ModelPackageName=world["package"])
        return desc if desc["ModelApprovalStatus"] == "Approved" else None

    desc = wait_for(approved, 10, 0.2, "the approval")
    assert desc["ApprovalDescription"] == "looks good"
    wait_for(lambda: "Approved" in view_text(driver), 10, 0.2, "the page to show the approval")
    shot(driver, shots, "19-registry-approved")
    driver.find_element(By.LINK_TEXT, "1").click()  # the version's own page
    wait_for(lambda: "looks good" in view_text(driver), 10, 0.2, "the version page")
    assert "Approved" in view_text(driver) and world["package"] in view_text(driver)
    shot(driver, shots, "19b-model-package")
    assert not js_errors(driver)


def test_keyboard_navigation(server, browser, world):
    driver = browser
    open_page(driver, server, "/")
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys("g", "e")
    wait_for(
        lambda: driver.execute_script("return location.hash") == "#/endpoints", 5, 0.1, "g e → endpoints"
    )
    wait_for(lambda: world["endpoint"] in view_text(driver), 10, 0.2, "the endpoints list")
    body.send_keys("g", "t")
    wait_for(lambda: driver.execute_script("return location.hash") == "#/training", 5, 0.1, "g t → training")
    wait_for(
        lambda: driver.execute_script("return document.getElementById('view').dataset.ready === '1'"), 10
    )
    # j moves to the first row's link, Enter opens it
    driver.switch_to.active_element.send_keys("j")
    focused = driver.switch_to.active_element
    assert focused.tag_name == "a" and focused.get_attribute("href").split("#")[1].startswith("/training/")
    target = focused.get_attribute("href").split("#")[1]
    focused.send_keys(Keys.ENTER)
    wait_for(lambda: driver.execute_script("return location.hash") == "#" + target, 5, 0.1, "Enter → the job")
    time.sleep(0.5)
    assert not js_errors(driver)


def test_endpoint_charts_show_invocations(server, browser, world, shots):
    driver = browser
    runtime = server.client("sagemaker-runtime")
    for _ in range(3):
        runtime.invoke_endpoint(EndpointName=world["endpoint"], Body="1,2", ContentType="text/csv")
    open_page(driver, server, f"/endpoints/{world['endpoint']}")

    def points() -> int:
        script = "const c = document.querySelector('[data-chart^=\"Invocations\"]'); return c ? c.dataset.points : 0"
        return int(driver.execute_script(script) or 0)

    wait_for(points, 40, 0.5, "the invocations chart's points (metrics are flushed every few seconds)")
    assert driver.find_elements(By.CSS_SELECTOR, "[data-chart^='Invocations'] canvas")
    shot(driver, shots, "25-endpoint-invocations")
    assert not js_errors(driver)


def test_endpoint_and_model_version_pages_show_their_lineage(server, browser, world, shots):
    """SageMaker's automatic lineage, walked up (QueryLineage): the endpoint's deployment, its model data
    and image; the model version's model data and image."""
    driver = browser
    model_data = server.client("sagemaker").describe_model(ModelName=world["model"])["PrimaryContainer"]
    open_page(driver, server, f"/endpoints/{world['endpoint']}")
    lineage = driver.find_element(By.CSS_SELECTOR, "[data-lineage]")
    text = lineage.text
    assert "ModelDeployment" in text and "Image" in text and model_data["ModelDataUrl"] in text
    assert lineage.find_elements(By.CSS_SELECTOR, "a[href^='#/s3/']")  # the model data, one click away
    driver.execute_script("arguments[0].scrollIntoView()", lineage)
    shot(driver, shots, "25b-endpoint-lineage")
    open_page(driver, server, f"/registry/{world['group']}/1")
    text = driver.find_element(By.CSS_SELECTOR, "[data-lineage]").text
    assert f"s3://{world['bucket']}/model.tar.gz" in text and SKLEARN_IMAGE in text
    assert not js_errors(driver)


def test_start_a_pipeline_execution_from_the_page(server, browser, world, shots):
    driver = browser
    sm = server.client("sagemaker")
    open_page(driver, server, f"/pipelines/{world['pipeline']}")
    threshold = driver.find_element(By.CSS_SELECTOR, "input[name=Threshold]")
    threshold.clear()
    threshold.send_keys("0")  # not above 1: the condition's else branch (empty) and the execution succeeds
    driver.find_element(By.XPATH, "//button[text()='Start execution']").click()
    wait_for(lambda: driver.execute_script("return location.hash").startswith("#/executions/"), 10, 0.2)
    arn = unquote(driver.execute_script("return location.hash")[len("#/executions/") :])
    wait_for(
        lambda: (
            sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Succeeded"
        ),
        60,
        0.5,
    )
    params = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    assert {"Name": "Threshold", "Value": "0"} in params
    wait_for(
        lambda: driver.find_elements(
            By.CSS_SELECTOR, "svg.dag g.node[data-step='Check'][data-status='Succeeded']"
        ),
        20,
        0.5,
        "the DAG to show the finished step",
    )
    assert "Succeeded" in view_text(driver)
    shot(driver, shots, "26-pipeline-started-from-ui")
    assert not js_errors(driver)


def test_transform_job_page(server, browser, world, shots):
    driver = browser
    sm, s3 = server.client("sagemaker"), server.client("s3")
    bucket = world["bucket"]
    s3.put_object(Bucket=bucket, Key="batch/in/rows.csv", Body=b"1,2\n3,4\n")
    name = f"{world['job']}-batch"
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=world["model"],
        BatchStrategy="SingleRecord",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/batch/in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/batch/out/", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    wait_for(
        lambda: sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] != "InProgress",
        120,
        0.5,
    )
    assert sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] == "Completed"
    open_page(driver, server, f"/transform/{name}")
    text = view_text(driver)
    assert "Completed" in text and world["model"] in text and f"s3://{bucket}/batch/out/" in text
    shot(driver, shots, "29-transform-job")
    open_page(driver, server, "/transform")
    assert name in view_text(driver)
    assert not js_errors(driver)


def test_the_job_page_follows_the_job_to_completion(server, browser, world, shots):
    """Last in the module: by now the job of the metric test has (nearly) finished."""
    driver = browser
    sm = server.client("sagemaker")
    open_page(driver, server, f"/training/{quote(world['job'])}")
    wait_for(
        lambda: sm.describe_training_job(TrainingJobName=world["job"])["TrainingJobStatus"] != "InProgress",
        120,
        1,
    )
    wait_for(lambda: "Completed" in view_text(driver), 20, 0.5, "the page to see the job complete")
    timeline = driver.find_element(By.CSS_SELECTOR, "ol.timeline").text
    assert "Training" in timeline and "Completed" in timeline
    final = sm.describe_training_job(TrainingJobName=world["job"])["FinalMetricDataList"]
    assert final and final[0]["MetricName"] in view_text(driver)
    shot(driver, shots, "16-training-job-completed")
    assert not js_errors(driver)
