"""Schedule expressions (domain.schedules): which are accepted, and when each fires next."""

from __future__ import annotations

import datetime as dt

import pytest

from sagestack.domain import schedules
from sagestack.domain.schedules import ScheduleError

UTC = dt.timezone.utc


def ts(*args, tz=UTC) -> float:
    return dt.datetime(*args, tzinfo=tz).timestamp()


def test_at_fires_once_at_its_time_in_its_timezone():
    at = "at(2030-06-01T12:00:00)"
    assert schedules.next_fire(at, None, ts(2030, 1, 1), ts(2030, 1, 1)) == ts(2030, 6, 1, 12)
    berlin = schedules.next_fire(at, "Europe/Berlin", ts(2030, 1, 1), ts(2030, 1, 1))
    assert berlin == ts(2030, 6, 1, 10)  # CEST is UTC+2
    assert schedules.next_fire(at, None, ts(2030, 6, 1, 12), ts(2030, 1, 1)) is None


def test_rate_counts_from_creation_or_start_date():
    created = ts(2030, 1, 1, 0, 0, 30)
    assert schedules.next_fire("rate(5 minutes)", None, created, created) == created + 300
    assert schedules.next_fire("rate(5 minutes)", None, created + 301, created) == created + 600
    start = ts(2030, 1, 2)
    assert schedules.next_fire("rate(1 day)", None, created, created, start=start) == start
    assert schedules.next_fire("rate(1 hour)", None, created, created, end=created + 10) is None


def test_cron_fields():
    after = ts(2030, 1, 1, 13, 0)  # a Tuesday
    weekdays_noon = "cron(0 12 ? * MON-FRI *)"
    assert schedules.next_fire(weekdays_noon, None, after, after) == ts(2030, 1, 2, 12)
    friday = ts(2030, 1, 4, 12, 0)
    assert schedules.next_fire(weekdays_noon, None, friday, after) == ts(2030, 1, 7, 12)  # Monday
    assert schedules.next_fire("cron(*/15 * * * ? *)", None, ts(2030, 1, 1, 10, 7), after) == ts(
        2030, 1, 1, 10, 15
    )
    assert schedules.next_fire("cron(0 0 L * ? *)", None, after, after) == ts(2030, 1, 31)
    assert schedules.next_fire("cron(0 9 ? * 2#1 *)", None, after, after) == ts(2030, 1, 7, 9)  # first Monday
    assert schedules.next_fire("cron(30 8 1 JAN,JUL ? 2031)", None, after, after) == ts(2031, 1, 1, 8, 30)
    assert schedules.next_fire("cron(0 12 * * ? 2029)", None, after, after) is None
    tokyo = schedules.next_fire("cron(0 9 * * ? *)", "Asia/Tokyo", after, after)
    assert tokyo == ts(2030, 1, 2, 0)  # 09:00 in Tokyo is midnight UTC


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)",
        "rate(1 week)",
        "cron(0 12 * * MON *)",  # day-of-month and day-of-week both set
        "cron(0 12 ? * ? *)",  # neither
        "cron(60 * * * ? *)",
        "cron(0 25 * * ? *)",
        "cron(0 12 * 13 ? *)",
        "cron(0 12 * *)",
        "at(2030-02-30T00:00:00)",
        "at(tomorrow)",
        "whenever",
    ],
)
def test_invalid_expressions(expression):
    with pytest.raises(ScheduleError) as info:
        schedules.check_expression(expression)
    assert info.value.kind == "Invalid" and expression in info.value.message


def test_invalid_timezone():
    with pytest.raises(ScheduleError, match="Timezone"):
        schedules.check_expression("rate(1 hour)", "Nowhere/Land")


def test_context_attributes():
    text = schedules.substitute(
        "<aws.scheduler.schedule-arn>|<aws.scheduler.scheduled-time>|<aws.scheduler.execution-id>|"
        "<aws.scheduler.attempt-number>",
        "arn:x",
        ts(2030, 1, 2, 3, 4, 5),
        "id-1",
        1,
    )
    assert text == "arn:x|2030-01-02T03:04:05Z|id-1|1"
