"""Metric alarms: evaluation as a pure function (:func:`evaluate_alarm`), the state change it records
(:func:`state_change`) and one pass over every alarm (:func:`evaluate_all`, run by ``reconcilers/alarms.py``).

Semantics (following CloudWatch's documentation):

* The evaluation range is the last ``EvaluationPeriods`` complete periods, aligned to multiples of
  ``Period`` (``[end - M·Period, end)`` with ``end = floor(now / Period) · Period``).
* Each period's value is the alarm's statistic over that period; a period with no data is missing.
  ``TreatMissingData``: ``breaching`` / ``notBreaching`` turn missing periods into breaching /
  non-breaching ones; ``missing`` (default) and ``ignore`` leave them out.
* ``ALARM`` when at least ``DatapointsToAlarm`` (default ``EvaluationPeriods``) periods breach;
  otherwise ``OK`` when any period has a (treated) value; when every period is missing,
  ``INSUFFICIENT_DATA`` (``missing``) or the current state is kept (``ignore``).
* Reasons read like AWS's: ``Threshold Crossed: 1 datapoint [5.0 (28/11/26 06:50:00)] was greater
  than or equal to the threshold (3.0).``; ``StateReasonData`` is the JSON AWS returns.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..store.metrics import MetricId, MetricStore, percentile_names

log = logging.getLogger("sagestack.cloudwatch")

UTC = dt.timezone.utc
EVALUATION_INTERVAL = 2.0  # seconds between passes of the evaluation loop

OPERATORS = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}


@dataclass
class Evaluation:
    state: str
    reason: str
    reason_data: dict


def evaluation_range(period: int, periods: int, now: float) -> tuple[float, float]:
    end = math.floor(now / period) * period
    return end - periods * period, end


def evaluate_alarm(alarm: dict, datapoints: Sequence[tuple[float, float]], now: float) -> tuple[str, str]:
    """``(state, reason)`` for ``alarm`` (a MetricAlarm description) given ``(period start,
    value)`` datapoints (epoch seconds) and the time of evaluation."""
    result = evaluate(alarm, datapoints, now)
    return result.state, result.reason


def evaluate(alarm: dict, datapoints: Sequence[tuple[float, float]], now: float) -> Evaluation:
    period = int(alarm["Period"])
    periods = int(alarm["EvaluationPeriods"])
    needed = int(alarm.get("DatapointsToAlarm") or periods)
    treat = alarm.get("TreatMissingData") or "missing"
    operator = alarm["ComparisonOperator"]
    threshold = float(alarm.get("Threshold", 0.0))
    start, end = evaluation_range(period, periods, now)
    values: dict[float, float] = {}
    for ts, value in datapoints:
        slot = math.floor(float(ts) / period) * period
        if start <= slot < end and value is not None and not math.isnan(value):
            values[slot] = float(value)
    slots = [start + i * period for i in range(periods)]  # oldest first
    reason_data = {
        "version": "1.0",
        "queryDate": _iso(now),
        "startDate": _iso(start),
        "statistic": alarm.get("Statistic"),
        "unit": alarm.get("Unit"),
        "period": period,
        "recentDatapoints": [values[s] for s in slots if s in values],
        "threshold": threshold,
        "evaluatedDatapoints": [
            {"timestamp": _iso(s), "value": values[s]} for s in reversed(slots) if s in values
        ],
    }
    reason_data = {k: v for k, v in reason_data.items() if v is not None}
    if operator not in OPERATORS:
        return Evaluation(
            "INSUFFICIENT_DATA",
            f"Unsupported comparison operator {operator} "
            "(anomaly detection bands are not evaluated by sagestack).",
            reason_data,
        )
    phrase, compare = OPERATORS[operator]
    breaching: list[float] = []
    fine: list[float] = []
    missing_count = 0
    for slot in slots:
        if slot in values:
            (breaching if compare(values[slot], threshold) else fine).append(slot)
        elif treat == "breaching":
            breaching.append(slot)
        elif treat == "notBreaching":
            fine.append(slot)
        else:
            missing_count += 1
    if len(breaching) >= needed:
        shown = [s for s in reversed(slots) if s in breaching and s in values]
        return Evaluation(
            "ALARM",
            _crossed(
                shown,
                values,
                len(breaching),
                periods,
                needed,
                phrase,
                threshold,
                negate=False,
                treated=len(breaching) - len(shown),
                transition="OK -> ALARM",
            ),
            reason_data,
        )
    if breaching or fine:
        shown = [s for s in reversed(slots) if s in values]
        return Evaluation(
            "OK",
            _crossed(
                shown,
                values,
                len(fine),
                periods,
                None,
                phrase,
                threshold,
                negate=True,
                treated=len(fine) - len([s for s in fine if s in values]),
                transition=None,
            ),
            reason_data,
        )
    unknown = f"{missing_count} datapoint{'s were' if missing_count != 1 else ' was'} unknown."
    if treat == "ignore":
        return Evaluation(
            alarm.get("StateValue") or "INSUFFICIENT_DATA",
            alarm.get("StateReason") or f"Insufficient Data: {unknown}",
            reason_data,
        )
    return Evaluation("INSUFFICIENT_DATA", f"Insufficient Data: {unknown}", reason_data)


def _crossed(
    shown: list[float],
    values: dict[float, float],
    count: int,
    periods: int,
    needed: int | None,
    phrase: str,
    threshold: float,
    *,
    negate: bool,
    treated: int,
    transition: str | None,
) -> str:
    listed = ", ".join(f"{values[s]} ({_short(s)})" for s in shown)
    verb = f"{'was' if count == 1 else 'were'} {'not ' if negate else ''}{phrase}"
    if periods == 1 or count == periods == len(shown):
        head = f"{count} datapoint{'s' if count != 1 else ''}"
    else:
        head = f"{count} out of the last {periods} datapoints"
    text = f"Threshold Crossed: {head} [{listed}] {verb} the threshold ({threshold})"
    if treated:
        kind = "NonBreaching" if negate else "Breaching"
        text += f" ({treated} missing datapoint{'s were' if treated != 1 else ' was'} treated as [{kind}])"
    if needed is not None and needed != periods:
        text += f" (minimum {needed} datapoint{'s' if needed != 1 else ''} for {transition} transition)"
    return text + "."


def _iso(ts: float) -> str:
    return (
        dt.datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(ts * 1000) % 1000:03d}+0000"
    )


def _short(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, UTC).strftime("%d/%m/%y %H:%M:%S")


# -- applying it ------------------------------------------------------------------------------


def alarm_datapoints(
    store: MetricStore, account: str, region: str, alarm: dict, now: float
) -> list[tuple[float, float]]:
    """The alarm's per-period values over its evaluation range (metric or metric math)."""
    period = int(alarm["Period"])
    start, end = evaluation_range(period, int(alarm["EvaluationPeriods"]), now)
    if alarm.get("Metrics"):
        from .metric_math import run_queries

        results = run_queries(store, account, region, alarm["Metrics"], start, end)
        chosen = next((r for r in results if r.return_data), None)
        return sorted(chosen.series.items()) if chosen else []
    stat = alarm.get("ExtendedStatistic") or alarm.get("Statistic") or "Average"
    metric = MetricId.of(alarm["Namespace"], alarm["MetricName"], alarm.get("Dimensions"))
    buckets = store.aggregate(
        account,
        region,
        metric,
        start,
        end,
        period,
        percentiles=percentile_names([stat]),
        unit=alarm.get("Unit"),
    )
    return [(b.start, v) for b in buckets if (v := b.statistic(stat)) is not None]


def state_change(
    alarm: dict, new_state: str, reason: str, reason_data: dict | str | None, now: float
) -> tuple[dict, dict]:
    """The fields to write for a transition, and its history item."""
    old_state = alarm.get("StateValue") or "INSUFFICIENT_DATA"
    data_text = (
        reason_data
        if isinstance(reason_data, str) or reason_data is None
        else json.dumps(reason_data, separators=(",", ":"))
    )
    changes: dict[str, Any] = {
        "StateValue": new_state,
        "StateReason": reason,
        "StateReasonData": data_text,
        "StateUpdatedTimestamp": now,
        "StateTransitionedTimestamp": now,
    }
    new_block: dict[str, Any] = {"stateValue": new_state, "stateReason": reason}
    if data_text:
        try:
            new_block["stateReasonData"] = json.loads(data_text)
        except ValueError:
            pass
    history = {
        "AlarmName": alarm["AlarmName"],
        "AlarmType": "MetricAlarm",
        "Timestamp": now,
        "HistoryItemType": "StateUpdate",
        "HistorySummary": f"Alarm updated from {old_state} to {new_state}",
        "HistoryData": json.dumps(
            {
                "version": "1.0",
                "oldState": {"stateValue": old_state, "stateReason": alarm.get("StateReason", "")},
                "newState": new_block,
            },
            separators=(",", ":"),
        ),
    }
    return changes, history


def evaluate_all(store: MetricStore, now: float | None = None) -> int:
    """One pass over every alarm; returns how many changed state. One failing alarm never stops
    the others."""
    changed = 0
    for account, region, alarm in store.all_alarms():
        at = time.time() if now is None else now
        try:
            datapoints = alarm_datapoints(store, account, region, alarm, at)
            result = evaluate(alarm, datapoints, at)
            old_state = alarm.get("StateValue")
            if result.state == old_state:
                continue
            changes, history = state_change(alarm, result.state, result.reason, result.reason_data, at)
            if store.transition_alarm(account, region, alarm["AlarmName"], old_state, changes, [history]):
                changed += 1
                alarm.update(changes)
                for listener in list(store.transition_listeners):
                    try:
                        listener(alarm, old_state, result.state)
                    except Exception:
                        log.exception("alarm listener failed for %s", alarm["AlarmName"])
        except Exception:
            log.exception("evaluating alarm %s failed", alarm.get("AlarmName"))
    return changed
