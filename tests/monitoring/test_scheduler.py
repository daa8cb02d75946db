"""The monitoring reconciler's clock on a real store (no server): when schedules fire, which scheduled
time an execution gets, NOW firing once, stopped and pending schedules firing nothing, and executions
following their processing jobs (alerts included)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from sagestack.domain import monitoring
from sagestack.reconcilers import monitoring as loop
from sagestack.store.db import Database
from sagestack.store.resources import ResourceStore

ACCOUNT, REGION = "000000000000", "us-east-1"


@pytest.fixture
def reconciler(tmp_path, monkeypatch):
    db = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    db.create_schema()
    platform = SimpleNamespace(resources=ResourceStore(db), stopping=False, get_component=lambda name: None)
    instance = loop.MonitoringReconciler(platform)
    fired: list[tuple[str, dt.datetime]] = []
    monkeypatch.setattr(
        instance, "launch", lambda schedule, scheduled: fired.append((schedule.name, scheduled))
    )
    instance.fired = fired
    return instance


def _schedule(reconciler, name: str, expression: str, status: str = "Scheduled", **data):
    config = {"ScheduleConfig": {"ScheduleExpression": expression}, "MonitoringJobDefinition": {}}
    if expression == "NOW":
        config["ScheduleConfig"].update(DataAnalysisStartTime="-PT1H", DataAnalysisEndTime="-PT0H")
    stamp = dt.datetime.now(dt.timezone.utc)
    return reconciler.platform.resources.create(
        ACCOUNT,
        REGION,
        monitoring.SCHEDULE,
        name,
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:monitoring-schedule/{name}",
        {
            "MonitoringScheduleName": name,
            "MonitoringScheduleStatus": status,
            "MonitoringScheduleConfig": config,
            "CreationTime": stamp,
            "LastModifiedTime": stamp,
            **data,
        },
        status=status,
    )


def test_cron_schedules_fire_at_their_hour_once(reconciler):
    past = dt.datetime(2026, 3, 1, 7, 0, tzinfo=dt.timezone.utc)
    _schedule(reconciler, "hourly", "cron(0 * ? * * *)", _NextRun=past.timestamp())
    _schedule(reconciler, "fresh", "cron(0 * ? * * *)")
    _schedule(reconciler, "stopped", "cron(0 * ? * * *)", status="Stopped", _NextRun=past.timestamp())
    reconciler.step()
    assert reconciler.fired == [("hourly", past)]  # the due run, at its nominal time; stopped: nothing
    store = reconciler.platform.resources
    now = dt.datetime.now(dt.timezone.utc)
    for name in ("hourly", "fresh"):
        next_run = dt.datetime.fromtimestamp(
            store.get(ACCOUNT, REGION, monitoring.SCHEDULE, name).data["_NextRun"], dt.timezone.utc
        )
        assert next_run > now and next_run - now <= dt.timedelta(hours=1) and next_run.minute == 0
    reconciler.step()
    assert reconciler.fired == [("hourly", past)]  # not again before the next hour


def test_now_fires_once(reconciler):
    _schedule(reconciler, "once", "NOW")
    reconciler.step()
    reconciler.step()
    assert [name for name, _ in reconciler.fired] == ["once"]


def test_executions_follow_their_processing_job_and_alerts(reconciler):
    store = reconciler.platform.resources
    _schedule(
        reconciler,
        "watched",
        "NOW",
        _Alerts=[
            {"MonitoringAlertName": "a", "AlertStatus": "OK", "DatapointsToAlert": 2, "EvaluationPeriod": 3}
        ],
        _AlertHistory=[],
    )
    stamp = dt.datetime.now(dt.timezone.utc)
    for index, (message, final) in enumerate(
        [
            (
                "CompletedWithViolations: Job completed successfully with 2 violations.",
                "CompletedWithViolations",
            ),
            ("Completed: Job completed successfully with no violations.", "Completed"),
            (
                "CompletedWithViolations: Job completed successfully with 1 violations.",
                "CompletedWithViolations",
            ),
        ]
    ):
        job_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/job-{index}"
        store.create(
            ACCOUNT,
            REGION,
            "processing-job",
            f"job-{index}",
            job_arn,
            {"ExitMessage": message},
            status="InProgress",
        )
        execution = store.create(
            ACCOUNT,
            REGION,
            monitoring.EXECUTION,
            f"watched@{index}",
            f"x/{index}",
            {
                "MonitoringScheduleName": "watched",
                "ScheduledTime": stamp,
                "CreationTime": stamp,
                "LastModifiedTime": stamp,
                "MonitoringExecutionStatus": "Pending",
                "ProcessingJobArn": job_arn,
            },
            status="Pending",
        )
        reconciler.follow(execution)
        assert store.get(ACCOUNT, REGION, monitoring.EXECUTION, execution.name).status == "InProgress"
        job = store.get(ACCOUNT, REGION, "processing-job", f"job-{index}")
        store.update(job, status="Completed")
        reconciler.follow(store.get(ACCOUNT, REGION, monitoring.EXECUTION, execution.name))
        assert store.get(ACCOUNT, REGION, monitoring.EXECUTION, execution.name).status == final
    schedule = store.get(ACCOUNT, REGION, monitoring.SCHEDULE, "watched").data
    assert schedule["_Alerts"][0]["AlertStatus"] == "InAlert"  # 2 of the last 3 had violations
    assert [h["AlertStatus"] for h in schedule["_AlertHistory"]] == ["InAlert"]
