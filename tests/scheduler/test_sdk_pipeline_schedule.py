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
