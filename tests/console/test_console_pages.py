"""More console pages in the browser, each with a real resource behind it: a tuning job's children and
best job, a processing job's inputs and log, an experiment's runs table, CloudWatch Logs search, and an
S3 upload through the page's form. Browser fixtures: conftest.py."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest

from console_support import js_errors, open_page, shot, sign_in, view_text
from helpers import (
    ROLE,
    SKLEARN_IMAGE,
    processing_input,
    processing_output,
    script_training_job,
    tar_gz,
    wait_for,
)
from test_console_browser import pytestmark  # noqa: F401 - slow; skipped without Chromium

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
from selenium.webdriver.common.by import By  # noqa: E402

TUNED = r"""
import json, os
hps = json.loads(os.environ["SM_HPS"])
print(f"objective: {float(hps['x']) ** 2:.4f}", flush=True)
open(os.path.join(os.environ["SM_MODEL_DIR"], "m.txt"), "w").write("ok")
"""

PROCESS = r"""
import os
print("processing the input", flush=True)
os.makedirs("/opt/ml/processing/output/out", exist_ok=True)
open("/opt/ml/processing/output/out/result.txt", "w").write("done")
"""


@pytest.fixture(scope="module")
def resources(server, browser):
    sign_in(browser, server)
    sm, s3 = server.client("sagemaker"), server.client("s3")
    tag = uuid.uuid4().hex[:6]
    bucket = f"console-pages-{tag}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data/train/part-0.csv", Body=b"1,2\n")
    s3.put_object(Bucket=bucket, Key="code/tuned.tar.gz", Body=tar_gz({"train.py": TUNED.encode()}))
    s3.put_object(Bucket=bucket, Key="code/process.py", Body=PROCESS.encode())
    tuning = f"console-hpo-{tag}"
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning,
        HyperParameterTuningJobConfig={
            "Strategy": "Random",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "x", "MinValue": "0", "MaxValue": "3", "ScalingType": "Linear"}
                ]
            },
            "HyperParameterTuningJobObjective": {"MetricName": "objective", "Type": "Minimize"},
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/code/tuned.tar.gz"),
            },
            "AlgorithmSpecification": {
                "TrainingImage": SKLEARN_IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "objective", "Regex": "objective: ([0-9.]+)"}],
            },
            "RoleArn": ROLE,
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/train"}
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
    )
    processing = f"console-proc-{tag}"
    sm.create_processing_job(
        ProcessingJobName=processing,
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
        },
        AppSpecification={
            "ImageUri": SKLEARN_IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/process.py"],
        },
        RoleArn=ROLE,
        ProcessingInputs=[
            processing_input("code", f"s3://{bucket}/code/process.py", "/opt/ml/processing/input/code")
        ],
        ProcessingOutputConfig={
            "Outputs": [processing_output("out", f"s3://{bucket}/processed", "/opt/ml/processing/output/out")]
        },
    )
    experiment = f"console-exp-{tag}"
    sm.create_experiment(ExperimentName=experiment)
    sm.create_trial(TrialName=f"{experiment}-trial", ExperimentName=experiment)
    for i, (lr, acc) in enumerate(((0.1, 0.81), (0.01, 0.93))):
        component = f"{experiment}-run-{i}"
        sm.create_trial_component(
            TrialComponentName=component,
            DisplayName=f"run {i}",
            Parameters={"learning_rate": {"NumberValue": lr}, "optimizer": {"StringValue": "adam"}},
            Status={"PrimaryStatus": "Completed"},
        )
        sm.associate_trial_component(TrialComponentName=component, TrialName=f"{experiment}-trial")
        server.client("sagemaker-metrics").batch_put_metrics(
            TrialComponentName=component,
            MetricData=[
                {
                    "MetricName": "accuracy",
                    "Timestamp": time.time() - 10 + s,
                    "Step": s,
                    "Value": acc - 0.1 + s * 0.05,
                }
                for s in range(3)
            ],
        )

    def finished():
        hpo = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning)
        proc = sm.describe_processing_job(ProcessingJobName=processing)
        if (
            hpo["HyperParameterTuningJobStatus"] != "InProgress"
            and proc["ProcessingJobStatus"] != "InProgress"
        ):
            return hpo, proc
        return None

    hpo, proc = wait_for(finished, 240, 1, "the tuning and processing jobs")
    assert hpo["HyperParameterTuningJobStatus"] == "Completed", hpo.get("FailureReason")
    assert proc["ProcessingJobStatus"] == "Completed", proc.get("FailureReason")
    return {
        "bucket": bucket,
        "tuning": tuning,
        "processing": processing,
        "experiment": experiment,
        "best": hpo,
    }


def test_tuning_job_children_and_best(server, browser, resources, shots):
    driver = browser
    open_page(driver, server, f"/tuning/{resources['tuning']}")
    text = view_text(driver)
    best = resources["best"]["BestTrainingJob"]
    assert "Completed" in text and f"{best['TrainingJobName']} ★ best" in text
    children = server.client("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=resources["tuning"]
    )["TrainingJobSummaries"]
    assert len(driver.find_elements(By.CSS_SELECTOR, "#view table.data tbody tr")) == len(children) == 2
    for child in children:
        assert child["TrainingJobName"] in text
        assert str(child["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]) in text
    assert driver.find_elements(By.CSS_SELECTOR, "[data-chart='objective'] canvas")
    shot(driver, shots, "20-tuning-job")
    assert not js_errors(driver)


def test_processing_job_page(server, browser, resources, shots):
    driver = browser
    open_page(driver, server, f"/processing/{resources['processing']}")
    assert "Completed" in view_text(driver) and "/opt/ml/processing/input/code" in view_text(driver)
    wait_for(lambda: "processing the input" in driver.find_element(By.CSS_SELECTOR, "pre.log").text, 15, 0.3)
    shot(driver, shots, "21-processing-job")
    open_page(driver, server, "/processing")
    assert resources["processing"] in view_text(driver)
    assert not js_errors(driver)


def test_experiment_runs_table_and_chart(server, browser, resources, shots):
    driver = browser
    open_page(driver, server, f"/experiments/{resources['experiment']}")
    headers = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#view table.data thead th")]
    assert {"learning_rate", "optimizer", "accuracy"} <= set(headers)
    rows = [tr.text for tr in driver.find_elements(By.CSS_SELECTOR, "#view table.data tbody tr")]
    assert len(rows) == 2 and any("0.01" in r for r in rows)
    chart = driver.find_element(By.CSS_SELECTOR, "[data-chart^='accuracy']")
    assert chart.get_attribute("data-points") == "6"  # two runs, three steps each
    legend = driver.find_element(By.CSS_SELECTOR, "[data-chart^='accuracy'] .u-legend").text
    assert "run 0" in legend and "run 1" in legend
    shot(driver, shots, "22-experiment")
    assert not js_errors(driver)


def test_logs_search(server, browser, resources, shots):
    driver = browser
    open_page(driver, server, "/logs")
    driver.find_element(By.CSS_SELECTOR, "select[aria-label='Log group']").send_keys(
        "/aws/sagemaker/ProcessingJobs"
    )
    driver.find_element(By.CSS_SELECTOR, "input[data-filter=pattern]").send_keys("processing")
    driver.find_element(By.CSS_SELECTOR, "#view form button").click()
    wait_for(lambda: "processing the input" in view_text(driver), 15, 0.3, "the search results")
    assert resources["processing"] in view_text(driver)
    shot(driver, shots, "23-logs-search")
    assert not js_errors(driver)


def test_s3_upload_through_the_page(server, browser, resources, shots, tmp_path):
    driver = browser
    local = tmp_path / "notes.txt"
    local.write_text("uploaded from the console\n")
    open_page(driver, server, f"/s3/{resources['bucket']}/data/")
    driver.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(local))
    driver.find_element(By.XPATH, "//button[text()='Upload']").click()
    wait_for(lambda: "Uploaded notes.txt" in view_text(driver), 15, 0.3, "the upload")
    body = server.client("s3").get_object(Bucket=resources["bucket"], Key="data/notes.txt")["Body"].read()
    assert body == b"uploaded from the console\n"
    wait_for(lambda: "notes.txt" in driver.find_element(By.CSS_SELECTOR, "#view table").text, 10, 0.3)
    shot(driver, shots, "24-s3-upload")
    assert not js_errors(driver)


def test_lists_page_with_next_token(server, browser, resources, shots):
    """55 versions in a group: 50 on the first page, 5 after Next, back with Previous."""
    driver = browser
    sm = server.client("sagemaker")
    group = f"{resources['experiment']}-paged"
    sm.create_model_package_group(ModelPackageGroupName=group)
    spec = {
        "Containers": [{"Image": SKLEARN_IMAGE, "ModelDataUrl": f"s3://{resources['bucket']}/model.tar.gz"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    for _ in range(55):
        sm.create_model_package(ModelPackageGroupName=group, InferenceSpecification=spec)
    open_page(driver, server, f"/registry/{group}")

    def rows() -> list[str]:  # the version column, read in one go (the list re-renders while paging)
        script = "return [...document.querySelectorAll('#view table.data tbody tr')].map(r => r.cells[0].textContent)"
        return driver.execute_script(script)

    first = rows()
    assert len(first) == 50 and first[0] == "55"  # newest first
    driver.find_element(By.CSS_SELECTOR, "[data-page=next]").click()
    wait_for(lambda: rows() == ["5", "4", "3", "2", "1"], 10, 0.2, "the second page")
    assert driver.find_element(By.CSS_SELECTOR, "[data-page=next]").get_attribute("disabled") is not None
    shot(driver, shots, "27-paged-second-page")
    driver.find_element(By.CSS_SELECTOR, "[data-page=prev]").click()
    wait_for(lambda: rows() == first, 10, 0.2, "the first page again")
    assert not js_errors(driver)


ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"


def test_monitoring_schedule_and_its_execution(server, browser, resources, shots):
    """A data-quality schedule (NOW, over batch-transform captures): the list and the schedule's page show
    it, its execution, and the execution's processing job one click away."""
    driver = browser
    sm, s3 = server.client("sagemaker"), server.client("s3")
    bucket, name = resources["bucket"], f"{resources['experiment']}-dq"
    now = dt.datetime.now(dt.timezone.utc)
    s3.put_object(Bucket=bucket, Key="bt-data/part-1.csv", Body=b"x1,x2\n1,2\n3,4\n5,6\n")
    manifest = json.dumps([{"prefix": f"s3://{bucket}/bt-data/"}, "part-1.csv"])
    s3.put_object(
        Bucket=bucket, Key=f"bt-capture/input/{now:%Y/%m/%d/%H}/manifest-1.json", Body=manifest.encode()
    )
    sm.create_data_quality_job_definition(
        JobDefinitionName=f"{name}-def",
        DataQualityAppSpecification={"ImageUri": ANALYZER},
        DataQualityJobInput={
            "BatchTransformInput": {
                "DataCapturedDestinationS3Uri": f"s3://{bucket}/bt-capture",
                "DatasetFormat": {"Csv": {"Header": True}},
                "LocalPath": "/opt/ml/processing/input/batch",
            }
        },
        DataQualityJobOutputConfig={
            "MonitoringOutputs": [
                {"S3Output": {"S3Uri": f"s3://{bucket}/reports", "LocalPath": "/opt/ml/processing/output"}}
            ]
        },
        JobResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 1}
        },
        RoleArn=ROLE,
    )
    sm.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig={
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinitionName": f"{name}-def",
            "MonitoringType": "DataQuality",
        },
    )

    def finished():
        found = sm.list_monitoring_executions(MonitoringScheduleName=name)["MonitoringExecutionSummaries"]
        done = found and found[0]["MonitoringExecutionStatus"] not in ("Pending", "InProgress", "Stopping")
        return found[0] if done else None

    execution = wait_for(finished, 120, 0.5, "the monitoring execution")
    open_page(driver, server, "/monitoring")
    assert name in view_text(driver)
    open_page(driver, server, f"/monitoring/{name}")
    text = view_text(driver)
    assert execution["MonitoringExecutionStatus"] in text and "NOW" in text
    job = execution["ProcessingJobArn"].split("/")[-1]
    link = driver.find_element(By.CSS_SELECTOR, f"a[href='#/processing/{job}']")
    assert "Violations" in text
    shot(driver, shots, "28-monitoring-schedule")
    link.click()
    wait_for(lambda: job in view_text(driver), 10, 0.2, "the execution's processing job")
    assert not js_errors(driver)


def test_images_page_lists_repositories_and_their_images(server, browser, shots, tmp_path):
    """A repository CreateRepository made, and — where podman is installed — an image the engine holds
    under an ECR URI: the Images list and the repository's page show them."""
    import shutil
    import subprocess
    import tarfile

    driver = browser
    ecr = server.client("ecr")
    account = server.client("sts").get_caller_identity()["Account"]
    made, tagged = f"console-made-{uuid.uuid4().hex[:6]}", f"console-tagged-{uuid.uuid4().hex[:6]}"
    ecr.create_repository(repositoryName=made)
    uri = f"{account}.dkr.ecr.us-east-1.amazonaws.com/{tagged}:v1"
    podman = shutil.which("podman")
    if podman:
        (tmp_path / "hello.txt").write_text("hi")
        with tarfile.open(tmp_path / "layer.tar", "w") as archive:
            archive.add(tmp_path / "hello.txt", "hello.txt")
        subprocess.run([podman, "import", "-q", str(tmp_path / "layer.tar"), uri], check=True, timeout=60)
    try:
        open_page(driver, server, "/images")
        text = view_text(driver)
        assert made in text and f"{account}.dkr.ecr.us-east-1.amazonaws.com/{made}" in text
        if podman:
            assert tagged in text
            open_page(driver, server, f"/images/{tagged}")
            wait_for(lambda: "v1" in driver.find_element(By.CSS_SELECTOR, "#view table.data").text, 10, 0.2)
            row = driver.find_element(By.CSS_SELECTOR, "#view table.data tbody tr").text
            assert "sha256:" in row and "KB" in row and uri in row
            shot(driver, shots, "29-image-repository")
        open_page(driver, server, f"/images/{made}")
        assert "No images in this repository yet." in view_text(driver)
        assert not js_errors(driver)
    finally:
        ecr.delete_repository(repositoryName=made)
        if podman:
            subprocess.run([podman, "rmi", "-f", uri], capture_output=True, timeout=60)


#: A training job whose model carries its own inference code (code/inference.py), so the endpoint serves
#: exactly the artifact the job produced.
TRAIN_SERVABLE = r"""
import os, shutil
code = os.path.join(os.environ["SM_MODEL_DIR"], "code")
os.makedirs(code)
open(os.path.join(os.environ["SM_MODEL_DIR"], "tag.txt"), "w").write("lineage")
shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "inference.py"), code)
"""


def test_endpoint_lineage_reaches_the_training_job_and_its_data(server, browser, resources, shots):
    """Train → deploy the job's own model → the endpoint's Lineage section names the training job (a link
    to its page) and the data set it read."""
    from hosting_support import ECHO_MODEL, Hosting

    driver = browser
    sm, s3 = server.client("sagemaker"), server.client("s3")
    bucket, job = resources["bucket"], f"{resources['experiment']}-lineage"
    s3.put_object(
        Bucket=bucket,
        Key="code/servable.tar.gz",
        Body=tar_gz({"train.py": TRAIN_SERVABLE.encode(), "inference.py": ECHO_MODEL.encode()}),
    )
    sm.create_training_job(**script_training_job(job, bucket, "code/servable.tar.gz"))
    desc = wait_for(
        lambda: (
            (d := sm.describe_training_job(TrainingJobName=job))["TrainingJobStatus"] != "InProgress" and d
        ),
        180,
        1,
        "the training job",
    )
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    hosting = Hosting(server)
    sm.create_model(
        ModelName=job,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": desc["ModelArtifacts"]["S3ModelArtifacts"],
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    assert (
        hosting.endpoint(job, hosting.config(job, [("AllTraffic", job, 1.0)]))["EndpointStatus"]
        == "InService"
    )
    try:
        assert hosting.invoke(job, "1,2")[0] == "lineage:3"
        open_page(driver, server, f"/endpoints/{job}")
        lineage = driver.find_element(By.CSS_SELECTOR, "[data-lineage]")
        text = lineage.text
        assert "TrainingJob" in text and "DataSet" in text and f"s3://{bucket}/data/train" in text
        link = lineage.find_element(By.CSS_SELECTOR, f"a[href='#/training/{job}']")
        driver.execute_script("arguments[0].scrollIntoView()", lineage)
        shot(driver, shots, "30-endpoint-lineage-to-training")
        link.click()
        wait_for(
            lambda: "Completed" in view_text(driver) and job in view_text(driver), 10, 0.2, "the job page"
        )
        assert not js_errors(driver)
    finally:
        hosting.delete(job)
