"""CloudWatch metrics over HTTP: boto3's CBOR client, the JSON 1.0 variant, the AWS CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def cw(server):
    return server.client("cloudwatch")


def unique_ns() -> str:
    return f"Test/{uuid.uuid4().hex[:10]}"


def minute_ago() -> dt.datetime:
    """A timestamp in the middle of the previous minute (stable 60 s buckets)."""
    now = dt.datetime.now(UTC).replace(second=0, microsecond=0)
    return now - dt.timedelta(seconds=30)


def code_of(info) -> str:
    return info.value.response["Error"]["Code"]


def test_put_and_get_statistics(cw):
    ns, ts = unique_ns(), minute_ago()
    dims = [{"Name": "Host", "Value": "a"}]
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "Value": 10,
                "Unit": "Milliseconds",
                "Timestamp": ts,
            },
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "Values": [1, 2, 100],
                "Counts": [1, 2, 1],
                "Unit": "Milliseconds",
                "Timestamp": ts,
            },
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "StorageResolution": 1,
                "Timestamp": ts,
                "StatisticValues": {"SampleCount": 2, "Sum": 30, "Minimum": 5, "Maximum": 25},
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "Dimensions": [{"Name": "Host", "Value": "b"}],
                "Value": 999,
                "Timestamp": ts,
            },
        ],
    )
    out = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Latency",
        Dimensions=dims,
        StartTime=ts - dt.timedelta(minutes=5),
        EndTime=ts + dt.timedelta(minutes=5),
        Period=60,
        Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"],
    )
    assert out["Label"] == "Latency"
    (point,) = out["Datapoints"]
    assert point["SampleCount"] == 7 and point["Sum"] == 10 + 1 + 4 + 100 + 30
    assert point["Minimum"] == 1 and point["Maximum"] == 100
    assert point["Average"] == pytest.approx(145 / 7)
    assert point["Unit"] == "Milliseconds"
    assert point["Timestamp"] == ts.replace(second=0)
    # percentiles from single values (StatisticValues cannot contribute)
    pct = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Latency",
        Dimensions=dims,
        StartTime=ts - dt.timedelta(minutes=5),
        EndTime=ts + dt.timedelta(minutes=5),
        Period=60,
        ExtendedStatistics=["p50", "p99"],
    )
    assert pct["Datapoints"][0]["ExtendedStatistics"] == {"p50": 2.0, "p99": 100.0}
    # a unit filter that matches nothing, and a dimension set that differs, give no data
    assert (
        cw.get_metric_statistics(
            Namespace=ns,
            MetricName="Latency",
            Dimensions=dims,
            StartTime=ts - dt.timedelta(minutes=5),
            EndTime=ts + dt.timedelta(minutes=5),
            Period=60,
            Statistics=["Sum"],
            Unit="Seconds",
        )["Datapoints"]
        == []
    )
    assert (
        cw.get_metric_statistics(
            Namespace=ns,
            MetricName="Latency",
            StartTime=ts - dt.timedelta(minutes=5),
            EndTime=ts + dt.timedelta(minutes=5),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        == []
    )


def test_high_resolution_periods(cw):
    ns = unique_ns()
    base = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(seconds=60)
    base = base - dt.timedelta(seconds=base.second % 10)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "Hits",
                "Value": float(i),
                "StorageResolution": 1,
                "Timestamp": base + dt.timedelta(seconds=i),
            }
            for i in range(30)
        ],
    )
    out = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Hits",
        StartTime=base,
        EndTime=base + dt.timedelta(seconds=30),
        Period=10,
        Statistics=["Sum", "SampleCount"],
    )
    points = sorted(out["Datapoints"], key=lambda p: p["Timestamp"])
    assert [p["Sum"] for p in points] == [45.0, 145.0, 245.0]
    assert [p["SampleCount"] for p in points] == [10.0, 10.0, 10.0]


def test_list_metrics_filters_and_pages(cw):
    ns = unique_ns()
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": "e1"},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Value": 1,
            },
            {
                "MetricName": "Invocations",
                "Dimensions": [{"Name": "EndpointName", "Value": "e2"}],
                "Value": 1,
            },
            {
                "MetricName": "ModelLatency",
                "Dimensions": [{"Name": "EndpointName", "Value": "e1"}],
                "Value": 5,
            },
        ],
    )
    everything = cw.list_metrics(Namespace=ns)["Metrics"]
    assert len(everything) == 3 and all(m["Namespace"] == ns for m in everything)
    assert {"Name": "VariantName", "Value": "AllTraffic"} in everything[0]["Dimensions"]
    assert len(cw.list_metrics(Namespace=ns, MetricName="Invocations")["Metrics"]) == 2
    by_value = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "EndpointName", "Value": "e1"}])
    assert {m["MetricName"] for m in by_value["Metrics"]} == {"Invocations", "ModelLatency"}
    by_name = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "VariantName"}])["Metrics"]
    assert [m["MetricName"] for m in by_name] == ["Invocations"]
    assert len(cw.list_metrics(Namespace=ns, RecentlyActive="PT3H")["Metrics"]) == 3

    many = unique_ns()
    cw.put_metric_data(
        Namespace=many, MetricData=[{"MetricName": f"m{i:03d}", "Value": 1} for i in range(501)]
    )
    first = cw.list_metrics(Namespace=many)
    assert len(first["Metrics"]) == 500 and first["NextToken"]
    second = cw.list_metrics(Namespace=many, NextToken=first["NextToken"])
    assert len(second["Metrics"]) == 1 and "NextToken" not in second
    names = {m["MetricName"] for m in first["Metrics"] + second["Metrics"]}
    assert len(names) == 501


def test_get_metric_data_with_math_and_paging(cw):
    ns = unique_ns()
    start = dt.datetime.now(UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=5)
    data = []
    for minute in range(4):
        ts = start + dt.timedelta(minutes=minute, seconds=5)
        data.append({"MetricName": "Errors", "Value": float(minute), "Timestamp": ts})
        data.append({"MetricName": "Requests", "Value": 10.0, "Timestamp": ts})
    cw.put_metric_data(Namespace=ns, MetricData=data)

    def stat(name):
        return {"Metric": {"Namespace": ns, "MetricName": name}, "Period": 60, "Stat": "Sum"}

    queries = [
        {"Id": "errors", "MetricStat": stat("Errors"), "ReturnData": False},
        {"Id": "requests", "MetricStat": stat("Requests"), "ReturnData": False},
        {"Id": "rate", "Expression": "100 * errors / requests", "Label": "Error rate"},
        {"Id": "total", "Expression": "SUM([errors, requests])"},
    ]
    out = cw.get_metric_data(
        MetricDataQueries=queries,
        StartTime=start,
        EndTime=start + dt.timedelta(minutes=5),
        ScanBy="TimestampAscending",
    )
    results = {r["Id"]: r for r in out["MetricDataResults"]}
    assert set(results) == {"rate", "total"}
    assert results["rate"]["Label"] == "Error rate" and results["rate"]["StatusCode"] == "Complete"
    assert results["rate"]["Values"] == [0.0, 10.0, 20.0, 30.0]
    assert results["total"]["Values"] == [10.0, 11.0, 12.0, 13.0]
    assert results["rate"]["Timestamps"][0] == start
    newest_first = cw.get_metric_data(
        MetricDataQueries=[{"Id": "e", "MetricStat": stat("Errors")}],
        StartTime=start,
        EndTime=start + dt.timedelta(minutes=5),
    )
    assert newest_first["MetricDataResults"][0]["Values"] == [3.0, 2.0, 1.0, 0.0]
    # pagination by MaxDatapoints through the paginator
    pages = list(
        cw.get_paginator("get_metric_data").paginate(
            MetricDataQueries=[{"Id": "e", "MetricStat": stat("Errors")}],
            StartTime=start,
            EndTime=start + dt.timedelta(minutes=5),
            MaxDatapoints=3,
            ScanBy="TimestampAscending",
        )
    )
    values = [v for p in pages for r in p["MetricDataResults"] for v in r["Values"]]
    assert len(pages) == 2 and values == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(ClientError) as info:
        cw.get_metric_data(
            MetricDataQueries=[{"Id": "x", "Expression": "nosuch * 2"}],
            StartTime=start,
            EndTime=start + dt.timedelta(minutes=5),
        )
    assert code_of(info) == "ValidationError"


@pytest.mark.parametrize(
    "datum,code",
    [
        ({"MetricName": "m", "Value": 1, "Values": [1]}, "InvalidParameterCombination"),
        ({"MetricName": "m"}, "MissingParameter"),
        ({"MetricName": "m", "Values": [1, 2], "Counts": [1]}, "InvalidParameterValue"),
        ({"MetricName": "m", "Value": float("nan")}, "InvalidParameterValue"),
        ({"MetricName": "m", "Value": 1, "StorageResolution": 5}, "InvalidParameterValue"),
        (
            {"MetricName": "m", "Value": 1, "Timestamp": dt.datetime.now(UTC) + dt.timedelta(hours=3)},
            "InvalidParameterValue",
        ),
        (
            {"MetricName": "m", "Value": 1, "Timestamp": dt.datetime.now(UTC) - dt.timedelta(days=15)},
            "InvalidParameterValue",
        ),
    ],
)
def test_put_metric_data_rejects_bad_input(cw, datum, code):
    with pytest.raises(ClientError) as info:
        cw.put_metric_data(Namespace=unique_ns(), MetricData=[datum])
    assert code_of(info) == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_statistics_rejects_bad_input(cw):
    now = dt.datetime.now(UTC)
    base = dict(Namespace="X", MetricName="m", StartTime=now - dt.timedelta(hours=1), EndTime=now)
    cases = [
        (dict(base, Period=60), "MissingParameter"),
        (
            dict(base, Period=60, Statistics=["Sum"], ExtendedStatistics=["p90"]),
            "InvalidParameterCombination",
        ),
        (dict(base, Period=7, Statistics=["Sum"]), "InvalidParameterValue"),
        (dict(base, Period=60, ExtendedStatistics=["median"]), "InvalidParameterValue"),
        (dict(base, Period=1, Statistics=["Sum"]), "InvalidParameterCombination"),  # 3600 points
        (dict(base, Period=60, Statistics=["Sum"], StartTime=now, EndTime=now), "InvalidParameterValue"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as info:
            cw.get_metric_statistics(**kwargs)
        assert code_of(info) == code, kwargs
    with pytest.raises(ClientError) as info:
        cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{"MetricName": "m", "Value": 1}])
    assert code_of(info) == "InvalidParameterValue"


def test_errors_map_to_modeled_exceptions(cw):
    with pytest.raises(cw.exceptions.ResourceNotFound):
        cw.set_alarm_state(AlarmName=f"missing-{uuid.uuid4().hex}", StateValue="OK", StateReason="x")
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=[{"MetricName": "m", "Value": 1}])
    with pytest.raises(cw.exceptions.InvalidNextToken):
        cw.describe_alarms(NextToken="not-a-token")


def _signed_json_request(server, operation: str, body: dict) -> tuple[int, dict, dict]:
    """The awsJson1_0 variant (``X-Amz-Target``) that non-boto clients use."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret = server.credentials()
    request = AWSRequest(
        method="POST",
        url=server.url + "/",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"GraniteServiceVersion20100801.{operation}",
        },
    )
    SigV4Auth(Credentials(key, secret), "monitoring", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(
        request.url, data=request.body, method="POST", headers=dict(request.headers.items())
    )
    try:
        with urllib.request.urlopen(prepared, timeout=30) as resp:
            return (
                resp.status,
                {k.lower(): v for k, v in resp.headers.items()},
                json.loads(resp.read() or b"{}"),
            )
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, json.loads(err.read() or b"{}")


def test_json_1_0_variant(server, cw):
    ns = unique_ns()
    ts = minute_ago()
    status, headers, _ = _signed_json_request(
        server,
        "PutMetricData",
        {"Namespace": ns, "MetricData": [{"MetricName": "j", "Value": 4.5, "Timestamp": ts.timestamp()}]},
    )
    assert status == 200
    status, headers, body = _signed_json_request(server, "ListMetrics", {"Namespace": ns})
    assert status == 200 and headers["content-type"] == "application/x-amz-json-1.0"
    assert body["Metrics"] == [{"Namespace": ns, "MetricName": "j", "Dimensions": []}]
    status, headers, body = _signed_json_request(
        server,
        "GetMetricStatistics",
        {
            "Namespace": ns,
            "MetricName": "j",
            "StartTime": ts.timestamp() - 300,
            "EndTime": ts.timestamp() + 300,
            "Period": 60,
            "Statistics": ["Maximum"],
        },
    )
    assert body["Datapoints"][0]["Maximum"] == 4.5
    assert isinstance(body["Datapoints"][0]["Timestamp"], (int, float))
    status, headers, body = _signed_json_request(
        server, "SetAlarmState", {"AlarmName": "nope", "StateValue": "OK", "StateReason": "x"}
    )
    assert status == 404 and body["__type"] == "ResourceNotFound"
    assert headers["x-amzn-query-error"] == "ResourceNotFound;Sender"
    # server-side model validation: AWS's wording, the query code in the header
    status, headers, body = _signed_json_request(server, "ListMetrics", {"Namespace": 123})
    assert status == 400 and body["__type"] == "ValidationException"
    assert headers["x-amzn-query-error"] == "ValidationError;Sender"
    assert "at 'namespace' failed to satisfy constraint" in body["message"]
    # CBOR and JSON see the same data
    assert cw.list_metrics(Namespace=ns)["Metrics"][0]["MetricName"] == "j"


def test_internal_put_many_visible_through_api(server, cw):
    """Subsystems record metrics with ``MetricStore.put``/``put_many``/``MetricBuffer``."""
    from sagestack.store.db import Database
    from sagestack.store.metrics import MetricBuffer, MetricStore

    ns, ts = unique_ns(), minute_ago()
    dims = {"EndpointName": "ep", "VariantName": "AllTraffic"}
    db = Database(f"sqlite:///{Path(server.data_dir) / 'metadata.db'}")
    try:
        store = MetricStore(db)
        store.put("000000000000", "us-east-1", ns, "Invocations", dims, 1, "None", ts)
        assert (
            store.put_many(
                "000000000000",
                "us-east-1",
                [
                    {"namespace": ns, "name": "Invocations", "dimensions": dims, "value": 2, "timestamp": ts},
                    {
                        "namespace": ns,
                        "name": "ModelLatency",
                        "dimensions": dims,
                        "values": [100, 300],
                        "counts": [3, 1],
                        "unit": "Microseconds",
                        "timestamp": ts,
                    },
                    {
                        "namespace": ns,
                        "name": "Invocations",
                        "dimensions": dims,
                        "timestamp": ts,
                        "statistics": {"SampleCount": 2, "Sum": 7, "Minimum": 3, "Maximum": 4},
                    },
                ],
            )
            == 4
        )
        buffer = MetricBuffer(store, "000000000000", "us-east-1")
        for value in (5, 5, 6):
            buffer.add(ns, "ModelLatency", dims, value, "Microseconds", ts.timestamp())
        assert buffer.flush() == 2 and buffer.flush() == 0
    finally:
        db.dispose()
    window = dict(StartTime=ts - dt.timedelta(minutes=2), EndTime=ts + dt.timedelta(minutes=2), Period=60)
    dimensions = [{"Name": k, "Value": v} for k, v in dims.items()]
    inv = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Invocations",
        Dimensions=dimensions,
        Statistics=["Sum", "SampleCount"],
        **window,
    )["Datapoints"][0]
    assert inv["Sum"] == 10 and inv["SampleCount"] == 4
    lat = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="ModelLatency",
        Dimensions=dimensions,
        ExtendedStatistics=["p50", "p90"],
        **window,
    )["Datapoints"][0]
    assert lat["ExtendedStatistics"] == {"p50": 100.0, "p90": 300.0}
    assert lat["Unit"] == "Microseconds"


def test_aws_cli_list_metrics(server, cw):
    ns = unique_ns()
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "cli", "Value": 1}])
    env = {**os.environ, **server.client_env(), "HOME": str(Path(server.data_dir).parent)}
    env.pop("AWS_PROFILE", None)
    cli = Path(sys.executable).parent / "aws"  # the AWS CLI of the venv running the tests
    out = subprocess.run(
        [str(cli), "cloudwatch", "list-metrics", "--namespace", ns, "--output", "json"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert [m["MetricName"] for m in json.loads(out.stdout)["Metrics"]] == ["cli"]
