"""What the SageMaker SDK's pipeline triggers send (PipelineSchedule + Pipeline.put_triggers /
describe_trigger / delete_triggers go through its EventBridgeSchedulerHelper): upsert = UpdateSchedule,
then CreateSchedule on ResourceNotFoundException; describe = GetSchedule; delete = DeleteSchedule."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import ROLE

pytest.importorskip("sagemaker")

PIPELINE_ARN = "arn:aws:sagemaker:us-east-1:000000000000:pipeline/sdk-scheduled"


@pytest.fixture
def helper(server):
    from sagemaker.workflow._event_bridge_client_helper import EventBridgeSchedulerHelper

    return EventBridgeSchedulerHelper(server.client("scheduler"))


@pytest.mark.sdk_flow("lambda-schedules", "PipelineSchedule upsert (update, then create), describe, delete")
def test_upsert_describe_and_delete_a_pipeline_schedule(helper):
    from sagemaker.workflow.triggers import PipelineSchedule

    trigger = PipelineSchedule(name="sdk-nightly", cron="0 3 * * ? *", enabled=True)
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    created = helper.upsert_schedule(
        schedule_name=trigger.resolve_trigger_name("sdk-scheduled"),
        pipeline_arn=PIPELINE_ARN,
        schedule_expression=trigger.resolve_schedule_expression(),
        state=trigger.resolve_trigger_state(),
        start_date=start,
        role=ROLE,
    )
    assert created["ScheduleArn"].endswith(":schedule/default/sdk-nightly")
    described = helper.describe_schedule("sdk-nightly")
    assert described["ScheduleExpression"] == "cron(0 3 * * ? *)" and described["State"] == "ENABLED"
    assert described["Target"]["Arn"] == PIPELINE_ARN and described["Target"]["RoleArn"] == ROLE
    assert described["StartDate"] == start  # describe_trigger formats it with strftime
    assert described["FlexibleTimeWindow"] == {"Mode": "OFF"}
    # a second put_triggers updates in place
    disabled = PipelineSchedule(name="sdk-nightly", rate=(2, "hours"), enabled=False)
    updated = helper.upsert_schedule(
        schedule_name="sdk-nightly",
        pipeline_arn=PIPELINE_ARN,
        schedule_expression=disabled.resolve_schedule_expression(),
        state=disabled.resolve_trigger_state(),
        start_date=start,
        role=ROLE,
    )
    assert updated["ScheduleArn"] == created["ScheduleArn"]
    described = helper.describe_schedule("sdk-nightly")
    assert (described["ScheduleExpression"], described["State"]) == ("rate(2 hours)", "DISABLED")
    helper.delete_schedule("sdk-nightly")
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        helper.describe_schedule("sdk-nightly")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_at_schedule_from_a_datetime(helper):
    from sagemaker.workflow.triggers import PipelineSchedule

    when = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    trigger = PipelineSchedule(name="sdk-once", at=when)
    helper.upsert_schedule(
        schedule_name="sdk-once",
        pipeline_arn=PIPELINE_ARN,
        schedule_expression=trigger.resolve_schedule_expression(),
        state=trigger.resolve_trigger_state(),
        start_date=dt.datetime.now(dt.timezone.utc),
        role=ROLE,
    )
    assert helper.describe_schedule("sdk-once")["ScheduleExpression"] == "at(2031-05-06T07:08:09)"
    helper.delete_schedule("sdk-once")


@pytest.mark.sdk_flow(
    "lambda-schedules", "Pipeline.put_triggers(PipelineSchedule(at=...)) starts an execution"
)
def test_put_triggers_at_schedule_starts_an_execution(server, sdk_env):
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionEquals
    from sagemaker.workflow.parameters import ParameterInteger
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.triggers import PipelineSchedule

    from helpers import wait_for

    sm = server.client("sagemaker")
    n = ParameterInteger(name="N", default_value=2)
    pipeline = Pipeline(
        name="sdk-triggered",
        parameters=[n],
        steps=[ConditionStep(name="IsTwo", conditions=[ConditionEquals(left=n, right=2)])],
    )
    pipeline_arn = pipeline.upsert(role_arn=ROLE)["PipelineArn"]
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)
    arns = pipeline.put_triggers(triggers=[PipelineSchedule(name="sdk-soon", at=soon)], role_arn=ROLE)
    assert arns[0].endswith(":schedule/default/sdk-soon")
    described = pipeline.describe_trigger(trigger_name="sdk-soon")
    assert described["Schedule_Expression"] == f"at({soon:%Y-%m-%dT%H:%M:%S})"
    assert described["Schedule_State"] == "ENABLED" and described["Schedule_Role"] == ROLE
    target = server.client("scheduler").get_schedule(Name="sdk-soon")["Target"]
    assert target["Arn"] == pipeline_arn

    def started():
        runs = sm.list_pipeline_executions(PipelineName="sdk-triggered")["PipelineExecutionSummaries"]
        return runs or None

    runs = wait_for(started, 30, 0.5, "the scheduled execution")
    assert len(runs) == 1
    arn = runs[0]["PipelineExecutionArn"]

    def finished():
        desc = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        return desc if desc["PipelineExecutionStatus"] != "Executing" else None

    desc = wait_for(finished, 30, 0.5, "the scheduled execution to end")
    assert desc["PipelineExecutionStatus"] == "Succeeded"
    assert desc["CreatedBy"]["IamIdentity"]["Arn"] == ROLE  # started as the schedule's role
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert steps[0]["Metadata"] == {"Condition": {"Outcome": "True"}}
    # a one-time schedule fires once
    import time

    time.sleep(2)
    assert len(sm.list_pipeline_executions(PipelineName="sdk-triggered")["PipelineExecutionSummaries"]) == 1
    pipeline.delete_triggers(trigger_names=["sdk-soon"])
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        server.client("scheduler").get_schedule(Name="sdk-soon")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
