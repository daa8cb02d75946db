"""Schedules (EventBridge Scheduler): schedule expressions, when a schedule fires next, and the record.

A schedule is a resource of type ``schedule`` named ``<group>/<name>`` (names are unique per group);
its description is what GetSchedule answers plus private members: ``_NextFire`` (epoch seconds, None
when it will not fire again), ``_LastFire``, ``_LastResult``, ``_Fires``. Groups are resources of type
``schedule-group``; the group ``default`` always exists.

Expressions: ``at(yyyy-mm-ddThh:mm:ss)`` (once), ``rate(N minute[s]|hour[s]|day[s])`` and
``cron(minutes hours day-of-month month day-of-week year)`` (AWS's six fields: ``?``, ``L``, ``#``,
names, ranges, lists and steps), evaluated in ``ScheduleExpressionTimezone`` (UTC by default).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TYPE = "schedule"
GROUP_TYPE = "schedule-group"
DEFAULT_GROUP = "default"
UTC = dt.timezone.utc
STATES = ("ENABLED", "DISABLED")


class ScheduleError(Exception):
    """``kind``: NotFound, Conflict, Invalid."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def schedule_arn(account: str, region: str, group: str, name: str) -> str:
    return f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{name}"


def group_arn(account: str, region: str, group: str) -> str:
    return f"arn:aws:scheduler:{region}:{account}:schedule-group/{group}"


def key(group: str | None, name: str) -> str:
    return f"{group or DEFAULT_GROUP}/{name}"


# -- expressions ---------------------------------------------------------------------------------

AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
CRON = re.compile(r"^cron\((.+)\)$")
RATE_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: str  # the day-of-month field as written ("?" when the day-of-week field decides)
    months: frozenset[int]
    dow: str
    years: frozenset[int] | None

    def day_matches(self, day: dt.date) -> bool:
        if self.dom != "?":
            return _dom_matches(self.dom, day)
        return _dow_matches(self.dow, day)


def _invalid(expression: str) -> ScheduleError:
    return ScheduleError("Invalid", f"Invalid Schedule Expression {expression}.")


def _values(field: str, low: int, high: int, names: dict[str, int] | None, expression: str) -> frozenset[int]:
    out: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise _invalid(expression)
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _number(a, names, expression), _number(b, names, expression)
        else:
            start = _number(part, names, expression)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise _invalid(expression)
        out.update(range(start, end + 1, step))
    return frozenset(out)


def _number(text: str, names: dict[str, int] | None, expression: str) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise _invalid(expression)
    return int(text)


def _dom_matches(field: str, day: dt.date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if field == "L":
        return day.day == last
    if field == "*":
        return True
    return day.day in _values(field, 1, 31, None, field)


def _dow_matches(field: str, day: dt.date) -> bool:
    weekday = (day.isoweekday() % 7) + 1  # SUN=1 … SAT=7
    if field == "*":
        return True
    if field == "L":
        return weekday == 7
    if field.endswith("L"):  # the last <weekday> of the month
        wanted = _number(field[:-1], DAYS, field)
        return weekday == wanted and day.day + 7 > calendar.monthrange(day.year, day.month)[1]
    if "#" in field:
        name, nth = field.split("#", 1)
        return weekday == _number(name, DAYS, field) and (day.day - 1) // 7 + 1 == int(nth)
    return weekday in _values(field, 1, 7, DAYS, field)


def parse_cron(expression: str, inner: str) -> Cron:
    fields = inner.split()
    if len(fields) != 6:
        raise _invalid(expression)
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise _invalid(expression)  # exactly one of day-of-month and day-of-week is "?"
    cron = Cron(
        _values(minutes, 0, 59, None, expression),
        _values(hours, 0, 23, None, expression),
        dom,
        _values(month, 1, 12, MONTHS, expression),
        dow,
        None if year == "*" else _values(year, 1970, 2199, None, expression),
    )
    try:  # the day fields are checked by evaluating them once
        cron.day_matches(dt.date(2026, 1, 1))
    except (ValueError, ScheduleError):
        raise _invalid(expression) from None
    if dom not in ("?", "*", "L") and not re.match(r"^[\d,\-/*]+$", dom):
        raise _invalid(expression)
    return cron


def timezone(name: str | None) -> dt.tzinfo:
    if not name or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError("Invalid", f"Invalid Schedule Expression Timezone {name}.") from None


def check_expression(expression: str, tz_name: str | None = None) -> None:
    """ScheduleError Invalid unless ``expression`` is an at/rate/cron expression AWS accepts."""
    timezone(tz_name)
    match = AT.match(expression)
    if match:
        try:
            dt.datetime.fromisoformat(match.group(1))
        except ValueError:
            raise _invalid(expression) from None
        return
    match = RATE.match(expression)
    if match:
        if int(match.group(1)) < 1:
            raise _invalid(expression)
        return
    match = CRON.match(expression)
    if match:
        parse_cron(expression, match.group(1))
        return
    raise _invalid(expression)


def one_time(expression: str) -> bool:
    return bool(AT.match(expression))


def next_fire(
    expression: str,
    tz_name: str | None,
    after: float,
    created: float,
    start: float | None = None,
    end: float | None = None,
) -> float | None:
    """Epoch seconds of the first firing strictly after ``after`` (and within StartDate/EndDate), or None."""
    tz = timezone(tz_name)
    lower = max(after, (start - 1e-6) if start is not None else after)
    result: float | None
    match = AT.match(expression)
    if match:
        when = dt.datetime.fromisoformat(match.group(1)).replace(tzinfo=tz).timestamp()
        result = when if when > after else None
    elif RATE.match(expression):
        count, unit = RATE.match(expression).groups()
        period = int(count) * RATE_SECONDS[unit.rstrip("s")]
        anchor = start if start is not None else created
        first = anchor if start is not None else anchor + period
        if first > lower:
            result = first
        else:
            steps = int((lower - first) // period) + 1
            result = first + steps * period
    else:
        cron = parse_cron(expression, CRON.match(expression).group(1))
        result = _next_cron(cron, lower, tz)
    if result is not None and end is not None and result > end:
        return None
    return result


def _next_cron(cron: Cron, after: float, tz: dt.tzinfo) -> float | None:
    moment = dt.datetime.fromtimestamp(after, tz).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    day = moment.date()
    for _ in range(366 * 5):
        if (
            day.month in cron.months
            and (cron.years is None or day.year in cron.years)
            and cron.day_matches(day)
        ):
            for hour in sorted(cron.hours):
                for minute in sorted(cron.minutes):
                    candidate = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                    if candidate >= moment:
                        return candidate.timestamp()
        day += dt.timedelta(days=1)
        moment = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
    return None


# -- records -------------------------------------------------------------------------------------


def schedule_time(data: dict, name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def plan(data: dict, after: float) -> float | None:
    """The schedule's next firing after ``after`` (its StartDate, EndDate and timezone applied)."""
    return next_fire(
        data["ScheduleExpression"],
        data.get("ScheduleExpressionTimezone"),
        after,
        schedule_time(data, "CreationDate") or after,
        schedule_time(data, "StartDate"),
        schedule_time(data, "EndDate"),
    )


def public(data: dict) -> dict:
    return {k: v for k, v in data.items() if not k.startswith("_")}


def substitute(text: str, arn: str, scheduled: float, execution_id: str, attempt: int) -> str:
    """Scheduler's context attributes in a target's input."""
    stamp = dt.datetime.fromtimestamp(scheduled, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        text.replace("<aws.scheduler.schedule-arn>", arn)
        .replace("<aws.scheduler.scheduled-time>", stamp)
        .replace("<aws.scheduler.execution-id>", execution_id)
        .replace("<aws.scheduler.attempt-number>", str(attempt))
    )
