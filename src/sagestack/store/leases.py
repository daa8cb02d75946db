"""Leases: which server owns a resource (a job, an endpoint, a control loop) right now.

Several ``sagestack serve`` processes may share one database (``--cluster``). Each server has an id;
a lease row ``(kind, name)`` names its ``owner``, a ``generation`` (the fencing token: it grows by one
each time the lease changes hands) and ``expires_at`` (seconds since the epoch). The owner renews all of
its leases in one statement every ``renew_every`` seconds; a lease whose owner stopped renewing it
expires and the next server that asks takes it over (``generation + 1``). A write made on behalf of a
lease checks the generation first (:meth:`Leases.check`), so a server that lost a lease — it was cut off,
paused, or presumed dead — can never write over the new owner's work.

Servers themselves hold a lease of kind ``server`` (their heartbeat; ``detail`` says where they listen).

One server alone (the default) uses :class:`SoleLeases`: every lease is its own, nothing is stored, and
the reconcilers' fast path costs one method call.

Clocks: ``expires_at`` is written from each server's clock; servers on several machines need their
clocks in sync (NTP) to well under the lease time.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import Column, Float, Integer, String, Table, Text, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .schema import metadata

leases = Table(
    "leases",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("detail", Text),
)

SERVER = "server"  # the kind of a server's own heartbeat lease


class LeaseLost(Exception):
    """The lease moved to another server (or expired): whatever ran under it must not write."""


@dataclass(frozen=True)
class Lease:
    kind: str
    name: str
    generation: int
    #: The server that held it before, when this server just took it over from one that stopped
    #: renewing it (None: new, or already ours).
    taken_from: str | None = None


def new_server_id() -> str:
    return uuid.uuid4().hex[:16]


class SoleLeases:
    """One server on its database: every lease is ours, always."""

    clustered = False

    def __init__(self, server_id: str | None = None):
        self.server_id = server_id or new_server_id()

    def acquire(self, kind: str, name: str) -> Lease:
        return Lease(kind, name, 1)

    def holds(self, kind: str, name: str, generation: int | None = None) -> bool:
        return True

    def check(self, kind: str, name: str, generation: int) -> None:
        return None

    def release(self, kind: str, name: str) -> None:
        return None

    def owner_of(self, kind: str, name: str) -> str | None:
        return self.server_id

    def renew(self) -> None:
        return None

    def release_all(self) -> None:
        return None

    def servers(self) -> list[dict]:
        return []


class Leases(SoleLeases):
    """Row leases in the shared database. ``ttl``: seconds a lease lives without renewal."""

    clustered = True

    def __init__(self, db, server_id: str | None = None, ttl: float = 5.0, detail: dict | None = None):
        super().__init__(server_id)
        self.db = db
        self.ttl = ttl
        self.detail = json.dumps(detail or {})
        self._lock = threading.Lock()
        self._mine: dict[tuple[str, str], int] = {}  # (kind, name) → generation, as last renewed
        self._others: dict[tuple[str, str], float] = {}  # held elsewhere → until when (no need to ask)

    @property
    def renew_every(self) -> float:
        return max(0.2, self.ttl / 3)

    # -- taking and keeping --------------------------------------------------------------------

    def acquire(self, kind: str, name: str) -> Lease | None:
        """The lease if this server holds it or could take it (new, or expired); None while another
        live server holds it. Cheap for leases already ours and for ones known to be held elsewhere."""
        key = (kind, name)
        now = time.time()
        with self._lock:
            generation = self._mine.get(key)
            if generation is not None:
                return Lease(kind, name, generation)
            if self._others.get(key, 0.0) > now:
                return None
        with self.db.begin() as conn:
            row = conn.execute(
                select(leases.c.owner, leases.c.generation, leases.c.expires_at).where(
                    and_(leases.c.kind == kind, leases.c.name == name)
                )
            ).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(leases).values(
                                kind=kind,
                                name=name,
                                owner=self.server_id,
                                generation=1,
                                expires_at=now + self.ttl,
                            )
                        )
                except IntegrityError:
                    return None  # another server inserted it first; ask again next pass
                lease = Lease(kind, name, 1)
            elif row.owner == self.server_id:
                conn.execute(
                    update(leases)
                    .where(and_(leases.c.kind == kind, leases.c.name == name))
                    .values(expires_at=now + self.ttl)
                )
                lease = Lease(kind, name, row.generation)
            elif row.expires_at > now:
                with self._lock:  # no need to ask again for a while (a released lease: within a second)
                    self._others[key] = min(row.expires_at, now + min(1.0, self.renew_every))
                return None
            else:
                result = conn.execute(
                    update(leases)
                    .where(
                        and_(
                            leases.c.kind == kind,
                            leases.c.name == name,
                            leases.c.owner == row.owner,
                            leases.c.generation == row.generation,
                        )
                    )
                    .values(owner=self.server_id, generation=row.generation + 1, expires_at=now + self.ttl)
                )
                if result.rowcount != 1:
                    return None  # someone else took it over first
                lease = Lease(kind, name, row.generation + 1, taken_from=row.owner)
        with self._lock:
            self._mine[key] = lease.generation
            self._others.pop(key, None)
        return lease

    def holds(self, kind: str, name: str, generation: int | None = None) -> bool:
        """From memory, as of the last renewal: is the lease (at ``generation``) still ours?"""
        with self._lock:
            held = self._mine.get((kind, name))
        return held is not None and (generation is None or held == generation)

    def check(self, kind: str, name: str, generation: int) -> None:
        """Raise :class:`LeaseLost` unless the database says the lease is ours, at ``generation``, and
        unexpired: the fence a run passes before each write it makes."""
        with self.db.connect() as conn:
            row = conn.execute(
                select(leases.c.owner, leases.c.generation, leases.c.expires_at).where(
                    and_(leases.c.kind == kind, leases.c.name == name)
                )
            ).first()
        if (
            row is None
            or row.owner != self.server_id
            or row.generation != generation
            or row.expires_at <= time.time()
        ):
            with self._lock:
                if self._mine.get((kind, name)) == generation:
                    self._mine.pop((kind, name), None)
            raise LeaseLost(f"{kind} {name}: lease generation {generation} is no longer ours")

    def release(self, kind: str, name: str) -> None:
        """Give a lease up (the resource is finished or gone): the next asker takes it at once."""
        with self._lock:
            self._mine.pop((kind, name), None)
        with self.db.begin() as conn:
            conn.execute(
                delete(leases).where(
                    and_(leases.c.kind == kind, leases.c.name == name, leases.c.owner == self.server_id)
                )
            )

    def owner_of(self, kind: str, name: str) -> str | None:
        with self.db.connect() as conn:
            row = conn.execute(
                select(leases.c.owner, leases.c.expires_at).where(
                    and_(leases.c.kind == kind, leases.c.name == name)
                )
            ).first()
        return row.owner if row is not None and row.expires_at > time.time() else None

    def renew(self) -> None:
        """Extend every lease this server holds (and its heartbeat) in one statement, then learn which
        are still ours: one that expired and was taken over meanwhile is dropped from memory."""
        now = time.time()
        with self.db.begin() as conn:
            beat = conn.execute(
                update(leases)
                .where(and_(leases.c.kind == SERVER, leases.c.name == self.server_id))
                .values(expires_at=now + self.ttl, detail=self.detail)
            )
            if beat.rowcount == 0:
                conn.execute(
                    insert(leases).values(
                        kind=SERVER,
                        name=self.server_id,
                        owner=self.server_id,
                        generation=1,
                        expires_at=now + self.ttl,
                        detail=self.detail,
                    )
                )
            conn.execute(
                update(leases).where(leases.c.owner == self.server_id).values(expires_at=now + self.ttl)
            )
            rows = conn.execute(
                select(leases.c.kind, leases.c.name, leases.c.generation).where(
                    and_(leases.c.owner == self.server_id, leases.c.kind != SERVER)
                )
            ).all()
        with self._lock:
            self._mine = {(r.kind, r.name): r.generation for r in rows}
            self._others = {k: v for k, v in self._others.items() if v > now}

    def release_all(self) -> None:
        """A clean stop: every lease (and the heartbeat) goes at once, so others take over now."""
        with self._lock:
            self._mine.clear()
        with self.db.begin() as conn:
            conn.execute(delete(leases).where(leases.c.owner == self.server_id))

    def servers(self) -> list[dict]:
        """The live servers (heartbeats not expired): id and what each said about itself."""
        now = time.time()
        with self.db.connect() as conn:
            rows = conn.execute(
                select(leases.c.name, leases.c.detail, leases.c.expires_at).where(
                    and_(leases.c.kind == SERVER, leases.c.expires_at > now)
                )
            ).all()
        return [{"id": r.name, **json.loads(r.detail or "{}")} for r in rows]
