"""CloudWatch metrics storage: metric identities, datapoints, alarms and alarm history.

A metric is (account, region, namespace, name, dimension set). Each stored point is a statistic set
(sample count, sum, minimum, maximum) with its unit; points that came from single values (``Value``,
``Values``/``Counts``) are marked so percentiles can be computed from them. Aggregation by period
runs in SQL (integer bucket arithmetic, portable across SQLite and PostgreSQL); percentiles are
computed with numpy over the matching single-value points.

Other subsystems record metrics through ``metric_store(platform).put(...)`` / ``put_many(...)``
or a :class:`MetricBuffer` that accumulates values in memory and flushes them in one batch.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from .schema import metadata

metrics = Table(
    "metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("namespace", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("dims_key", Text, nullable=False),  # canonical "name=value" pairs, sorted, \x1f-joined
    Column("dimensions", Text, nullable=False),  # JSON list of {Name, Value}, sorted by Name
    Column("last_seen", Float, nullable=False),  # epoch seconds of the latest put
    UniqueConstraint("account_id", "region", "namespace", "name", "dims_key", name="uq_metric"),
)

metric_dimensions = Table(
    "metric_dimensions",
    metadata,
    Column("metric_id", Integer, ForeignKey("metrics.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("value", String(1024), nullable=False),
    Index("ix_metric_dimensions", "name", "value", "metric_id"),
)

metric_points = Table(
    "metric_points",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("metric_id", Integer, ForeignKey("metrics.id", ondelete="CASCADE"), nullable=False),
    Column("ts", BigInteger, nullable=False),  # epoch milliseconds
    Column("sample_count", Float, nullable=False),
    Column("sum", Float, nullable=False),
    Column("minimum", Float, nullable=False),
    Column("maximum", Float, nullable=False),
    Column("unit", String(32), nullable=False, default="None"),
    Column("single", Boolean, nullable=False, default=True),  # one value (×count): percentile-able
    Index("ix_metric_points_metric_ts", "metric_id", "ts"),
)

metric_alarms = Table(
    "metric_alarms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("state", String(32), nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("data", Text, nullable=False),  # the MetricAlarm description (JSON, timestamps as epoch)
    UniqueConstraint("account_id", "region", "name", name="uq_metric_alarm"),
)

alarm_history = Table(
    "alarm_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("alarm_name", String(255), nullable=False),
    Column("alarm_type", String(32), nullable=False, default="MetricAlarm"),
    Column("ts", Float, nullable=False),
    Column("item_type", String(32), nullable=False),
    Column("summary", Text, nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_alarm_history", "account_id", "region", "alarm_name", "ts"),
)

STANDARD_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
RETENTION_SECONDS = 455 * 86400  # CloudWatch keeps metric data for 15 months


def to_epoch(value: dt.datetime | float | None, default: float | None = None) -> float:
    if value is None:
        return time.time() if default is None else default
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    return float(value)


def canonical_dimensions(dimensions: Mapping[str, str] | Sequence[Mapping[str, str]] | None) -> list[dict]:
    """Dimensions as a list of ``{"Name", "Value"}`` sorted by name (a dict or a list accepted)."""
    if not dimensions:
        return []
    if isinstance(dimensions, Mapping):
        pairs = [(str(k), str(v)) for k, v in dimensions.items()]
    else:
        pairs = [(str(d["Name"]), str(d["Value"])) for d in dimensions]
    return [{"Name": k, "Value": v} for k, v in sorted(pairs)]


def dims_key(dimensions: list[dict]) -> str:
    return "\x1f".join(f"{d['Name']}={d['Value']}" for d in dimensions)


@dataclass(frozen=True)
class MetricId:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, namespace: str, name: str, dimensions=None) -> MetricId:
        dims = canonical_dimensions(dimensions)
        return cls(namespace, name, tuple((d["Name"], d["Value"]) for d in dims))

    @property
    def dimension_list(self) -> list[dict]:
        return [{"Name": k, "Value": v} for k, v in self.dimensions]


@dataclass
class Point:
    """One stored observation: a statistic set, or a single value seen ``count`` times."""

    metric: MetricId
    timestamp: float  # epoch seconds
    sample_count: float
    sum: float
    minimum: float
    maximum: float
    unit: str = "None"
    single: bool = True

    @classmethod
    def value(
        cls, metric: MetricId, timestamp: float, value: float, count: float = 1.0, unit: str = "None"
    ) -> Point:
        return cls(metric, timestamp, count, value * count, value, value, unit or "None", True)


@dataclass
class Bucket:
    """Aggregated statistics of one period."""

    start: float  # epoch seconds
    sample_count: float
    sum: float
    minimum: float
    maximum: float
    unit: str
    percentiles: dict[str, float]

    def statistic(self, name: str) -> float | None:
        if name == "SampleCount":
            return self.sample_count
        if name == "Sum":
            return self.sum
        if name == "Average":
            return self.sum / self.sample_count if self.sample_count else None
        if name == "Minimum":
            return self.minimum
        if name == "Maximum":
            return self.maximum
        return self.percentiles.get(name)


def percentile_names(statistics: Iterable[str]) -> list[str]:
    return [s for s in statistics if s not in STANDARD_STATISTICS]


def parse_percentile(name: str) -> float | None:
    """``p99`` / ``p99.9`` → 99.0 / 99.9; anything else → None."""
    if len(name) < 2 or name[0] != "p":
        return None
    try:
        value = float(name[1:])
    except ValueError:
        return None
    return value if 0.0 <= value <= 100.0 else None


class MetricStore:
    """Metric datapoints, alarms and alarm history for every account and region."""

    def __init__(self, db):
        self.db = db
        self._ids: dict[tuple[str, str, MetricId], int] = {}
        self._lock = threading.Lock()
        self.transition_listeners: list[Callable[[dict, str, str], Any]] = []

    # -- writing --------------------------------------------------------------------------

    def put(
        self,
        account: str,
        region: str,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str] | None,
        value: float,
        unit: str = "None",
        timestamp: dt.datetime | float | None = None,
    ) -> None:
        """Record one value (for subsystems; no AWS input checks)."""
        metric = MetricId.of(namespace, name, dimensions)
        self.put_points(account, region, [Point.value(metric, to_epoch(timestamp), float(value), 1.0, unit)])

    def put_many(self, account: str, region: str, items: Iterable[Mapping[str, Any]]) -> int:
        """Record many values in one transaction. Each item: ``namespace``, ``name``,
        ``dimensions`` (dict), ``unit``, ``timestamp`` and one of ``value``, ``values`` (+ optional
        ``counts``) or ``statistics`` (``{"SampleCount", "Sum", "Minimum", "Maximum"}``)."""
        points: list[Point] = []
        for item in items:
            metric = MetricId.of(item["namespace"], item["name"], item.get("dimensions"))
            ts = to_epoch(item.get("timestamp"))
            unit = item.get("unit") or "None"
            if item.get("statistics") is not None:
                s = item["statistics"]
                points.append(
                    Point(
                        metric,
                        ts,
                        float(s["SampleCount"]),
                        float(s["Sum"]),
                        float(s["Minimum"]),
                        float(s["Maximum"]),
                        unit,
                        False,
                    )
                )
            elif item.get("values") is not None:
                counts = item.get("counts") or [1.0] * len(item["values"])
                points.extend(
                    Point.value(metric, ts, float(v), float(c), unit) for v, c in zip(item["values"], counts)
                )
            else:
                points.append(Point.value(metric, ts, float(item["value"]), 1.0, unit))
        return self.put_points(account, region, points)

    def put_points(self, account: str, region: str, points: Sequence[Point]) -> int:
        if not points:
            return 0
        now = time.time()
        for attempt in range(2):
            try:
                with self.db.begin() as conn:
                    wanted = list(dict.fromkeys(p.metric for p in points))
                    ids = self._metric_ids(conn, account, region, wanted, now)
                    conn.execute(
                        metric_points.insert(),
                        [
                            {
                                "metric_id": ids[p.metric],
                                "ts": round(p.timestamp * 1000),
                                "sample_count": p.sample_count,
                                "sum": p.sum,
                                "minimum": p.minimum,
                                "maximum": p.maximum,
                                "unit": p.unit,
                                "single": p.single,
                            }
                            for p in points
                        ],
                    )
                    conn.execute(
                        update(metrics)
                        .where(metrics.c.id.in_(sorted(set(ids.values()))))
                        .values(last_seen=now)
                    )
                return len(points)
            except IntegrityError:
                with self._lock:
                    self._ids.clear()
                if attempt:
                    raise
        return 0

    def _metric_ids(
        self, conn, account: str, region: str, wanted: list[MetricId], now: float
    ) -> dict[MetricId, int]:
        ids: dict[MetricId, int] = {}
        for metric in wanted:
            cached = self._ids.get((account, region, metric))
            if cached is not None:
                ids[metric] = cached
                continue
            dims = metric.dimension_list
            key = dims_key(dims)
            row = conn.execute(
                select(metrics.c.id).where(
                    and_(
                        metrics.c.account_id == account,
                        metrics.c.region == region,
                        metrics.c.namespace == metric.namespace,
                        metrics.c.name == metric.name,
                        metrics.c.dims_key == key,
                    )
                )
            ).first()
            if row is None:
                metric_id = conn.execute(
                    metrics.insert().values(
                        account_id=account,
                        region=region,
                        namespace=metric.namespace,
                        name=metric.name,
                        dims_key=key,
                        dimensions=json.dumps(dims),
                        last_seen=now,
                    )
                ).inserted_primary_key[0]
                if dims:
                    conn.execute(
                        metric_dimensions.insert(),
                        [{"metric_id": metric_id, "name": d["Name"], "value": d["Value"]} for d in dims],
                    )
            else:
                metric_id = row[0]
            ids[metric] = metric_id
        with self._lock:
            if len(self._ids) > 100000:
                self._ids.clear()
            self._ids.update({(account, region, m): i for m, i in ids.items()})
        return ids

    # -- listing --------------------------------------------------------------------------

    def list_metrics(
        self,
        account: str,
        region: str,
        *,
        namespace: str | None = None,
        name: str | None = None,
        dimension_filters: Sequence[Mapping] = (),
        active_since: float | None = None,
        limit: int = 500,
        token: int | None = None,
    ) -> tuple[list[MetricId], int | None]:
        """Metrics matching the filters (a filter without ``Value`` matches any value), ordered by
        id; the returned token is the last id of the page when more exist."""
        condition = and_(metrics.c.account_id == account, metrics.c.region == region)
        if namespace:
            condition = and_(condition, metrics.c.namespace == namespace)
        if name:
            condition = and_(condition, metrics.c.name == name)
        if active_since is not None:
            condition = and_(condition, metrics.c.last_seen >= active_since)
        for flt in dimension_filters:
            clause = and_(
                metric_dimensions.c.metric_id == metrics.c.id, metric_dimensions.c.name == flt["Name"]
            )
            if flt.get("Value") is not None:
                clause = and_(clause, metric_dimensions.c.value == flt["Value"])
            condition = and_(condition, exists().where(clause))
        if token is not None:
            condition = and_(condition, metrics.c.id > token)
        stmt = (
            select(metrics.c.id, metrics.c.namespace, metrics.c.name, metrics.c.dimensions)
            .where(condition)
            .order_by(metrics.c.id)
            .limit(limit + 1)
        )
        with self.db.connect() as conn:
            rows = conn.execute(stmt).all()
        found = [MetricId.of(r.namespace, r.name, json.loads(r.dimensions)) for r in rows[:limit]]
        return found, (rows[limit - 1].id if len(rows) > limit else None)

    # -- reading --------------------------------------------------------------------------

    def aggregate(
        self,
        account: str,
        region: str,
        metric: MetricId,
        start: float,
        end: float,
        period: int,
        percentiles: Sequence[str] = (),
        unit: str | None = None,
    ) -> list[Bucket]:
        """Statistics per period over ``[start, end)``; periods start at ``start + k * period``.
        Periods with no data are absent."""
        start_ms, end_ms, period_ms = round(start * 1000), round(end * 1000), int(period * 1000)
        with self.db.connect() as conn:
            metric_id = self._find_metric(conn, account, region, metric)
            if metric_id is None:
                return []
            condition = and_(
                metric_points.c.metric_id == metric_id,
                metric_points.c.ts >= start_ms,
                metric_points.c.ts < end_ms,
            )
            if unit:
                condition = and_(condition, metric_points.c.unit == unit)
            bucket = ((metric_points.c.ts - start_ms) // period_ms).label("bucket")
            rows = conn.execute(
                select(
                    bucket,
                    func.sum(metric_points.c.sample_count),
                    func.sum(metric_points.c.sum),
                    func.min(metric_points.c.minimum),
                    func.max(metric_points.c.maximum),
                    func.min(metric_points.c.unit),
                    func.max(metric_points.c.unit),
                )
                .where(condition)
                .group_by(bucket)
                .order_by(bucket)
            ).all()
            wanted = [(p, parse_percentile(p)) for p in percentiles]
            wanted = [(p, q) for p, q in wanted if q is not None]
            values = None
            if wanted and rows:
                values = conn.execute(
                    select(bucket, metric_points.c.minimum, metric_points.c.sample_count).where(
                        and_(condition, metric_points.c.single.is_(True))
                    )
                ).all()
        pct = _percentiles(values, wanted) if values else {}
        out = []
        for b, count, total, low, high, unit_low, unit_high in rows:
            out.append(
                Bucket(
                    start=start + int(b) * period,
                    sample_count=float(count or 0),
                    sum=float(total or 0),
                    minimum=float(low),
                    maximum=float(high),
                    unit=unit or (unit_low if unit_low == unit_high else "None"),
                    percentiles=pct.get(int(b), {}),
                )
            )
        return out

    def series(self, account: str, region: str, metric: MetricId) -> list[float]:
        """Every value recorded for the metric, oldest first (a training job's metric emissions, in the
        order the job printed them)."""
        with self.db.connect() as conn:
            metric_id = self._find_metric(conn, account, region, metric)
            if metric_id is None:
                return []
            rows = conn.execute(
                select(metric_points.c.minimum)
                .where(metric_points.c.metric_id == metric_id)
                .order_by(metric_points.c.ts, metric_points.c.id)
            ).all()
        return [float(r[0]) for r in rows]

    def _find_metric(self, conn, account: str, region: str, metric: MetricId) -> int | None:
        cached = self._ids.get((account, region, metric))
        if cached is not None:
            return cached
        row = conn.execute(
            select(metrics.c.id).where(
                and_(
                    metrics.c.account_id == account,
                    metrics.c.region == region,
                    metrics.c.namespace == metric.namespace,
                    metrics.c.name == metric.name,
                    metrics.c.dims_key == dims_key(metric.dimension_list),
                )
            )
        ).first()
        return row[0] if row else None

    # -- alarms ---------------------------------------------------------------------------

    def get_alarm(self, account: str, region: str, name: str) -> dict | None:
        with self.db.connect() as conn:
            row = conn.execute(
                select(metric_alarms.c.data).where(
                    and_(
                        metric_alarms.c.account_id == account,
                        metric_alarms.c.region == region,
                        metric_alarms.c.name == name,
                    )
                )
            ).first()
        return json.loads(row[0]) if row else None

    def save_alarm(self, account: str, region: str, alarm: dict, history: Sequence[dict] = ()) -> None:
        """Insert or replace an alarm (its description as a dict) and append history items."""
        values = dict(
            account_id=account,
            region=region,
            name=alarm["AlarmName"],
            state=alarm["StateValue"],
            updated_at=time.time(),
            data=json.dumps(alarm, separators=(",", ":")),
        )
        key = and_(
            metric_alarms.c.account_id == account,
            metric_alarms.c.region == region,
            metric_alarms.c.name == alarm["AlarmName"],
        )
        with self.db.begin() as conn:
            result = conn.execute(update(metric_alarms).where(key).values(**values))
            if not result.rowcount:
                conn.execute(metric_alarms.insert().values(**values))
            self._add_history(conn, account, region, history)

    def transition_alarm(
        self,
        account: str,
        region: str,
        name: str,
        expected_state: str | None,
        changes: Mapping[str, Any],
        history: Sequence[dict] = (),
    ) -> bool:
        """Apply ``changes`` to the stored alarm (re-read inside the transaction, so concurrent
        configuration updates survive); with ``expected_state``, only if the state is still that."""
        key = and_(
            metric_alarms.c.account_id == account,
            metric_alarms.c.region == region,
            metric_alarms.c.name == name,
        )
        with self.db.begin() as conn:
            row = conn.execute(select(metric_alarms.c.state, metric_alarms.c.data).where(key)).first()
            if row is None or (expected_state is not None and row.state != expected_state):
                return False
            alarm = json.loads(row.data)
            alarm.update(changes)
            conn.execute(
                update(metric_alarms)
                .where(key)
                .values(
                    state=alarm["StateValue"],
                    updated_at=time.time(),
                    data=json.dumps(alarm, separators=(",", ":")),
                )
            )
            self._add_history(conn, account, region, history)
        return True

    def delete_alarms(self, account: str, region: str, names: Sequence[str]) -> int:
        with self.db.begin() as conn:
            result = conn.execute(
                delete(metric_alarms).where(
                    and_(
                        metric_alarms.c.account_id == account,
                        metric_alarms.c.region == region,
                        metric_alarms.c.name.in_(list(names)),
                    )
                )
            )
        return result.rowcount or 0

    def list_alarms(
        self,
        account: str,
        region: str,
        *,
        names: Sequence[str] | None = None,
        prefix: str | None = None,
        state: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> tuple[list[dict], str | None]:
        condition = and_(metric_alarms.c.account_id == account, metric_alarms.c.region == region)
        if names:
            condition = and_(condition, metric_alarms.c.name.in_(list(names)))
        if prefix:
            condition = and_(condition, metric_alarms.c.name.startswith(prefix, autoescape=True))
        if state:
            condition = and_(condition, metric_alarms.c.state == state)
        if after is not None:
            condition = and_(condition, metric_alarms.c.name > after)
        with self.db.connect() as conn:
            rows = conn.execute(
                select(metric_alarms.c.name, metric_alarms.c.data)
                .where(condition)
                .order_by(metric_alarms.c.name)
                .limit(limit + 1)
            ).all()
        alarms = [json.loads(r.data) for r in rows[:limit]]
        return alarms, (rows[limit - 1].name if len(rows) > limit else None)

    def all_alarms(self) -> list[tuple[str, str, dict]]:
        """Every alarm of every account (for the evaluation loop)."""
        with self.db.connect() as conn:
            rows = conn.execute(
                select(metric_alarms.c.account_id, metric_alarms.c.region, metric_alarms.c.data).order_by(
                    metric_alarms.c.id
                )
            ).all()
        return [(r.account_id, r.region, json.loads(r.data)) for r in rows]

    def history(
        self,
        account: str,
        region: str,
        *,
        name: str | None = None,
        item_type: str | None = None,
        start: float | None = None,
        end: float | None = None,
        newest_first: bool = True,
        limit: int = 100,
        after_id: int | None = None,
    ) -> tuple[list[dict], int | None]:
        condition = and_(alarm_history.c.account_id == account, alarm_history.c.region == region)
        if name:
            condition = and_(condition, alarm_history.c.alarm_name == name)
        if item_type:
            condition = and_(condition, alarm_history.c.item_type == item_type)
        if start is not None:
            condition = and_(condition, alarm_history.c.ts >= start)
        if end is not None:
            condition = and_(condition, alarm_history.c.ts <= end)
        if after_id is not None:
            condition = and_(
                condition, alarm_history.c.id < after_id if newest_first else alarm_history.c.id > after_id
            )
        order = alarm_history.c.id.desc() if newest_first else alarm_history.c.id.asc()
        with self.db.connect() as conn:
            rows = (
                conn.execute(select(alarm_history).where(condition).order_by(order).limit(limit + 1))
                .mappings()
                .all()
            )
        items = [
            {
                "AlarmName": r["alarm_name"],
                "AlarmType": r["alarm_type"],
                "Timestamp": dt.datetime.fromtimestamp(r["ts"], dt.timezone.utc),
                "HistoryItemType": r["item_type"],
                "HistorySummary": r["summary"],
                "HistoryData": r["data"],
            }
            for r in rows[:limit]
        ]
        return items, (rows[limit - 1]["id"] if len(rows) > limit else None)

    def _add_history(self, conn, account: str, region: str, history: Sequence[dict]) -> None:
        if history:
            conn.execute(
                alarm_history.insert(),
                [
                    {
                        "account_id": account,
                        "region": region,
                        "alarm_name": h["AlarmName"],
                        "alarm_type": h.get("AlarmType", "MetricAlarm"),
                        "ts": h["Timestamp"],
                        "item_type": h["HistoryItemType"],
                        "summary": h["HistorySummary"],
                        "data": h.get("HistoryData", ""),
                    }
                    for h in history
                ],
            )

    # -- retention ------------------------------------------------------------------------

    def expire(self, now: float | None = None) -> int:
        """Drop datapoints older than CloudWatch's 15-month retention and alarm history older
        than two weeks (as AWS keeps it)."""
        now = time.time() if now is None else now
        with self.db.begin() as conn:
            removed = (
                conn.execute(
                    delete(metric_points).where(metric_points.c.ts < int((now - RETENTION_SECONDS) * 1000))
                ).rowcount
                or 0
            )
            conn.execute(delete(alarm_history).where(alarm_history.c.ts < now - 14 * 86400))
        return removed


def _percentiles(rows, wanted: Sequence[tuple[str, float]]) -> dict[int, dict[str, float]]:
    """Nearest-rank weighted percentiles per bucket, vectorised per bucket."""
    data = np.array(rows, dtype=float).reshape(-1, 3)
    if data.size == 0:
        return {}
    buckets, values, weights = data[:, 0], data[:, 1], data[:, 2]
    order = np.lexsort((values, buckets))
    buckets, values, weights = buckets[order], values[order], weights[order]
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    ends = np.r_[starts[1:], len(buckets)]
    out: dict[int, dict[str, float]] = {}
    for lo, hi in zip(starts, ends):
        cumulative = np.cumsum(weights[lo:hi])
        total = cumulative[-1]
        result = {}
        for label, q in wanted:
            index = int(np.searchsorted(cumulative, q / 100.0 * total - 1e-9, side="left"))
            result[label] = float(values[lo + min(index, hi - lo - 1)])
        out[int(buckets[lo])] = result
    return out


class MetricBuffer:
    """In-memory accumulator: ``add`` values per metric, ``flush`` writes them as one batch
    (values grouped per metric and second, as ``Values``/``Counts``). Thread-safe."""

    def __init__(self, store: MetricStore, account: str, region: str, resolution: int = 1):
        self.store, self.account, self.region, self.resolution = store, account, region, resolution
        self._values: dict[tuple[MetricId, int, str], dict[float, float]] = {}
        self._lock = threading.Lock()

    def add(
        self,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str] | None,
        value: float,
        unit: str = "None",
        timestamp: float | None = None,
    ) -> None:
        slot = int(to_epoch(timestamp) // self.resolution) * self.resolution
        key = (MetricId.of(namespace, name, dimensions), slot, unit or "None")
        with self._lock:
            counts = self._values.setdefault(key, {})
            counts[float(value)] = counts.get(float(value), 0.0) + 1.0

    def flush(self) -> int:
        with self._lock:
            pending, self._values = self._values, {}
        points = [
            Point.value(metric, float(slot), value, count, unit)
            for (metric, slot, unit), counts in pending.items()
            for value, count in counts.items()
        ]
        return self.store.put_points(self.account, self.region, points)


def metric_store(platform) -> MetricStore:
    """The platform's metric store (built once)."""
    return platform.component("metrics", lambda p: MetricStore(p.db))
