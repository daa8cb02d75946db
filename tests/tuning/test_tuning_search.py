"""The search space and strategies, and the reconciler's end criteria, without a server."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from sagestack.domain import tuning_search
from sagestack.domain.tuning_search import Param, parse_ranges
from sagestack.protocol.errors import ServiceError
from sagestack.reconcilers.tuning import TuningReconciler
from sagestack.store.resources import Resource

RANGES = {
    "IntegerParameterRanges": [{"Name": "depth", "MinValue": "1", "MaxValue": "1000", "ScalingType": "Auto"}],
    "ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {"Name": "momentum", "MinValue": "0.9", "MaxValue": "0.9999", "ScalingType": "ReverseLogarithmic"},
        {"Name": "frac", "MinValue": "0.2", "MaxValue": "0.4", "ScalingType": "Linear"},
    ],
    "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
}


def test_auto_scaling_and_values_stay_in_range():
    params = {p.name: p for p in parse_ranges(RANGES, "Random")}
    assert params["depth"].scaling == "Logarithmic"  # Auto over a wide positive range
    assert params["frac"].scaling == "Linear"
    points = [tuning_search.random_point(list(params.values()), 3, i) for i in range(400)]
    depths = [int(p["depth"]) for p in points]
    assert min(depths) >= 1 and max(depths) <= 1000
    assert sum(d < 32 for d in depths) > 150  # log-uniform: about half below sqrt(1000)
    momenta = [float(p["momentum"]) for p in points]
    assert all(0.9 <= m <= 0.9999 for m in momenta)
    assert sum(m > 0.99 for m in momenta) > 150  # reverse-log: dense near 1
    assert {p["booster"] for p in points} == {"gbtree", "dart"}
    assert all(0.2 <= float(p["frac"]) <= 0.4 and repr(float(p["frac"])) == p["frac"] for p in points)
    assert tuning_search.random_point(list(params.values()), 3, 7) == points[7]  # reproducible


def test_grid_enumerates_the_product_in_order():
    params = parse_ranges(
        {
            "CategoricalParameterRanges": [
                {"Name": "a", "Values": ["1", "2"]},
                {"Name": "b", "Values": ["x", "y", "z"]},
            ]
        },
        "Grid",
    )
    assert tuning_search.grid_size(params) == 6
    assert [tuning_search.grid_point(params, i) for i in range(6)] == [
        {"a": a, "b": b} for a in ("1", "2") for b in ("x", "y", "z")
    ]


def test_bayesian_moves_toward_the_optimum():
    params = [Param("x", "Continuous", 0.0, 10.0, "Linear")]
    finished = [({"x": repr(x)}, (x - 7.0) ** 2) for x in (0.5, 2.0, 4.0, 9.5, 6.5, 7.5)]
    proposals = [
        float(tuning_search.bayesian_point(params, 1, i, False, 20, finished, [])["x"]) for i in range(10)
    ]
    assert sum(abs(p - 7.0) < 2.0 for p in proposals) >= 6


@pytest.mark.parametrize(
    "ranges",
    [
        {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "inf", "MaxValue": "1"}]},
        {
            "ContinuousParameterRanges": [
                {"Name": "x", "MinValue": "-1", "MaxValue": "1", "ScalingType": "Logarithmic"}
            ]
        },
        {"IntegerParameterRanges": [{"Name": "x", "MinValue": "a", "MaxValue": "1"}]},
        {"CategoricalParameterRanges": [{"Name": "x", "Values": ["a", "a"]}]},
        {
            "IntegerParameterRanges": [{"Name": "x", "MinValue": "1", "MaxValue": "2"}],
            "CategoricalParameterRanges": [{"Name": "x", "Values": ["a"]}],
        },
    ],
)
def test_invalid_ranges(ranges):
    with pytest.raises(ServiceError) as info:
        parse_ranges(ranges, "Random")
    assert info.value.code == "ValidationException"


def _job(created: dt.datetime, limits: dict) -> Resource:
    data = {
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "ResourceLimits": limits,
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
        },
        "TrainingJobDefinition": {},
        "CreationTime": created,
        "_ChildKey": "k",
    }
    return Resource(
        "000000000000",
        "us-east-1",
        "hyper-parameter-tuning-job",
        "t",
        "arn",
        "InProgress",
        created.timestamp(),
        created.timestamp(),
        None,
        data,
        1,
    )


def _child(status: str, value: float | None = None, reason: str | None = None) -> Resource:
    data = {
        "_Tuning": {"Objective": {"Type": "Minimize", "MetricName": "loss"}},
        "CreationTime": dt.datetime.now(),
        "TrainingJobStatus": status,
    }
    if value is not None:
        data["_ObjectiveValue"] = value
    if reason:
        data["FailureReason"] = reason
    return Resource("000000000000", "us-east-1", "training-job", "c", "arn", status, 0, 0, "k", data, 1)


def test_end_criteria():
    now = dt.datetime.now(dt.timezone.utc)
    reconciler = TuningReconciler.__new__(TuningReconciler)
    limits = {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2, "MaxRuntimeInSeconds": 120}
    running = [_child("InProgress")]
    assert reconciler._criterion(_job(now, limits), running, running) is None
    old = _job(now - dt.timedelta(seconds=121), limits)
    assert reconciler._criterion(old, running, running) == ("Completed", {})
    failed = [_child("Failed", reason="AlgorithmError: boom")] * 3
    status, extra = reconciler._criterion(_job(now, limits), failed, [])
    assert status == "Failed" and "3 training jobs failed" in extra["FailureReason"]
    mixed = failed + [_child("Completed", 1.0)]
    assert reconciler._criterion(_job(now, limits), mixed, []) is None  # one succeeded: failures tolerated
    done = [_child("Completed", float(i)) for i in range(10)]
    assert reconciler._criterion(_job(now, limits), done, []) == ("Completed", {})
    assert math.isclose(min(c.data["_ObjectiveValue"] for c in done), 0.0)
