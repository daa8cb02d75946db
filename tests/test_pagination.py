"""Every paginated operation sagestack implements, paged at the smallest page size its model allows.

The operations come from the registry and the botocore models (a paginator, or a page-size / page-token
input member): a new List*/Describe* fails ``test_every_paginated_operation_has_a_case`` until it has a
case here (or a reasoned entry in ``SKIPPED``). Each case lists what one server holds, unfiltered and
with a filter, and the pages must be full until the last, hold no duplicates, and together hold every
item — the same items one large page returns. Filtering after the page is cut (moto's bug: short or
empty pages, items missed) fails here.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

import botocore.session
import pytest

from helpers import ROLE, SKLEARN_IMAGE, wait_for
from sagestack.local_server import ServerProcess
from sagestack.services.registry import load_tables

#: Input members that make an operation paginated (page tokens and page sizes, across the protocols).
PAGE_MEMBERS = {
    "NextToken",
    "nextToken",
    "Marker",
    "ContinuationToken",
    "KeyMarker",
    "UploadIdMarker",
    "PartNumberMarker",
    "VersionIdMarker",
    "MaxResults",
    "MaxItems",
    "MaxKeys",
    "MaxRecords",
    "MaxBuckets",
    "MaxUploads",
    "MaxParts",
    "limit",
    "maxResults",
}

#: Paginated operations without a case, and why (each needs resources too costly for this test).
SKIPPED = {
    # Activities exist only once the scaling loop has changed an InService endpoint's instance count
    # (real worker processes, one capacity change at a time); the filter is the same resource_fields
    # condition DescribeScalableTargets/DescribeScalingPolicies exercise below. Paged one at a time in
    # tests/production/test_autoscaling.py::test_step_policy_driven_by_a_user_alarm_and_minimum_capacity.
    ("application-autoscaling", "DescribeScalingActivities"),
    # Each experiment needs its own InService endpoint and starts shadow-variant workers.
    ("sagemaker", "ListInferenceExperiments"),
    # botocore has no paginator for it (paged by hand, MaxResults=1 + NextToken, in
    # tests/experiments/test_experiments_api.py::test_actions_contexts_and_query_lineage).
    ("sagemaker", "QueryLineage"),
    # An ECR repository's images are the container engine's local images (podman): paged one at a time
    # in tests/containers/test_ecr.py, which builds them.
    ("ecr", "DescribeImages"),
    ("ecr", "ListImages"),
}

DIM = "sagemaker:variant:DesiredInstanceCount"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def paginated_operations() -> set[tuple[str, str]]:
    session = botocore.session.get_session()
    found = set()
    for service, handlers in load_tables().items():
        model = session.get_service_model(service)
        try:
            paginators = session.get_paginator_model(service)._paginator_config
        except Exception:  # a service without paginators-1.json
            paginators = {}
        for name in handlers:
            shape = model.operation_model(name).input_shape
            if name in paginators or (shape is not None and PAGE_MEMBERS & set(shape.members)):
                found.add((service, name))
    return found


@dataclass
class Case:
    params: dict
    items: Callable[[dict], list]  # one response → the identities of its items
    expected: set | None = None  # exactly these (None: a superset of ``known``, equal to one big page)
    known: set = field(default_factory=set)
    page_size: int | None = None  # None: the smallest the model allows; 0: the server's fixed page size
    full_page: int | None = None  # the size of every page but the last when the server fixes it
    count: int | None = None  # how many items there are (where their identities are not known up front)


def _keys(response: dict) -> list:
    return [("key", o["Key"]) for o in response.get("Contents") or []] + [
        ("prefix", p["Prefix"]) for p in response.get("CommonPrefixes") or []
    ]


def _uploads(response: dict) -> list:
    return [("upload", u["Key"], u["UploadId"]) for u in response.get("Uploads") or []] + [
        ("prefix", p["Prefix"]) for p in response.get("CommonPrefixes") or []
    ]


def _names(key: str, member: str) -> Callable[[dict], list]:
    return lambda response: [item[member] for item in response.get(key) or []]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of its own: every list below knows exactly what the server holds."""
    proc = ServerProcess(tmp_path_factory.mktemp("pagination") / "data").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def world(server) -> dict[tuple[str, str], list[Case]]:
    """Three or more items of every kind, made through the APIs; per operation, the listings to page."""
    s3, iam, logs = server.client("s3"), server.client("iam"), server.client("logs")
    cw, sm, aas = (
        server.client("cloudwatch"),
        server.client("sagemaker"),
        server.client("application-autoscaling"),
    )
    cases: dict[tuple[str, str], list[Case]] = {}

    # -- S3 -------------------------------------------------------------------------------------------
    buckets = ["pg-a-1", "pg-a-2", "pg-a-3", "pg-b-1", "pg-objects", "pg-uploads"]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    cases["s3", "ListBuckets"] = [
        Case({}, _names("Buckets", "Name"), expected=set(buckets)),
        Case({"Prefix": "pg-a-"}, _names("Buckets", "Name"), expected={"pg-a-1", "pg-a-2", "pg-a-3"}),
    ]
    keys = ["a/1", "a/2", "a/3", "b/1", "b/2", "c", "d"]
    for key in keys:
        s3.put_object(Bucket="pg-objects", Key=key, Body=key.encode())
    objects = [
        Case({"Bucket": "pg-objects"}, _keys, expected={("key", k) for k in keys}),
        Case(
            {"Bucket": "pg-objects", "Delimiter": "/"},
            _keys,
            expected={("prefix", "a/"), ("prefix", "b/"), ("key", "c"), ("key", "d")},
        ),
        Case(
            {"Bucket": "pg-objects", "Prefix": "a/"},
            _keys,
            expected={("key", "a/1"), ("key", "a/2"), ("key", "a/3")},
        ),
    ]
    cases["s3", "ListObjects"] = objects
    cases["s3", "ListObjectsV2"] = objects
    uploads = set()
    for key in ["a/1", "a/1", "a/2", "b/1", "b/2", "c", "d"]:
        uploads.add(("upload", key, s3.create_multipart_upload(Bucket="pg-uploads", Key=key)["UploadId"]))
    cases["s3", "ListMultipartUploads"] = [
        Case({"Bucket": "pg-uploads"}, _uploads, expected=uploads),
        Case(
            {"Bucket": "pg-uploads", "Delimiter": "/"},
            _uploads,
            expected={("prefix", "a/"), ("prefix", "b/")} | {u for u in uploads if u[1] in ("c", "d")},
        ),
        Case(
            {"Bucket": "pg-uploads", "Prefix": "a/"},
            _uploads,
            expected={u for u in uploads if u[1].startswith("a/")},
        ),
    ]
    upload_id = s3.create_multipart_upload(Bucket="pg-objects", Key="parts")["UploadId"]
    for number in (1, 2, 3, 5):
        s3.upload_part(
            Bucket="pg-objects", Key="parts", UploadId=upload_id, PartNumber=number, Body=b"x" * number
        )
    cases["s3", "ListParts"] = [
        Case(
            {"Bucket": "pg-objects", "Key": "parts", "UploadId": upload_id},
            _names("Parts", "PartNumber"),
            expected={1, 2, 3, 5},
        )
    ]

    # -- IAM ------------------------------------------------------------------------------------------
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    for name, path in [
        ("pg-team-1", "/team/"),
        ("pg-team-2", "/team/"),
        ("pg-team-3", "/team/sub/"),
        ("pg-root-1", "/"),
        ("pg-other-1", "/teamwork/"),
    ]:
        iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)
    roles = _names("Roles", "RoleName")
    cases["iam", "ListRoles"] = [
        Case(
            {},
            roles,
            known={
                "SageStackExecutionRole",
                "pg-team-1",
                "pg-team-2",
                "pg-team-3",
                "pg-root-1",
                "pg-other-1",
            },
        ),
        Case({"PathPrefix": "/team/"}, roles, expected={"pg-team-1", "pg-team-2", "pg-team-3"}),
    ]
    actions = ["s3:GetObject", "s3:PutObject", "sagemaker:CreateModel"]
    arns = ["arn:aws:s3:::pg-a-1/*", "arn:aws:s3:::pg-a-2/*"]
    evaluation = lambda r: [(e["EvalActionName"], e["EvalResourceName"]) for e in r["EvaluationResults"]]  # noqa: E731
    cases["iam", "SimulatePrincipalPolicy"] = [
        Case(
            {"PolicySourceArn": ROLE, "ActionNames": actions},
            evaluation,
            expected={(a, "*") for a in actions},
        ),
        Case(
            {"PolicySourceArn": ROLE, "ActionNames": actions, "ResourceArns": arns},
            evaluation,
            expected={(a, r) for a in actions for r in arns},
        ),
    ]

    # -- CloudWatch Logs ------------------------------------------------------------------------------
    groups = ["/pg/a/1", "/pg/a/2", "/pg/a/3", "/pg/b/1"]
    for group in groups:
        logs.create_log_group(logGroupName=group)
    streams = ["s1", "s2", "s3", "t1"]
    base = int(time.time() * 1000) - 60_000
    events = set()
    for i, stream in enumerate(streams):
        logs.create_log_stream(logGroupName="/pg/a/1", logStreamName=stream)
        batch = [{"timestamp": base + 10 * j + i, "message": f"{stream} event {j}"} for j in range(3)]
        logs.put_log_events(logGroupName="/pg/a/1", logStreamName=stream, logEvents=batch)
        events |= {(stream, e["message"]) for e in batch}
    event_ids = lambda r: [(e["logStreamName"], e["message"]) for e in r["events"]]  # noqa: E731
    cases["logs", "DescribeLogGroups"] = [
        Case({}, _names("logGroups", "logGroupName"), known=set(groups)),
        Case({"logGroupNamePrefix": "/pg/a/"}, _names("logGroups", "logGroupName"), expected=set(groups[:3])),
    ]
    cases["logs", "DescribeLogStreams"] = [
        Case({"logGroupName": "/pg/a/1"}, _names("logStreams", "logStreamName"), expected=set(streams)),
        Case(
            {"logGroupName": "/pg/a/1", "logStreamNamePrefix": "s"},
            _names("logStreams", "logStreamName"),
            expected={"s1", "s2", "s3"},
        ),
        Case(
            {"logGroupName": "/pg/a/1", "orderBy": "LastEventTime", "descending": True},
            _names("logStreams", "logStreamName"),
            expected=set(streams),
        ),
    ]
    cases["logs", "FilterLogEvents"] = [
        Case({"logGroupName": "/pg/a/1"}, event_ids, expected=events),
        Case(
            {"logGroupName": "/pg/a/1", "logStreamNames": ["s1", "t1"]},
            event_ids,
            expected={e for e in events if e[0] in ("s1", "t1")},
        ),
        Case(
            {"logGroupName": "/pg/a/1", "logStreamNamePrefix": "s"},
            event_ids,
            expected={e for e in events if e[0].startswith("s")},
        ),
    ]
    cases["logs", "GetLogEvents"] = [
        Case(
            {"logGroupName": "/pg/a/1", "logStreamName": "s2", "startFromHead": True},
            lambda r: [e["message"] for e in r["events"]],
            expected={f"s2 event {j}" for j in range(3)},
        ),
        Case(
            {"logGroupName": "/pg/a/1", "logStreamName": "s2", "startFromHead": True, "startTime": base + 11},
            lambda r: [e["message"] for e in r["events"]],
            expected={"s2 event 1", "s2 event 2"},
        ),
    ]

    # -- CloudWatch -----------------------------------------------------------------------------------
    now = dt.datetime.now(dt.timezone.utc)
    cw.put_metric_data(
        Namespace="pg/many",
        MetricData=[
            {"MetricName": f"m{i:03d}", "Dimensions": [{"Name": "Half", "Value": str(i % 2)}], "Value": 1.0}
            for i in range(600)
        ],
    )
    cw.put_metric_data(
        Namespace="pg/points",
        MetricData=[
            {"MetricName": "Latency", "Value": float(i), "Timestamp": now - dt.timedelta(minutes=i + 1)}
            for i in range(4)
        ],
    )

    def metric_ids(r):
        return [(m["Namespace"], m["MetricName"], json.dumps(m["Dimensions"])) for m in r["Metrics"]]

    cases["cloudwatch", "ListMetrics"] = [  # no page-size parameter: AWS (and sagestack) page by 500
        Case(
            {"Namespace": "pg/many"},
            metric_ids,
            page_size=0,
            full_page=500,
            expected={
                ("pg/many", f"m{i:03d}", json.dumps([{"Name": "Half", "Value": str(i % 2)}]))
                for i in range(600)
            },
        ),
        Case(
            {"Namespace": "pg/many", "Dimensions": [{"Name": "Half", "Value": "1"}]},
            metric_ids,
            page_size=0,
            full_page=500,
            expected={
                ("pg/many", f"m{i:03d}", json.dumps([{"Name": "Half", "Value": "1"}]))
                for i in range(1, 600, 2)
            },
        ),
    ]
    query = {
        "MetricDataQueries": [
            {
                "Id": "lat",
                "MetricStat": {
                    "Metric": {"Namespace": "pg/points", "MetricName": "Latency"},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        "StartTime": now - dt.timedelta(hours=1),
        "EndTime": now + dt.timedelta(minutes=1),
    }
    cases["cloudwatch", "GetMetricData"] = [
        Case(
            query,
            lambda r: [(q["Id"], t.timestamp()) for q in r["MetricDataResults"] for t in q["Timestamps"]],
            count=4,
        ),
    ]
    alarms = ["pg-alarm-a1", "pg-alarm-a2", "pg-alarm-a3", "pg-alarm-b1"]
    topic = ["arn:aws:sns:us-east-1:000000000000:pg-topic"]
    for i, name in enumerate(alarms + alarms[:2]):  # the first two twice: a configuration update each
        # on a metric without data: the evaluator leaves them INSUFFICIENT_DATA (no history while paging)
        cw.put_metric_alarm(
            AlarmName=name,
            Namespace="pg/none",
            MetricName="Nothing",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1 + i // 4,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=topic if name != "pg-alarm-a2" else [],
        )
    alarm_names = _names("MetricAlarms", "AlarmName")
    cases["cloudwatch", "DescribeAlarms"] = [
        Case({}, alarm_names, known=set(alarms)),
        Case({"AlarmNamePrefix": "pg-alarm-a"}, alarm_names, expected=set(alarms[:3])),
        Case(
            {"StateValue": "INSUFFICIENT_DATA", "AlarmNamePrefix": "pg-alarm-"},
            alarm_names,
            expected=set(alarms),
        ),
        Case(
            {"ActionPrefix": "arn:aws:sns:us-east-1:000000000000:pg-"},
            alarm_names,
            expected={"pg-alarm-a1", "pg-alarm-a3", "pg-alarm-b1"},
        ),
    ]

    def history(r):
        return [
            (h["AlarmName"], h["HistoryItemType"], h["HistorySummary"], h["Timestamp"])
            for h in r["AlarmHistoryItems"]
        ]

    cases["cloudwatch", "DescribeAlarmHistory"] = [
        Case({}, history, count=6),
        Case({"AlarmName": "pg-alarm-a1"}, history, count=2),
        Case({"HistoryItemType": "ConfigurationUpdate", "ScanBy": "TimestampAscending"}, history, count=6),
    ]

    # -- SageMaker ------------------------------------------------------------------------------------
    models = ["pg-model-a-1", "pg-model-a-2", "pg-model-a-3", "pg-model-b-1"]
    for name in models:
        sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": SKLEARN_IMAGE, "ModelDataUrl": "s3://pg-objects/missing/model.tar.gz"},
        )
    cases["sagemaker", "ListModels"] = [
        Case({}, _names("Models", "ModelName"), expected=set(models)),
        Case(
            {"NameContains": "-A-", "SortBy": "Name", "SortOrder": "Ascending"},
            _names("Models", "ModelName"),
            expected=set(models[:3]),
        ),
    ]
    configs = ["pg-config-a-1", "pg-config-a-2", "pg-config-b-1"]
    for name in configs:
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": v,
                    "ModelName": models[0],
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
                for v in ("A", "B", "C")
            ],
        )
    cases["sagemaker", "ListEndpointConfigs"] = [
        Case({}, _names("EndpointConfigs", "EndpointConfigName"), expected=set(configs)),
        Case(
            {"NameContains": "-a-"},
            _names("EndpointConfigs", "EndpointConfigName"),
            expected=set(configs[:2]),
        ),
    ]
    endpoints = ["pg-endpoint-a-1", "pg-endpoint-a-2", "pg-endpoint-b-1"]
    for name in endpoints:  # the model's data is missing: each endpoint fails at once
        sm.create_endpoint(EndpointName=name, EndpointConfigName=configs[0])
    tags = [{"Key": f"k{i:02d}", "Value": str(i)} for i in range(50)]
    sm.add_tags(ResourceArn=sm.describe_model(ModelName=models[0])["ModelArn"], Tags=tags)
    cases["sagemaker", "ListTags"] = [  # the model allows no page below 50, sagestack no more than 50 tags
        Case(
            {"ResourceArn": sm.describe_model(ModelName=models[0])["ModelArn"]},
            _names("Tags", "Key"),
            expected={t["Key"] for t in tags},
        ),
    ]
    jobs = ["pg-job-a-1", "pg-job-a-2", "pg-job-a-3", "pg-job-b-1"]
    channel = [
        {
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://pg-objects/missing/"}},
        }
    ]
    for name in jobs:  # no input data: each job fails as it starts
        sm.create_training_job(
            TrainingJobName=name,
            RoleArn=ROLE,
            HyperParameters={"num_round": "1"},
            AlgorithmSpecification={"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
            InputDataConfig=channel,
            OutputDataConfig={"S3OutputPath": "s3://pg-objects/out"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
    tunings = {"pg-hpo-x-1": 3, "pg-hpo-x-2": 1, "pg-hpo-y-1": 1}  # name: children (each fails as it starts)
    for name, count in tunings.items():
        sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name,
            HyperParameterTuningJobConfig={
                "Strategy": "Random",
                "ResourceLimits": {"MaxNumberOfTrainingJobs": count, "MaxParallelTrainingJobs": count},
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
                "ParameterRanges": {
                    "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}]
                },
            },
            TrainingJobDefinition={
                "StaticHyperParameters": {"num_round": "1"},
                "RoleArn": ROLE,
                "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
                "InputDataConfig": channel,
                "OutputDataConfig": {"S3OutputPath": "s3://pg-objects/out"},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                "StoppingCondition": {"MaxRuntimeInSeconds": 60},
            },
        )
    transforms = ["pg-transform-a-1", "pg-transform-a-2", "pg-transform-b-1"]
    for name in transforms:
        sm.create_transform_job(
            TransformJobName=name,
            ModelName=models[0],
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
            TransformInput={
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://pg-objects/missing/"}
                }
            },
            TransformOutput={"S3OutputPath": "s3://pg-objects/transform-out"},
        )
    wait_for(
        lambda: (
            all(sm.describe_training_job(TrainingJobName=j)["TrainingJobStatus"] == "Failed" for j in jobs)
            and all(
                sm.describe_transform_job(TransformJobName=j)["TransformJobStatus"] == "Failed"
                for j in transforms
            )
            and all(sm.describe_endpoint(EndpointName=e)["EndpointStatus"] == "Failed" for e in endpoints)
            and all(
                sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=t)[
                    "HyperParameterTuningJobStatus"
                ]
                == "Failed"
                for t in tunings
            )
        ),
        timeout=60,
        message="the jobs and endpoints to fail",
    )
    children = {
        t: {
            j["TrainingJobName"]
            for j in sm.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=t, MaxResults=100
            )["TrainingJobSummaries"]
        }
        for t in tunings
    }
    assert {t: len(c) for t, c in children.items()} == tunings
    tuning_children = set().union(*children.values())
    cases["sagemaker", "ListEndpoints"] = [
        Case({}, _names("Endpoints", "EndpointName"), expected=set(endpoints)),
        Case(
            {"NameContains": "-a-", "StatusEquals": "Failed"},
            _names("Endpoints", "EndpointName"),
            expected=set(endpoints[:2]),
        ),
    ]
    cases["sagemaker", "ListTrainingJobs"] = [
        Case({}, _names("TrainingJobSummaries", "TrainingJobName"), expected=set(jobs) | tuning_children),
        Case(
            {"NameContains": "-a-", "StatusEquals": "Failed", "SortBy": "Name"},
            _names("TrainingJobSummaries", "TrainingJobName"),
            expected=set(jobs[:3]),
        ),
    ]
    tuning_names = _names("HyperParameterTuningJobSummaries", "HyperParameterTuningJobName")
    cases["sagemaker", "ListHyperParameterTuningJobs"] = [
        Case({}, tuning_names, expected=set(tunings)),
        Case(
            {"NameContains": "-x-", "StatusEquals": "Failed", "SortBy": "CreationTime"},
            tuning_names,
            expected={"pg-hpo-x-1", "pg-hpo-x-2"},
        ),
    ]
    summaries = _names("TrainingJobSummaries", "TrainingJobName")
    cases["sagemaker", "ListTrainingJobsForHyperParameterTuningJob"] = [
        Case({"HyperParameterTuningJobName": "pg-hpo-x-1"}, summaries, expected=children["pg-hpo-x-1"]),
        Case(
            {"HyperParameterTuningJobName": "pg-hpo-x-1", "StatusEquals": "Failed", "SortBy": "Status"},
            summaries,
            expected=children["pg-hpo-x-1"],
        ),
        Case(
            {"HyperParameterTuningJobName": "pg-hpo-x-1", "SortBy": "FinalObjectiveMetricValue"},
            summaries,
            expected=set(),
        ),  # none reported the objective: left out
    ]
    cases["sagemaker", "ListTransformJobs"] = [
        Case({}, _names("TransformJobSummaries", "TransformJobName"), expected=set(transforms)),
        Case(
            {"NameContains": "-a-", "StatusEquals": "Failed"},
            _names("TransformJobSummaries", "TransformJobName"),
            expected=set(transforms[:2]),
        ),
    ]

    # Processing jobs: no input data, so each fails as it starts.
    processing = ["pg-processing-a-1", "pg-processing-a-2", "pg-processing-a-3", "pg-processing-b-1"]
    for name in processing:
        sm.create_processing_job(
            ProcessingJobName=name,
            RoleArn=ROLE,
            ProcessingResources={
                "ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}
            },
            AppSpecification={"ImageUri": SKLEARN_IMAGE, "ContainerEntrypoint": ["python3", "-c", "pass"]},
            ProcessingInputs=[
                {
                    "InputName": "data",
                    "S3Input": {
                        "S3Uri": "s3://pg-objects/missing/",
                        "LocalPath": "/opt/ml/processing/input/data",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
        )
    wait_for(
        lambda: all(
            sm.describe_processing_job(ProcessingJobName=j)["ProcessingJobStatus"] == "Failed"
            for j in processing
        ),
        timeout=60,
        message="the processing jobs to fail",
    )
    cases["sagemaker", "ListProcessingJobs"] = [
        Case({}, _names("ProcessingJobSummaries", "ProcessingJobName"), expected=set(processing)),
        Case(
            {"NameContains": "-a-", "StatusEquals": "Failed", "SortBy": "Name"},
            _names("ProcessingJobSummaries", "ProcessingJobName"),
            expected=set(processing[:3]),
        ),
    ]

    # Model Monitor: definitions of the four families, NOW schedules whose executions fail at once (no
    # captured data), and each schedule's alert.
    analyzer = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
    clarify = "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"
    monitor_common = {
        "JobResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
        },
        "RoleArn": ROLE,
    }
    outputs = {
        "MonitoringOutputs": [
            {"S3Output": {"S3Uri": "s3://pg-objects/mon", "LocalPath": "/opt/ml/processing/output"}}
        ]
    }
    truth = {"GroundTruthS3Input": {"S3Uri": "s3://pg-objects/gt"}}
    families = {
        "DataQuality": ({"ImageUri": analyzer}, {}),
        "ModelQuality": ({"ImageUri": analyzer, "ProblemType": "Regression"}, truth),
        "ModelBias": ({"ImageUri": clarify, "ConfigUri": "s3://pg-objects/cfg.json"}, truth),
        "ModelExplainability": ({"ImageUri": clarify, "ConfigUri": "s3://pg-objects/cfg.json"}, {}),
    }
    definitions: dict[str, list[str]] = {}
    for family, (app, extra) in families.items():
        names = [f"pg-{family.lower()}-a-{i}" for i in (1, 2, 3)] + [f"pg-{family.lower()}-b-1"]
        definitions[family] = names
        snake = "".join("_" + c.lower() if c.isupper() else c for c in family).lstrip("_")
        for name in names:
            endpoint = endpoints[0] if "-a-" in name else endpoints[1]
            getattr(sm, f"create_{snake}_job_definition")(
                JobDefinitionName=name,
                **{
                    f"{family}AppSpecification": app,
                    f"{family}JobInput": {
                        "EndpointInput": {
                            "EndpointName": endpoint,
                            "LocalPath": "/opt/ml/processing/input/endpoint",
                            "InferenceAttribute": "0",
                        },
                        **extra,
                    },
                    f"{family}JobOutputConfig": outputs,
                },
                **monitor_common,
            )
        cases["sagemaker", f"List{family}JobDefinitions"] = [
            Case({}, _names("JobDefinitionSummaries", "MonitoringJobDefinitionName"), expected=set(names)),
            Case(
                {"EndpointName": endpoints[0], "NameContains": "-a-", "SortBy": "Name"},
                _names("JobDefinitionSummaries", "MonitoringJobDefinitionName"),
                expected=set(names[:3]),
            ),
        ]
    schedules = ["pg-schedule-a-1", "pg-schedule-a-2", "pg-schedule-a-3", "pg-schedule-b-1"]
    for name, definition in zip(schedules, definitions["DataQuality"]):
        sm.create_monitoring_schedule(
            MonitoringScheduleName=name,
            MonitoringScheduleConfig={
                "ScheduleConfig": {
                    "ScheduleExpression": "NOW",
                    "DataAnalysisStartTime": "-PT1H",
                    "DataAnalysisEndTime": "-PT0H",
                },
                "MonitoringJobDefinitionName": definition,
                "MonitoringType": "DataQuality",
            },
        )
    wait_for(
        lambda: (
            len(
                sm.list_monitoring_executions(StatusEquals="Failed", MaxResults=100)[
                    "MonitoringExecutionSummaries"
                ]
            )
            == len(schedules)
        ),
        timeout=60,
        message="the monitoring executions to fail (no captured data)",
    )
    cases["sagemaker", "ListMonitoringSchedules"] = [
        Case({}, _names("MonitoringScheduleSummaries", "MonitoringScheduleName"), expected=set(schedules)),
        Case(
            {"EndpointName": endpoints[0], "NameContains": "-a-", "SortBy": "Name"},
            _names("MonitoringScheduleSummaries", "MonitoringScheduleName"),
            expected=set(schedules[:3]),
        ),
    ]
    cases["sagemaker", "ListMonitoringExecutions"] = [
        Case({}, _names("MonitoringExecutionSummaries", "MonitoringScheduleName"), expected=set(schedules)),
        Case(
            {"EndpointName": endpoints[0], "StatusEquals": "Failed", "SortBy": "ScheduledTime"},
            _names("MonitoringExecutionSummaries", "MonitoringScheduleName"),
            expected=set(schedules[:3]),
        ),
    ]
    cases["sagemaker", "ListMonitoringAlerts"] = [
        Case(
            {"MonitoringScheduleName": schedules[0]},
            _names("MonitoringAlertSummaries", "MonitoringAlertName"),
            expected={"ModelMonitorAlert"},
        )
    ]
    cases["sagemaker", "ListMonitoringAlertHistory"] = [  # no execution changed an alert's status
        Case({}, _names("MonitoringAlertHistory", "MonitoringAlertName"), expected=set()),
        Case(
            {"MonitoringScheduleName": schedules[0], "StatusEquals": "InAlert"},
            _names("MonitoringAlertHistory", "MonitoringAlertName"),
            expected=set(),
        ),
    ]

    # -- Application Auto Scaling ---------------------------------------------------------------------
    ids = [f"endpoint/{endpoints[0]}/variant/{v}" for v in ("A", "B", "C")]
    for resource_id in ids:
        aas.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=resource_id,
            ScalableDimension=DIM,
            MinCapacity=1,
            MaxCapacity=2,
        )
    step = {
        "AdjustmentType": "ChangeInCapacity",
        "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
    }
    policies = [("up-1", ids[0]), ("up-2", ids[0]), ("up-3", ids[0]), ("up-1", ids[1]), ("down-1", ids[2])]
    for name, resource_id in policies:
        aas.put_scaling_policy(
            PolicyName=name,
            ServiceNamespace="sagemaker",
            ResourceId=resource_id,
            ScalableDimension=DIM,
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration=step,
        )
    targets = _names("ScalableTargets", "ResourceId")
    cases["application-autoscaling", "DescribeScalableTargets"] = [
        Case({"ServiceNamespace": "sagemaker"}, targets, expected=set(ids)),
        Case(
            {"ServiceNamespace": "sagemaker", "ResourceIds": [ids[0], ids[2]], "ScalableDimension": DIM},
            targets,
            expected={ids[0], ids[2]},
        ),
        Case({"ServiceNamespace": "ecs"}, targets, expected=set()),
    ]
    policy_ids = lambda r: [(p["PolicyName"], p["ResourceId"]) for p in r["ScalingPolicies"]]  # noqa: E731
    cases["application-autoscaling", "DescribeScalingPolicies"] = [
        Case({"ServiceNamespace": "sagemaker"}, policy_ids, expected=set(policies)),
        Case(
            {"ServiceNamespace": "sagemaker", "ResourceId": ids[0], "ScalableDimension": DIM},
            policy_ids,
            expected=set(policies[:3]),
        ),
        Case(
            {"ServiceNamespace": "sagemaker", "PolicyNames": ["up-1", "down-1"]},
            policy_ids,
            expected={policies[0], policies[3], policies[4]},
        ),
    ]

    # -- Experiments and lineage ------------------------------------------------------------------------
    experiments = ["pg-exp-a-1", "pg-exp-a-2", "pg-exp-b-1"]
    for name in experiments:
        sm.create_experiment(ExperimentName=name)
    trials = ["pg-trial-1", "pg-trial-2", "pg-trial-3"]
    for name in trials:
        sm.create_trial(TrialName=name, ExperimentName=experiments[0])
    sm.create_trial(TrialName="pg-trial-other", ExperimentName=experiments[1])
    components = ["pg-tc-1", "pg-tc-2", "pg-tc-3", "pg-tc-4"]
    for name in components:
        sm.create_trial_component(TrialComponentName=name, Parameters={"p": {"NumberValue": 1}})
    for name in components[:3]:
        sm.associate_trial_component(TrialComponentName=name, TrialName=trials[0])
    for trial in trials:
        sm.associate_trial_component(TrialComponentName=components[0], TrialName=trial)
    job_arn = sm.describe_training_job(TrainingJobName=jobs[0])["TrainingJobArn"]
    cases["sagemaker", "ListExperiments"] = [
        Case({}, _names("ExperimentSummaries", "ExperimentName"), known=set(experiments)),
        Case(
            {"SortBy": "Name", "SortOrder": "Ascending"},
            _names("ExperimentSummaries", "ExperimentName"),
            known=set(experiments),
        ),
    ]
    cases["sagemaker", "ListTrials"] = [
        Case({}, _names("TrialSummaries", "TrialName"), known=set(trials) | {"pg-trial-other"}),
        Case({"ExperimentName": experiments[0]}, _names("TrialSummaries", "TrialName"), expected=set(trials)),
        Case(
            {"TrialComponentName": components[0]}, _names("TrialSummaries", "TrialName"), expected=set(trials)
        ),
    ]
    tc_names = _names("TrialComponentSummaries", "TrialComponentName")
    cases["sagemaker", "ListTrialComponents"] = [
        Case({}, tc_names, known=set(components) | {f"{j}-aws-training-job" for j in jobs}),
        Case({"TrialName": trials[0]}, tc_names, expected=set(components[:3])),
        Case({"ExperimentName": experiments[0], "SortBy": "Name"}, tc_names, expected=set(components[:3])),
        Case({"SourceArn": job_arn}, tc_names, expected={f"{jobs[0]}-aws-training-job"}),
    ]
    records = lambda r: [x["TrialComponent"]["TrialComponentName"] for x in r["Results"]]  # noqa: E731
    cases["sagemaker", "Search"] = [
        Case(
            {
                "Resource": "ExperimentTrialComponent",
                "SearchExpression": {
                    "Filters": [
                        {"Name": "Parents.ExperimentName", "Operator": "Equals", "Value": experiments[0]}
                    ]
                },
            },
            records,
            expected=set(components[:3]),
        ),
        Case(
            {
                "Resource": "ExperimentTrialComponent",
                "SearchExpression": {
                    "Filters": [
                        {"Name": "Parameters.p", "Operator": "GreaterThanOrEqualTo", "Value": "1"},
                        {"Name": "TrialComponentName", "Operator": "Contains", "Value": "pg-tc-"},
                    ]
                },
                "SortBy": "Name",
            },
            records,
            expected=set(components),
        ),
    ]
    artifacts = [
        sm.create_artifact(
            ArtifactName=f"pg-artifact-{i}",
            ArtifactType="Dataset" if i < 3 else "Model",
            Source={"SourceUri": f"s3://pg-objects/artifact/{i}"},
        )["ArtifactArn"]
        for i in range(4)
    ]
    arns = lambda r: [a["ArtifactArn"] for a in r["ArtifactSummaries"]]  # noqa: E731
    cases["sagemaker", "ListArtifacts"] = [
        Case({}, arns, known=set(artifacts)),  # (with those SageMaker makes for the jobs and packages)
        Case({"ArtifactType": "Dataset"}, arns, expected=set(artifacts[:3])),
    ]
    tc_arn = sm.describe_trial_component(TrialComponentName=components[1])["TrialComponentArn"]
    for artifact in artifacts:
        sm.add_association(SourceArn=tc_arn, DestinationArn=artifact, AssociationType="Produced")
    sm.add_association(SourceArn=artifacts[0], DestinationArn=artifacts[1], AssociationType="DerivedFrom")
    pairs = lambda r: [(a["SourceArn"], a["DestinationArn"]) for a in r["AssociationSummaries"]]  # noqa: E731
    cases["sagemaker", "ListAssociations"] = [
        Case({"SourceArn": tc_arn}, pairs, expected={(tc_arn, a) for a in artifacts}),
        Case(
            {"DestinationArn": artifacts[1]},
            pairs,
            expected={(tc_arn, artifacts[1]), (artifacts[0], artifacts[1])},
        ),
    ]

    groups = ["pg-group-a-1", "pg-group-a-2", "pg-group-b-1"]
    spec = {"Containers": [{"Image": SKLEARN_IMAGE, "ModelDataUrl": "s3://pg-objects/missing/model.tar.gz"}]}
    for group in groups:
        sm.create_model_package_group(ModelPackageGroupName=group)
    package_arns = [
        sm.create_model_package(ModelPackageGroupName=groups[0], InferenceSpecification=spec)[
            "ModelPackageArn"
        ]
        for _ in range(4)
    ]
    sm.update_model_package(ModelPackageArn=package_arns[1], ModelApprovalStatus="Approved")
    sm.update_model_package(ModelPackageArn=package_arns[3], ModelApprovalStatus="Approved")
    unversioned = [
        sm.create_model_package(ModelPackageName=f"pg-package-{i}", InferenceSpecification=spec)[
            "ModelPackageArn"
        ]
        for i in range(3)
    ]
    cases["sagemaker", "ListModelPackageGroups"] = [
        Case({}, _names("ModelPackageGroupSummaryList", "ModelPackageGroupName"), known=set(groups)),
        Case(
            {"NameContains": "pg-group-a-", "SortBy": "Name"},
            _names("ModelPackageGroupSummaryList", "ModelPackageGroupName"),
            expected=set(groups[:2]),
        ),
    ]
    package_names = _names("ModelPackageSummaryList", "ModelPackageArn")
    cases["sagemaker", "ListModelPackages"] = [
        Case({"ModelPackageGroupName": groups[0]}, package_names, expected=set(package_arns)),
        Case(
            {"ModelPackageGroupName": groups[0], "ModelApprovalStatus": "Approved"},
            package_names,
            expected={package_arns[1], package_arns[3]},
        ),
        Case({}, package_names, known=set(unversioned)),
        Case({"ModelPackageType": "Both"}, package_names, known=set(unversioned) | set(package_arns)),
    ]
    actions = [
        sm.create_action(
            ActionName=f"pg-action-{i}",
            ActionType="Deploy" if i < 3 else "Approve",
            Source={"SourceUri": f"s3://pg-objects/action/{i % 2}"},
        )["ActionArn"]
        for i in range(4)
    ]
    action_arns = lambda r: [a["ActionArn"] for a in r["ActionSummaries"]]  # noqa: E731
    cases["sagemaker", "ListActions"] = [
        Case({}, action_arns, known=set(actions)),  # (with the endpoints' ModelDeployment actions)
        Case(
            {"ActionType": "Deploy", "SourceUri": "s3://pg-objects/action/0"},
            action_arns,
            expected={actions[0], actions[2]},
        ),
    ]
    contexts = [
        sm.create_context(
            ContextName=f"pg-context-{i}",
            ContextType="Dataset" if i < 3 else "Project",
            Source={"SourceUri": f"s3://pg-objects/context/{i}"},
        )["ContextArn"]
        for i in range(4)
    ]
    context_arns = lambda r: [c["ContextArn"] for c in r["ContextSummaries"]]  # noqa: E731
    cases["sagemaker", "ListContexts"] = [
        Case({}, context_arns, known=set(contexts)),  # (with the model package groups' contexts)
        Case({"ContextType": "Dataset"}, context_arns, expected=set(contexts[:3])),
        Case(
            {"ContextType": "Endpoint"},
            context_arns,
            known={
                sm.list_contexts(SourceUri=sm.describe_endpoint(EndpointName=e)["EndpointArn"])[
                    "ContextSummaries"
                ][0]["ContextArn"]
                for e in endpoints
            },
        ),
    ]
    # -- Pipelines ------------------------------------------------------------------------------------
    pipe_steps = [
        {
            "Name": f"C{i}",
            "Type": "Condition",
            "Arguments": {"Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 1}]},
        }
        for i in range(3)
    ]
    pipe_params = [{"Name": f"P{i}", "Type": "Integer", "DefaultValue": i} for i in range(3)]
    pipe_definition = json.dumps({"Version": "2020-12-01", "Parameters": pipe_params, "Steps": pipe_steps})
    pipelines = ["pg-pipe-a-1", "pg-pipe-a-2", "pg-pipe-a-3", "pg-pipe-b-1"]
    for name in pipelines:
        sm.create_pipeline(PipelineName=name, RoleArn=ROLE, PipelineDefinition=pipe_definition)
    for _ in range(2):
        sm.update_pipeline(PipelineName="pg-pipe-a-1", PipelineDefinition=pipe_definition)
    runs = [sm.start_pipeline_execution(PipelineName="pg-pipe-a-1")["PipelineExecutionArn"] for _ in range(3)]
    wait_for(
        lambda: all(
            sm.describe_pipeline_execution(PipelineExecutionArn=r)["PipelineExecutionStatus"] == "Succeeded"
            for r in runs
        ),
        60,
        message="pipeline executions",
    )
    pipe_names = _names("PipelineSummaries", "PipelineName")
    cases["sagemaker", "ListPipelines"] = [
        Case({}, pipe_names, expected=set(pipelines)),
        Case({"PipelineNamePrefix": "pg-pipe-a"}, pipe_names, expected=set(pipelines[:3])),
        Case({"SortBy": "Name", "SortOrder": "Ascending"}, pipe_names, expected=set(pipelines)),
    ]
    cases["sagemaker", "ListPipelineVersions"] = [
        Case(
            {"PipelineName": "pg-pipe-a-1"},
            _names("PipelineVersionSummaries", "PipelineVersionId"),
            expected={1, 2, 3},
        )
    ]
    cases["sagemaker", "ListPipelineExecutions"] = [
        Case(
            {"PipelineName": "pg-pipe-a-1"},
            _names("PipelineExecutionSummaries", "PipelineExecutionArn"),
            expected=set(runs),
        ),
        Case(
            {"PipelineName": "pg-pipe-a-2"},
            _names("PipelineExecutionSummaries", "PipelineExecutionArn"),
            expected=set(),
        ),
    ]
    cases["sagemaker", "ListPipelineExecutionSteps"] = [
        Case(
            {"PipelineExecutionArn": runs[0]},
            _names("PipelineExecutionSteps", "StepName"),
            expected={"C0", "C1", "C2"},
        )
    ]
    cases["sagemaker", "ListPipelineParametersForExecution"] = [
        Case(
            {"PipelineExecutionArn": runs[1]},
            _names("PipelineParameters", "Name"),
            expected={"P0", "P1", "P2"},
        )
    ]
    # -- KMS ------------------------------------------------------------------------------------------
    kms = server.client("kms")
    key_ids = [
        kms.create_key(
            Description=f"pg-{i}", Tags=[{"TagKey": f"t{j}", "TagValue": str(j)} for j in range(3)]
        )["KeyMetadata"]["KeyId"]
        for i in range(4)
    ]
    aliases = [f"alias/pg-{i}" for i in range(4)]
    for alias, key_id in zip(aliases, [key_ids[0], key_ids[0], key_ids[0], key_ids[1]]):
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    cases["kms", "ListKeys"] = [Case({}, _names("Keys", "KeyId"), known=set(key_ids))]
    alias_names = _names("Aliases", "AliasName")
    cases["kms", "ListAliases"] = [
        Case({}, alias_names, known=set(aliases)),
        Case({"KeyId": key_ids[0]}, alias_names, expected=set(aliases[:3])),
    ]
    cases["kms", "ListKeyPolicies"] = [
        Case({"KeyId": key_ids[0]}, lambda r: r["PolicyNames"], expected={"default"})
    ]
    cases["kms", "ListResourceTags"] = [
        Case({"KeyId": key_ids[2]}, _names("Tags", "TagKey"), expected={"t0", "t1", "t2"})
    ]

    # -- ECR (repositories: the ones created here, plus any local image of this registry) ------------
    ecr = server.client("ecr")
    repositories = [
        ecr.create_repository(repositoryName=f"pg/repo-{i}")["repository"]["repositoryName"] for i in range(4)
    ]
    cases["ecr", "DescribeRepositories"] = [
        Case({}, _names("repositories", "repositoryName"), known=set(repositories))
    ]

    # -- EC2 (EC2's smallest page is 5 items: a dozen of each kind) -----------------------------------
    ec2 = server.client("ec2")
    vpcs = [
        ec2.create_vpc(
            CidrBlock=f"10.{i}.0.0/16",
            TagSpecifications=[
                {"ResourceType": "vpc", "Tags": [{"Key": "pg", "Value": "even" if i % 2 == 0 else "odd"}]}
            ],
        )["Vpc"]["VpcId"]
        for i in range(12)
    ]
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpcs[0], CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in range(12)
    ]
    groups = [
        ec2.create_security_group(GroupName=f"pg-{i}", Description="pagination", VpcId=vpcs[0])["GroupId"]
        for i in range(12)
    ]
    vpc_ids = _names("Vpcs", "VpcId")
    cases["ec2", "DescribeVpcs"] = [
        Case({}, vpc_ids, known=set(vpcs) | {default_vpc}),
        Case({"Filters": [{"Name": "tag:pg", "Values": ["even"]}]}, vpc_ids, expected=set(vpcs[::2])),
    ]
    cases["ec2", "DescribeSubnets"] = [
        Case({}, _names("Subnets", "SubnetId"), known=set(subnets)),
        Case(
            {"Filters": [{"Name": "vpc-id", "Values": [vpcs[0]]}]},
            _names("Subnets", "SubnetId"),
            expected=set(subnets),
        ),
    ]
    cases["ec2", "DescribeSecurityGroups"] = [
        Case({}, _names("SecurityGroups", "GroupId"), known=set(groups)),
        Case(
            {
                "Filters": [
                    {"Name": "vpc-id", "Values": [vpcs[0]]},
                    {"Name": "group-name", "Values": ["pg-*"]},
                ]
            },
            _names("SecurityGroups", "GroupId"),
            expected=set(groups),
        ),
    ]
    cases["ec2", "DescribeRouteTables"] = [
        Case({}, _names("RouteTables", "RouteTableId"), count=None),
        Case(
            {"Filters": [{"Name": "vpc-id", "Values": vpcs[:6]}]},
            _names("RouteTables", "VpcId"),
            expected=set(vpcs[:6]),
        ),
    ]
    cases["ec2", "DescribeTags"] = [
        Case(
            {"Filters": [{"Name": "key", "Values": ["pg"]}]}, _names("Tags", "ResourceId"), expected=set(vpcs)
        ),
    ]
    cases["ec2", "DescribeVpcEndpoints"] = [Case({}, _names("VpcEndpoints", "VpcEndpointId"), expected=set())]

    # -- SQS, Lambda, EventBridge Scheduler -------------------------------------------------------------
    sqs = server.client("sqs")
    queue_urls = [sqs.create_queue(QueueName=f"pg-{kind}-{i}")["QueueUrl"] for kind in "ab" for i in range(3)]
    cases["sqs", "ListQueues"] = [
        Case({}, lambda r: r.get("QueueUrls") or [], expected=set(queue_urls)),
        Case({"QueueNamePrefix": "pg-a"}, lambda r: r.get("QueueUrls") or [], expected=set(queue_urls[:3])),
    ]
    lam = server.client("lambda")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    function_names = [f"pg-fn-{i}" for i in range(3)]
    for name in function_names:
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": package.getvalue()},
        )
    cases["lambda", "ListFunctions"] = [
        Case({}, _names("Functions", "FunctionName"), expected=set(function_names))
    ]
    lam.get_waiter("function_active_v2").wait(FunctionName="pg-fn-0", WaiterConfig={"Delay": 1})
    for i in range(3):
        lam.update_function_configuration(FunctionName="pg-fn-0", Description=f"v{i}", Timeout=10 + i)
        lam.get_waiter("function_updated_v2").wait(FunctionName="pg-fn-0", WaiterConfig={"Delay": 1})
        lam.publish_version(FunctionName="pg-fn-0")
    cases["lambda", "ListVersionsByFunction"] = [
        Case({"FunctionName": "pg-fn-0"}, _names("Versions", "Version"), expected={"$LATEST", "1", "2", "3"})
    ]
    scheduler = server.client("scheduler")
    scheduler.create_schedule_group(Name="pg-group")
    target = {"Arn": "arn:aws:sqs:us-east-1:000000000000:pg-a-0", "RoleArn": ROLE}
    schedule_names = []
    for i in range(6):
        name = f"pg-{'on' if i % 2 == 0 else 'off'}-{i}"
        scheduler.create_schedule(
            Name=name,
            GroupName="pg-group" if i < 3 else "default",
            ScheduleExpression="rate(1 day)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=target,
            State="ENABLED" if i % 2 == 0 else "DISABLED",
        )
        schedule_names.append(name)
    cases["scheduler", "ListSchedules"] = [
        Case({}, _names("Schedules", "Name"), expected=set(schedule_names)),
        Case({"GroupName": "pg-group"}, _names("Schedules", "Name"), expected=set(schedule_names[:3])),
        Case({"State": "DISABLED"}, _names("Schedules", "Name"), expected=set(schedule_names[1::2])),
        Case({"NamePrefix": "pg-on"}, _names("Schedules", "Name"), expected=set(schedule_names[::2])),
    ]
    for i in range(3):
        scheduler.create_schedule_group(Name=f"pg-more-{i}")
    cases["scheduler", "ListScheduleGroups"] = [
        Case(
            {},
            _names("ScheduleGroups", "Name"),
            expected={"default", "pg-group"} | {f"pg-more-{i}" for i in range(3)},
        ),
        Case(
            {"NamePrefix": "pg-more"},
            _names("ScheduleGroups", "Name"),
            expected={f"pg-more-{i}" for i in range(3)},
        ),
    ]
    return cases


def _page_settings(client, operation: str) -> tuple[dict | None, int | None]:
    """The operation's paginator config and the smallest page its model allows."""
    model = client.meta.service_model.operation_model(operation)
    try:
        config = (
            botocore.session.get_session()
            .get_paginator_model(client.meta.service_model.service_name)
            .get_paginator(operation)
        )
    except ValueError:
        config = None
    limit_key = (config or {}).get("limit_key") or next(
        (m for m in ("limit", "MaxResults", "MaxItems") if m in model.input_shape.members), None
    )
    if limit_key is None:
        return config, None
    return config, max(1, int(model.input_shape.members[limit_key].metadata.get("min", 1)))


def _pages(client, operation: str, case: Case, size: int | None) -> list[dict]:
    method = client.meta.method_to_api_mapping
    python_name = next(name for name, api in method.items() if api == operation)
    if operation == "GetLogEvents":  # no paginator: follow nextForwardToken until it comes back unchanged
        pages, token = [], None
        while True:
            params = dict(case.params, limit=size, **({"nextToken": token} if token else {}))
            response = getattr(client, python_name)(**params)
            pages.append(response)
            if response["nextForwardToken"] == token:
                return pages
            token = response["nextForwardToken"]
            assert len(pages) < 100, "GetLogEvents never returned the same forward token"
    paginator = client.get_paginator(python_name)
    config = {"PageSize": size} if size else {}
    return list(paginator.paginate(**case.params, PaginationConfig=config))


def _one_page(client, operation: str, case: Case, config: dict | None) -> list:
    """Everything in one call (the largest page the model allows), as the reference."""
    python_name = next(name for name, api in client.meta.method_to_api_mapping.items() if api == operation)
    params = dict(case.params)
    limit_key = (config or {}).get("limit_key") or ("limit" if operation == "GetLogEvents" else None)
    if limit_key and case.page_size != 0:
        member = client.meta.service_model.operation_model(operation).input_shape.members[limit_key]
        params[limit_key] = int(member.metadata.get("max", 1000))
    response = getattr(client, python_name)(**params)
    output = (config or {}).get("output_token")
    more = (config or {}).get("more_results")
    if more:
        assert not response.get(more), f"{operation}: the reference listing does not fit one page"
    elif output and isinstance(output, str) and "||" not in output:
        assert not response.get(output), f"{operation}: the reference listing does not fit one page"
    return case.items(response)


def test_every_paginated_operation_has_a_case(world):
    operations = paginated_operations()
    assert not SKIPPED - operations, f"skipped but not paginated (or not implemented): {SKIPPED - operations}"
    missing = operations - set(world) - SKIPPED
    assert not missing, f"paginated operations without a case in tests/test_pagination.py: {sorted(missing)}"


@pytest.mark.parametrize(
    "operation", sorted(paginated_operations() - SKIPPED), ids=lambda o: f"{o[0]}.{o[1]}"
)
def test_pages_are_full_complete_and_distinct(server, world, operation):
    service, name = operation
    client = server.client(service)
    config, smallest = _page_settings(client, name)
    for case in world[operation]:
        size = smallest if case.page_size is None else None
        pages = [case.items(page) for page in _pages(client, name, case, size)]
        found = [item for page in pages for item in page]
        where = f"{name}({case.params})"
        assert len(found) == len(set(found)), f"{where}: an item on two pages: {found}"
        full = size or case.full_page
        if name == "GetLogEvents":  # the last page (the repeated token) is empty by design
            pages = pages[:-1] if len(pages) > 1 and not pages[-1] else pages
        for number, page in enumerate(pages[:-1]):
            assert len(page) == full, (
                f"{where}: page {number + 1} of {len(pages)} holds {len(page)} items, "
                f"not {full}: {[len(p) for p in pages]}"
            )
        assert len(pages[-1]) <= (full or len(pages[-1])) and (pages[-1] or len(pages) == 1), (
            f"{where}: last page: {[len(p) for p in pages]}"
        )
        if case.page_size != 0:  # (a server-fixed page size has no one-page reference)
            assert set(found) == set(_one_page(client, name, case, config)), (
                f"{where}: pages differ from one listing"
            )
        if case.expected is not None:
            assert set(found) == case.expected, f"{where}: {sorted(map(str, set(found) ^ case.expected))}"
        assert case.known <= set(found), f"{where}: missing {case.known - set(found)}"
        assert case.count is None or len(found) == case.count, (
            f"{where}: {len(found)} items, not {case.count}"
        )
        if size and case.expected and len(case.expected) > size:
            assert len(pages) > 1, f"{where}: one page of {len(found)} items at page size {size}"
