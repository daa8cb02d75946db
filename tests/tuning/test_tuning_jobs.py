"""Hyperparameter tuning jobs over boto3: validation (nothing created on a bad request), Random
reproducibility, Grid's exact product, script-mode objectives by regex (Minimize and Maximize), Stop,
Delete, listing and the children's summaries."""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest

from helpers import ROLE, SKLEARN_IMAGE, tar_gz, wait_for

#: The objective is a known function of the hyperparameters: (x - 3)^2 + (0 if kind == "b" else 1).
SCRIPT = r"""
import argparse, json, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=0.0)
parser.add_argument("--n", type=int, default=1)
parser.add_argument("--kind", type=str, default="a")
parser.add_argument("--sleep", type=float, default=0.0)
args, _ = parser.parse_known_args()  # SageMaker also passes --_tuning_objective_metric
time.sleep(args.sleep)
loss = (args.x - 3.0) ** 2 + (0.0 if args.kind == "b" else 1.0) + 0.01 * args.n
print(f"epoch loss={loss + 1:.6f}", flush=True)
print(f"epoch loss={loss:.6f}", flush=True)
print(f"score={-loss:.6f}", flush=True)
hps = json.loads(os.environ["SM_HPS"])
print("objective-hp", hps.get("_tuning_objective_metric"), flush=True)
"""

METRICS = [{"Name": "loss", "Regex": r"loss=([-0-9.e]+)"}, {"Name": "score", "Regex": r"score=([-0-9.e]+)"}]


@pytest.fixture(scope="module")
def bucket(server):
    s3 = server.client("s3")
    name = f"tuning-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="data/train/part-0.csv", Body=b"1,2,3\n")
    key = "code/sourcedir.tar.gz"
    s3.put_object(Bucket=name, Key=key, Body=tar_gz({"train.py": SCRIPT.encode()}))
    return name


def _request(
    bucket: str,
    name: str,
    *,
    strategy="Random",
    ranges=None,
    objective=("loss", "Minimize"),
    max_jobs=4,
    parallel=2,
    static=None,
    **config,
) -> dict:
    static_hps = {
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/code/sourcedir.tar.gz"),
    }
    static_hps.update(static or {})
    limits = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    ranges = (
        ranges
        if ranges is not None
        else {
            "ContinuousParameterRanges": [
                {"Name": "x", "MinValue": "0", "MaxValue": "6", "ScalingType": "Linear"}
            ],
            "IntegerParameterRanges": [
                {"Name": "n", "MinValue": "1", "MaxValue": "5", "ScalingType": "Auto"}
            ],
            "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}],
        }
    )
    return dict(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": strategy,
            "ResourceLimits": limits,
            "ParameterRanges": ranges,
            "HyperParameterTuningJobObjective": {"MetricName": objective[0], "Type": objective[1]},
            **config,
        },
        TrainingJobDefinition={
            "StaticHyperParameters": static_hps,
            "AlgorithmSpecification": {
                "TrainingImage": SKLEARN_IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": METRICS,
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
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    )


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _wait(sm, name: str, timeout: float = 240) -> dict:
    def done():
        desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        return desc if desc["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped") else None

    return wait_for(done, timeout, 0.5, f"tuning job {name}")


def _children(sm, name: str, **params) -> list[dict]:
    out, token = [], None
    while True:
        page = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name,
            MaxResults=100,
            **({"NextToken": token} if token else {}),
            **params,
        )
        out.extend(page["TrainingJobSummaries"])
        token = page.get("NextToken")
        if not token:
            return out


def _loss(hps: dict) -> float:
    x, n, kind = float(hps["x"]), int(hps["n"]), hps["kind"]
    return (x - 3.0) ** 2 + (0.0 if kind == "b" else 1.0) + 0.01 * n


BAD_RANGES = [
    (
        {
            "ContinuousParameterRanges": [
                {"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}
            ]
        },
        "Logarithmic scaling",
    ),
    (
        {
            "ContinuousParameterRanges": [
                {"Name": "x", "MinValue": "0.5", "MaxValue": "1", "ScalingType": "ReverseLogarithmic"}
            ]
        },
        "ReverseLogarithmic",
    ),
    (
        {
            "IntegerParameterRanges": [
                {"Name": "n", "MinValue": "1", "MaxValue": "9", "ScalingType": "ReverseLogarithmic"}
            ]
        },
        "only for continuous",
    ),
    ({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "5", "MaxValue": "1"}]}, "less than or equal"),
    ({"IntegerParameterRanges": [{"Name": "n", "MinValue": "1.5", "MaxValue": "3"}]}, "must be an integer"),
    (
        {"CategoricalParameterRanges": [{"Name": "sagemaker_program", "Values": ["a"]}]},
        "both static and tuned",
    ),
]


@pytest.mark.parametrize("ranges,words", BAD_RANGES)
def test_bad_ranges_are_rejected_and_nothing_is_created(server, bucket, ranges, words):
    sm = server.client("sagemaker")
    name = _name("bad")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sm.create_hyper_parameter_tuning_job(**_request(bucket, name, ranges=ranges))
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert words in info.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"
    assert not [j for j in sm.list_training_jobs(NameContains=name)["TrainingJobSummaries"]]


def test_other_validation(server, bucket):
    sm = server.client("sagemaker")
    cases = [
        (
            _request(bucket, _name("v"), objective=("accuracy", "Maximize")),
            "not defined in MetricDefinitions",
        ),
        (
            _request(
                bucket,
                _name("v"),
                strategy="Grid",
                max_jobs=3,
                ranges={
                    "CategoricalParameterRanges": [
                        {"Name": "kind", "Values": ["a", "b"]},
                        {"Name": "x", "Values": ["1", "2"]},
                    ]
                },
            ),
            "must equal the number of distinct hyperparameter combinations (4)",
        ),
        (_request(bucket, _name("v"), strategy="Grid", max_jobs=None), "supports only categorical"),
        (_request(bucket, _name("v"), max_jobs=None), "MaxNumberOfTrainingJobs is required"),
        (
            _request(bucket, _name("v"), StrategyConfig={"HyperbandStrategyConfig": {"MaxResource": 3}}),
            "only with the Hyperband",
        ),
        (_request(bucket, _name("v"), strategy="Hyperband"), "MaxResource parameter is not provided"),
    ]
    for request, words in cases:
        with pytest.raises(botocore.exceptions.ClientError) as info:
            sm.create_hyper_parameter_tuning_job(**request)
        assert info.value.response["Error"]["Code"] == "ValidationException", words
        assert words in info.value.response["Error"]["Message"]


def test_random_search_minimize_by_regex_and_reproducible_seed(server, bucket):
    sm = server.client("sagemaker")
    first, second, other = _name("rnd"), _name("rnd"), _name("rnd")
    for name, seed in ((first, 7), (second, 7), (other, 8)):
        sm.create_hyper_parameter_tuning_job(
            **_request(bucket, name, max_jobs=4, parallel=2, RandomSeed=seed)
        )
    descs = {name: _wait(sm, name) for name in (first, second, other)}
    desc = descs[first]
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["TrainingJobStatusCounters"] == {
        "Completed": 4,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert desc["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    assert desc["ConsumedResources"]["RuntimeInSeconds"] >= 0
    assert desc["HyperParameterTuningEndTime"] >= desc["CreationTime"]
    static = desc["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static["_tuning_objective_metric"] == '"loss"'  # JSON-quoted like the framework's other values
    kids = _children(sm, first)
    assert len(kids) == 4
    for kid in kids:
        assert kid["TrainingJobName"].startswith(first + "-")
        index, suffix = kid["TrainingJobName"][len(first) + 1 :].split("-")
        assert len(index) == 3 and len(suffix) == 8 and int(suffix, 16) >= 0
        tuned = kid["TunedHyperParameters"]
        assert set(tuned) == {"x", "n", "kind"}
        assert 0 <= float(tuned["x"]) <= 6 and 1 <= int(tuned["n"]) <= 5 and tuned["kind"] in ("a", "b")
        metric = kid["FinalHyperParameterTuningJobObjectiveMetric"]
        # the last value the regex matched, not the first
        assert metric["MetricName"] == "loss" and metric["Value"] == pytest.approx(_loss(tuned), abs=1e-5)
        assert kid["ObjectiveStatus"] == "Succeeded"
        train = sm.describe_training_job(TrainingJobName=kid["TrainingJobName"])
        assert train["TuningJobArn"] == desc["HyperParameterTuningJobArn"]
        final = {m["MetricName"]: m["Value"] for m in train["FinalMetricDataList"]}
        assert final["loss"] == pytest.approx(metric["Value"])
        assert train["HyperParameters"]["_tuning_objective_metric"] == '"loss"'
    best = min(kids, key=lambda k: k["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert desc["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    # the same seed gives the same children (in launch order); another seed, others
    values = {
        name: [
            k["TunedHyperParameters"] for k in sorted(_children(sm, name), key=lambda k: k["TrainingJobName"])
        ]
        for name in (first, second, other)
    }
    assert values[first] == values[second]
    assert values[first] != values[other]
    # sorted by objective, ascending and descending
    by_value = _children(sm, first, SortBy="FinalObjectiveMetricValue", SortOrder="Ascending")
    assert [k["TrainingJobName"] for k in by_value] == [
        k["TrainingJobName"]
        for k in sorted(kids, key=lambda k: k["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    ]
    down = _children(sm, first, SortBy="FinalObjectiveMetricValue", SortOrder="Descending")
    assert [k["TrainingJobName"] for k in down] == [k["TrainingJobName"] for k in reversed(by_value)]
    assert len(_children(sm, first, StatusEquals="Completed")) == 4
    assert _children(sm, first, StatusEquals="Failed") == []


def test_grid_runs_every_combination_once_and_maximizes(server, bucket):
    sm = server.client("sagemaker")
    name = _name("grid")
    ranges = {
        "CategoricalParameterRanges": [
            {"Name": "x", "Values": ["1", "3", "4"]},
            {"Name": "kind", "Values": ["a", "b"]},
        ]
    }
    sm.create_hyper_parameter_tuning_job(
        **_request(
            bucket,
            name,
            strategy="Grid",
            ranges=ranges,
            max_jobs=None,
            parallel=3,
            objective=("score", "Maximize"),
        )
    )
    desc = _wait(sm, name)
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 6
    kids = _children(sm, name)
    combos = sorted((k["TunedHyperParameters"]["x"], k["TunedHyperParameters"]["kind"]) for k in kids)
    assert combos == sorted((x, kind) for x in ("1", "3", "4") for kind in ("a", "b"))
    best = desc["BestTrainingJob"]
    assert best["TunedHyperParameters"] == {"x": "3", "kind": "b"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(-0.01)
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Type"] == "Maximize"


def test_bayesian_finds_a_good_point(server, bucket):
    sm = server.client("sagemaker")
    name = _name("bayes")
    sm.create_hyper_parameter_tuning_job(
        **_request(bucket, name, strategy="Bayesian", max_jobs=6, parallel=2, RandomSeed=3)
    )
    desc = _wait(sm, name)
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    kids = _children(sm, name)
    assert len(kids) == 6
    values = [k["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for k in kids]
    assert desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == min(values)


def test_stop_stops_running_children_and_delete(server, bucket):
    sm = server.client("sagemaker")
    name = _name("stop")
    sm.create_hyper_parameter_tuning_job(
        **_request(bucket, name, max_jobs=6, parallel=2, static={"sleep": "60"})
    )
    wait_for(
        lambda: len([k for k in _children(sm, name) if k["TrainingJobStatus"] == "InProgress"]) == 2,
        60,
        0.3,
        "two running children",
    )
    with pytest.raises(botocore.exceptions.ClientError) as busy:
        sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert busy.value.response["Error"]["Code"] == "ValidationException"
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert (
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
            "HyperParameterTuningJobStatus"
        ]
        == "Stopping"
    )
    desc = _wait(sm, name, 90)
    assert desc["HyperParameterTuningJobStatus"] == "Stopped"
    kids = _children(sm, name)
    assert len(kids) == 2 and all(k["TrainingJobStatus"] == "Stopped" for k in kids)
    assert desc["TrainingJobStatusCounters"]["Stopped"] == 2
    with pytest.raises(botocore.exceptions.ClientError) as again:
        sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert again.value.response["Error"]["Code"] == "ValidationException"
    sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    with pytest.raises(botocore.exceptions.ClientError) as gone:
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFound"
    # the children stay
    assert (
        sm.describe_training_job(TrainingJobName=kids[0]["TrainingJobName"])["TrainingJobStatus"] == "Stopped"
    )


def test_failing_children_fail_the_tuning_job(server, bucket):
    sm = server.client("sagemaker")
    name = _name("fail")
    request = _request(bucket, name, max_jobs=5, parallel=1)
    request["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_program"] = '"missing.py"'
    sm.create_hyper_parameter_tuning_job(**request)
    desc = _wait(sm, name)
    assert desc["HyperParameterTuningJobStatus"] == "Failed"
    assert desc["TrainingJobStatusCounters"]["NonRetryableError"] == 3
    assert desc["ObjectiveStatusCounters"]["Failed"] == 3
    assert "3 training jobs failed" in desc["FailureReason"]
    assert "BestTrainingJob" not in desc


def test_list_tuning_jobs_filters_and_sorts(server, bucket):
    sm = server.client("sagemaker")
    tag = uuid.uuid4().hex[:5]
    names = [f"lst{tag}-{i}" for i in range(3)]
    for name in names:
        sm.create_hyper_parameter_tuning_job(
            **_request(bucket, name, max_jobs=1, parallel=1), Tags=[{"Key": "team", "Value": "t"}]
        )
    page = sm.list_hyper_parameter_tuning_jobs(NameContains=f"lst{tag}")
    summaries = page["HyperParameterTuningJobSummaries"]
    assert [s["HyperParameterTuningJobName"] for s in summaries] == names  # default: Name, Ascending
    assert summaries[0]["Strategy"] == "Random"
    assert summaries[0]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 1
    down = sm.list_hyper_parameter_tuning_jobs(
        NameContains=f"lst{tag}", SortBy="CreationTime", SortOrder="Descending", MaxResults=2
    )
    assert [s["HyperParameterTuningJobName"] for s in down["HyperParameterTuningJobSummaries"]] == names[
        :0:-1
    ]
    assert "NextToken" in down
    arn = summaries[0]["HyperParameterTuningJobArn"]
    assert {"Key": "team", "Value": "t"} in sm.list_tags(ResourceArn=arn)["Tags"]
    for name in names:
        _wait(sm, name)
    kid = _children(sm, names[0])[0]
    child_arn = sm.describe_training_job(TrainingJobName=kid["TrainingJobName"])["TrainingJobArn"]
    assert {"Key": "team", "Value": "t"} in sm.list_tags(ResourceArn=child_arn)["Tags"]
    with pytest.raises(botocore.exceptions.ClientError) as dup:
        sm.create_hyper_parameter_tuning_job(**_request(bucket, names[0], max_jobs=1, parallel=1))
    assert dup.value.response["Error"]["Code"] == "ResourceInUse"
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="nope-" + tag)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"


def test_server_restart_resumes_the_tuning_job(fresh_server):
    server = fresh_server
    s3 = server.client("s3")
    s3.create_bucket(Bucket="restart")
    s3.put_object(Bucket="restart", Key="data/train/part-0.csv", Body=b"1,2,3\n")
    s3.put_object(Bucket="restart", Key="code/sourcedir.tar.gz", Body=tar_gz({"train.py": SCRIPT.encode()}))
    sm = server.client("sagemaker")
    name = _name("restart")
    sm.create_hyper_parameter_tuning_job(
        **_request(
            "restart",
            name,
            strategy="Bayesian",
            max_jobs=5,
            parallel=1,
            static={"sleep": "1.5"},
            RandomSeed=1,
        )
    )
    wait_for(
        lambda: sum(k["TrainingJobStatus"] == "Completed" for k in _children(sm, name)) >= 2,
        90,
        0.3,
        "two finished children",
    )
    server.restart(sig="KILL")  # one child was probably running: it fails as interrupted; the rest go on
    sm = server.client("sagemaker")
    desc = _wait(sm, name, 120)
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    kids = _children(sm, name)
    assert len(kids) == 5
    counters = desc["TrainingJobStatusCounters"]
    assert counters["Completed"] + counters["RetryableError"] == 5
    assert counters["Completed"] >= 4
    indexes = sorted(k["TrainingJobName"][len(name) + 1 :].split("-")[0] for k in kids)
    assert indexes == ["001", "002", "003", "004", "005"]
    for kid in kids:
        if kid["TrainingJobStatus"] == "Failed":
            assert kid["ObjectiveStatus"] == "Failed" and "server stopped" in kid["FailureReason"]


def test_target_objective_ends_the_search_early(server, bucket):
    sm = server.client("sagemaker")
    name = _name("target")
    ranges = {
        "CategoricalParameterRanges": [
            {"Name": "x", "Values": ["3", "0", "1", "2", "5", "6"]},
            {"Name": "kind", "Values": ["b"]},
        ]
    }
    sm.create_hyper_parameter_tuning_job(
        **_request(
            bucket,
            name,
            strategy="Grid",
            ranges=ranges,
            max_jobs=None,
            parallel=1,
            TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 0.5},
        )
    )
    desc = _wait(sm, name)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    kids = _children(sm, name)
    assert len(kids) < 6  # the first child (x=3) reached the target
    assert desc["BestTrainingJob"]["TunedHyperParameters"]["x"] == "3"


def test_multi_algorithm_definitions_and_warm_start(server, bucket):
    sm = server.client("sagemaker")
    parent = _name("parent")
    sm.create_hyper_parameter_tuning_job(**_request(bucket, parent, max_jobs=3, parallel=3, RandomSeed=5))
    single = _request(bucket, "unused")["TrainingJobDefinition"]
    ranges = _request(bucket, "unused")["HyperParameterTuningJobConfig"]["ParameterRanges"]
    multi = _name("multi")
    definitions = []
    for label, objective in (
        ("loss-def", {"MetricName": "loss", "Type": "Minimize"}),
        ("score-def", {"MetricName": "score", "Type": "Maximize"}),
    ):
        definitions.append(
            {**single, "DefinitionName": label, "TuningObjective": objective, "HyperParameterRanges": ranges}
        )
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=multi,
        TrainingJobDefinitions=definitions,
        HyperParameterTuningJobConfig={
            "Strategy": "Random",
            "RandomSeed": 2,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
        },
    )
    desc = _wait(sm, multi)
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    kids = _children(sm, multi)
    assert sorted(k["TrainingJobDefinitionName"] for k in kids) == [
        "loss-def",
        "loss-def",
        "score-def",
        "score-def",
    ]
    for kid in kids:
        metric = kid["FinalHyperParameterTuningJobObjectiveMetric"]
        assert metric["MetricName"] == ("loss" if kid["TrainingJobDefinitionName"] == "loss-def" else "score")
    assert desc["BestTrainingJob"]["TrainingJobDefinitionName"] in ("loss-def", "score-def")
    assert "HyperParameterTuningJobObjective" not in desc["HyperParameterTuningJobConfig"]

    # warm start: the parent must have ended; then its best counts toward OverallBestTrainingJob
    child = _name("warm")
    warm = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    parent_desc = _wait(sm, parent)
    sm.create_hyper_parameter_tuning_job(
        **_request(bucket, child, strategy="Bayesian", max_jobs=2, parallel=1), WarmStartConfig=warm
    )
    desc = _wait(sm, child)
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["WarmStartConfig"] == warm
    assert len(_children(sm, child)) == 2  # the parent's children are not listed here
    overall = desc["OverallBestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert overall == min(
        parent_desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
        desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
    )
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        sm.create_hyper_parameter_tuning_job(
            **_request(bucket, _name("warm"), max_jobs=1, parallel=1),
            WarmStartConfig={
                **warm,
                "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "no-such-parent"}],
            },
        )
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"


EPOCH_SCRIPT = r"""
import argparse, time
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=0.0)
parser.add_argument("--epochs", type=int, default=8)
parser.add_argument("--step", type=float, default=0.35)
args, _ = parser.parse_known_args()
for epoch in range(args.epochs):
    time.sleep(args.step)
    print(f"epoch {epoch} loss={(args.x - 3.0) ** 2 + 1.0 / (epoch + 1):.6f}", flush=True)
"""


def _epoch_request(server, bucket: str, name: str, **kwargs) -> dict:
    server.client("s3").put_object(
        Bucket=bucket, Key="code/epochs.tar.gz", Body=tar_gz({"train.py": EPOCH_SCRIPT.encode()})
    )
    request = _request(bucket, name, **kwargs)
    static = request["TrainingJobDefinition"]["StaticHyperParameters"]
    static["sagemaker_submit_directory"] = json.dumps(f"s3://{bucket}/code/epochs.tar.gz")
    return request


def test_early_stopping_auto_stops_children_worse_than_the_median(server, bucket):
    sm = server.client("sagemaker")
    name = _name("early")
    ranges = {"CategoricalParameterRanges": [{"Name": "x", "Values": ["3", "3.1", "2.9", "2.8", "9", "-3"]}]}
    sm.create_hyper_parameter_tuning_job(
        **_epoch_request(
            server,
            bucket,
            name,
            strategy="Grid",
            ranges=ranges,
            max_jobs=None,
            parallel=1,
            TrainingJobEarlyStoppingType="Auto",
        )
    )
    desc = _wait(sm, name, 180)
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Auto"
    kids = {k["TunedHyperParameters"]["x"]: k for k in _children(sm, name)}
    for x in ("3", "3.1", "2.9"):  # the first three have no references: they run to the end
        assert kids[x]["TrainingJobStatus"] == "Completed"
    for x in ("9", "-3"):  # far worse than the median of the others at every epoch
        assert kids[x]["TrainingJobStatus"] == "Stopped"
        assert kids[x]["ObjectiveStatus"] == "Succeeded"
        assert kids[x]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] > 30
    assert desc["TrainingJobStatusCounters"]["Stopped"] >= 2
    assert desc["BestTrainingJob"]["TunedHyperParameters"]["x"] == "3"
    # each epoch's value is in the metric store (CloudWatch), where the stopping rule read it
    metrics = server.client("cloudwatch").list_metrics(
        Namespace="/aws/sagemaker/TrainingJobs", MetricName="loss"
    )
    hosts = {d["Value"] for m in metrics["Metrics"] for d in m["Dimensions"] if d["Name"] == "Host"}
    assert f"{kids['9']['TrainingJobName']}/algo-1" in hosts


def test_hyperband_stops_children_at_max_resource_and_at_rungs(server, bucket):
    sm = server.client("sagemaker")
    name = _name("hyper")
    sm.create_hyper_parameter_tuning_job(
        **_epoch_request(
            server,
            bucket,
            name,
            strategy="Hyperband",
            max_jobs=6,
            parallel=2,
            static={"epochs": "30", "step": "0.3"},
            StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 2, "MaxResource": 6}},
            RandomSeed=4,
        )
    )
    desc = _wait(sm, name, 180)
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    kids = _children(sm, name)
    assert len(kids) == 6
    assert all(k["TrainingJobStatus"] == "Stopped" for k in kids)  # none may run past MaxResource epochs
    assert all(k["ObjectiveStatus"] == "Succeeded" for k in kids)
    logs = server.client("logs")
    for kid in kids:
        streams = logs.describe_log_streams(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=kid["TrainingJobName"]
        )["logStreams"]
        lines = [
            e["message"]
            for s in streams
            for e in logs.get_log_events(
                logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=s["logStreamName"]
            )["events"]
        ]
        assert sum("loss=" in line for line in lines) < 20  # stopped long before its 30 epochs
