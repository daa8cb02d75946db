"""Experiments' relations and time series: which trials a trial component belongs to, the metric
points logged to trial components (SageMaker Metrics' BatchPutMetrics), and lineage associations.

The experiment, trial and trial-component records themselves are rows of the generic resource table
(``store.resources``); this module keeps what does not fit one JSON description: many-to-many links
and an append-only series of points. Lists filter on the links in SQL through ``ListQuery.conditions``
(``in_trial``, ``in_experiment``, ``has_component``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    and_,
    exists,
    func,
    select,
)

from .resources import resources
from .schema import metadata

trial_component_trials = Table(
    "trial_component_trials",
    metadata,
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("trial_component", String(128), nullable=False),
    Column("trial", String(128), nullable=False),
    Column("experiment", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("account_id", "region", "trial_component", "trial", name="uq_trial_component_trial"),
    Index("ix_tct_trial", "account_id", "region", "trial"),
    Index("ix_tct_experiment", "account_id", "region", "experiment"),
)

tc_points = Table(
    "trial_component_metric_points",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("trial_component", String(128), nullable=False),
    Column("metric_name", String(256), nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("step", Integer),
    Column("value", Float, nullable=False),
    Index(
        "ix_tc_metric_points_series", "account_id", "region", "trial_component", "metric_name", "timestamp"
    ),
)

lineage_associations = Table(
    "lineage_associations",
    metadata,
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("source_arn", String(2048), nullable=False),
    Column("destination_arn", String(2048), nullable=False),
    Column("association_type", String(32)),
    # What each end is (Artifact, Action, Context, TrialComponent) and its type (ArtifactType, ActionType,
    # ContextType, job kind): ListAssociations' SourceType/DestinationType match either.
    Column("source_class", String(32)),
    Column("source_type", String(256)),
    Column("destination_class", String(32)),
    Column("destination_type", String(256)),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("source_arn", "destination_arn", name="uq_lineage_association"),
    Index("ix_lineage_destination", "destination_arn"),
)


class ExperimentStore:
    def __init__(self, db):
        self.db = db

    # -- trial component ↔ trial ------------------------------------------------------------

    def associate(self, account_id: str, region: str, component: str, trial: str, experiment: str) -> bool:
        """Link a component to a trial; False when it already was."""
        key = self._link(account_id, region, component, trial)
        with self.db.begin() as conn:
            if conn.execute(select(trial_component_trials.c.trial).where(key)).first():
                return False
            conn.execute(
                trial_component_trials.insert().values(
                    account_id=account_id,
                    region=region,
                    trial_component=component,
                    trial=trial,
                    experiment=experiment,
                    created_at=time.time(),
                )
            )
        return True

    def disassociate(self, account_id: str, region: str, component: str, trial: str) -> bool:
        with self.db.begin() as conn:
            result = conn.execute(
                trial_component_trials.delete().where(self._link(account_id, region, component, trial))
            )
        return bool(result.rowcount)

    def parents(self, account_id: str, region: str, component: str) -> list[dict]:
        """``[{TrialName, ExperimentName}]`` of a component, oldest link first."""
        with self.db.connect() as conn:
            rows = conn.execute(
                select(trial_component_trials.c.trial, trial_component_trials.c.experiment)
                .where(
                    and_(
                        trial_component_trials.c.account_id == account_id,
                        trial_component_trials.c.region == region,
                        trial_component_trials.c.trial_component == component,
                    )
                )
                .order_by(trial_component_trials.c.created_at)
            ).all()
        return [{"TrialName": t, "ExperimentName": e} for t, e in rows]

    def components_of(self, account_id: str, region: str, trial: str) -> list[str]:
        with self.db.connect() as conn:
            rows = conn.execute(
                select(trial_component_trials.c.trial_component)
                .where(
                    and_(
                        trial_component_trials.c.account_id == account_id,
                        trial_component_trials.c.region == region,
                        trial_component_trials.c.trial == trial,
                    )
                )
                .order_by(trial_component_trials.c.created_at)
            ).all()
        return [r[0] for r in rows]

    def _link(self, account_id: str, region: str, component: str, trial: str):
        t = trial_component_trials
        return and_(
            t.c.account_id == account_id,
            t.c.region == region,
            t.c.trial_component == component,
            t.c.trial == trial,
        )

    # -- list conditions (on ``resources`` rows) ----------------------------------------------

    @staticmethod
    def _linked(column, value: str, other):
        t = trial_component_trials
        return exists(
            select(t.c.trial).where(
                and_(
                    t.c.account_id == resources.c.account_id,
                    t.c.region == resources.c.region,
                    column == value,
                    other == resources.c.name,
                )
            )
        )

    @classmethod
    def in_trial(cls, trial: str):
        """Trial components linked to ``trial``."""
        return cls._linked(trial_component_trials.c.trial, trial, trial_component_trials.c.trial_component)

    @classmethod
    def in_experiment(cls, experiment: str):
        """Trial components linked to a trial of ``experiment``."""
        return cls._linked(
            trial_component_trials.c.experiment, experiment, trial_component_trials.c.trial_component
        )

    @classmethod
    def has_component(cls, component: str):
        """Trials that ``component`` is linked to."""
        t = trial_component_trials
        return cls._linked(t.c.trial_component, component, t.c.trial)

    # -- metric points ------------------------------------------------------------------------

    def put_points(self, account_id: str, region: str, component: str, points: Iterable[dict]) -> int:
        """Append ``{MetricName, Timestamp (epoch seconds), Step?, Value}`` points."""
        rows = [
            {
                "account_id": account_id,
                "region": region,
                "trial_component": component,
                "metric_name": p["MetricName"],
                "timestamp": float(p["Timestamp"]),
                "step": p.get("Step"),
                "value": float(p["Value"]),
            }
            for p in points
        ]
        if rows:
            with self.db.begin() as conn:
                conn.execute(tc_points.insert(), rows)
        return len(rows)

    def summaries(self, account_id: str, region: str, component: str) -> list[dict]:
        """Per metric name: Count, Min, Max, Avg, StdDev (sample), Last (the latest point) and its
        TimeStamp — aggregated in SQL."""
        m = tc_points
        key = and_(m.c.account_id == account_id, m.c.region == region, m.c.trial_component == component)
        stmt = (
            select(
                m.c.metric_name,
                func.count(),
                func.min(m.c.value),
                func.max(m.c.value),
                func.avg(m.c.value),
                func.sum(m.c.value * m.c.value),
                func.max(m.c.id),
            )
            .where(key)
            .group_by(m.c.metric_name)
            .order_by(m.c.metric_name)
        )
        with self.db.connect() as conn:
            rows = conn.execute(stmt).all()
            last_ids = [self._last_id(conn, key, row[0]) for row in rows]
            last = {}
            if last_ids:
                last = {
                    r.id: (r.value, r.timestamp)
                    for r in conn.execute(
                        select(m.c.id, m.c.value, m.c.timestamp).where(m.c.id.in_(last_ids))
                    ).all()
                }
        out = []
        for (name, count, low, high, avg, squares, _), last_id in zip(rows, last_ids):
            value, timestamp = last[last_id]
            variance = (squares - count * avg * avg) / (count - 1) if count > 1 else 0.0
            out.append(
                {
                    "MetricName": name,
                    "Count": int(count),
                    "Min": low,
                    "Max": high,
                    "Avg": avg,
                    "StdDev": math.sqrt(max(variance, 0.0)),
                    "Last": value,
                    "TimeStamp": timestamp,
                }
            )
        return out

    @staticmethod
    def _last_id(conn, key, name: str) -> int:
        m = tc_points
        return conn.execute(
            select(m.c.id)
            .where(and_(key, m.c.metric_name == name))
            .order_by(m.c.timestamp.desc(), m.c.id.desc())
            .limit(1)
        ).scalar_one()

    def series(
        self,
        account_id: str,
        region: str,
        component: str,
        metric: str,
        start: float | None = None,
        end: float | None = None,
    ) -> list[tuple[float, int | None, float]]:
        """(timestamp, step, value) of one metric, in time order."""
        m = tc_points
        condition = and_(
            m.c.account_id == account_id,
            m.c.region == region,
            m.c.trial_component == component,
            m.c.metric_name == metric,
        )
        if start is not None:
            condition = and_(condition, m.c.timestamp >= start)
        if end is not None:
            condition = and_(condition, m.c.timestamp < end)
        with self.db.connect() as conn:
            rows = conn.execute(
                select(m.c.timestamp, m.c.step, m.c.value).where(condition).order_by(m.c.timestamp, m.c.id)
            ).all()
        return [tuple(r) for r in rows]

    def delete_points(self, account_id: str, region: str, component: str) -> None:
        with self.db.begin() as conn:
            conn.execute(
                tc_points.delete().where(
                    and_(
                        tc_points.c.account_id == account_id,
                        tc_points.c.region == region,
                        tc_points.c.trial_component == component,
                    )
                )
            )

    # -- lineage associations ------------------------------------------------------------------

    def add_association(
        self,
        account_id: str,
        region: str,
        source: str,
        destination: str,
        association_type: str | None,
        source_kind: tuple = (None, None),
        destination_kind: tuple = (None, None),
    ) -> bool:
        """Link two entities; ``*_kind``: (class, type) of each end. False when they already were."""
        a = lineage_associations
        with self.db.begin() as conn:
            if conn.execute(
                select(a.c.source_arn).where(
                    and_(a.c.source_arn == source, a.c.destination_arn == destination)
                )
            ).first():
                return False
            conn.execute(
                a.insert().values(
                    account_id=account_id,
                    region=region,
                    source_arn=source,
                    destination_arn=destination,
                    association_type=association_type,
                    source_class=source_kind[0],
                    source_type=source_kind[1],
                    destination_class=destination_kind[0],
                    destination_type=destination_kind[1],
                    created_at=time.time(),
                )
            )
        return True

    def delete_association(self, source: str, destination: str) -> bool:
        a = lineage_associations
        with self.db.begin() as conn:
            result = conn.execute(
                a.delete().where(and_(a.c.source_arn == source, a.c.destination_arn == destination))
            )
        return bool(result.rowcount)

    def associations(
        self,
        account_id: str,
        region: str,
        source: str | None = None,
        destination: str | None = None,
        association_type: str | None = None,
        source_type: str | None = None,
        destination_type: str | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
        descending: bool = True,
        offset: int = 0,
        limit: int = 100,
    ) -> list[dict]:
        a = lineage_associations
        condition = and_(a.c.account_id == account_id, a.c.region == region)
        if source:
            condition = and_(condition, a.c.source_arn == source)
        if destination:
            condition = and_(condition, a.c.destination_arn == destination)
        if association_type:
            condition = and_(condition, a.c.association_type == association_type)
        if source_type:
            condition = and_(condition, (a.c.source_class == source_type) | (a.c.source_type == source_type))
        if destination_type:
            condition = and_(
                condition,
                (a.c.destination_class == destination_type) | (a.c.destination_type == destination_type),
            )
        if created_after is not None:
            condition = and_(condition, a.c.created_at > created_after)
        if created_before is not None:
            condition = and_(condition, a.c.created_at < created_before)
        order = a.c.created_at.desc() if descending else a.c.created_at.asc()
        with self.db.connect() as conn:
            stmt = select(a).where(condition).order_by(order).offset(offset).limit(limit)
            rows = conn.execute(stmt).mappings().all()
        return [dict(r) for r in rows]

    def delete_associations_of(self, arn: str) -> None:
        a = lineage_associations
        with self.db.begin() as conn:
            conn.execute(a.delete().where((a.c.source_arn == arn) | (a.c.destination_arn == arn)))
