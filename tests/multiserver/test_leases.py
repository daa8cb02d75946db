"""Leases (store/leases.py): taking, renewing, expiry and takeover, fencing — on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from sagestack.store.db import Database
from sagestack.store.leases import LeaseLost, Leases, SoleLeases


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    else:
        database = Database(request.getfixturevalue("pg_database"))
    database.create_schema()
    with database.begin() as conn:  # the module's database: each test starts with no leases
        conn.exec_driver_sql("DELETE FROM leases")
    yield database
    database.dispose()


def test_one_owner_at_a_time_and_takeover_after_expiry(db):
    a = Leases(db, "server-a", ttl=0.6)
    b = Leases(db, "server-b", ttl=0.6)
    first = a.acquire("training-job", "000000000000/us-east-1/job")
    assert first is not None and first.generation == 1 and first.taken_from is None
    assert b.acquire("training-job", "000000000000/us-east-1/job") is None  # a holds it
    assert a.acquire("training-job", "000000000000/us-east-1/job").generation == 1  # ours: same generation
    assert b.owner_of("training-job", "000000000000/us-east-1/job") == "server-a"
    for _ in range(3):  # renewals keep it a's past the lease time
        time.sleep(0.3)
        a.renew()
        assert b.acquire("training-job", "000000000000/us-east-1/job") is None
    time.sleep(0.8)  # a stops renewing (it died)
    taken = b.acquire("training-job", "000000000000/us-east-1/job")
    assert taken is not None and taken.generation == 2 and taken.taken_from == "server-a"
    # a comes back: its fencing token is stale, its writes are refused and it cannot take the lease back
    with pytest.raises(LeaseLost):
        a.check("training-job", "000000000000/us-east-1/job", 1)
    assert a.acquire("training-job", "000000000000/us-east-1/job") is None
    b.check("training-job", "000000000000/us-east-1/job", 2)  # the new owner passes the fence
    a.renew()
    assert not a.holds("training-job", "000000000000/us-east-1/job")
    assert b.holds("training-job", "000000000000/us-east-1/job", 2)


def test_release_and_release_all_hand_over_at_once(db):
    a = Leases(db, "server-a", ttl=30)
    b = Leases(db, "server-b", ttl=30)
    a.renew()  # heartbeat
    assert a.acquire("endpoint", "e1") and a.acquire("endpoint", "e2") and a.acquire("loop", "tuning")
    assert [s["id"] for s in b.servers()] == ["server-a"]
    a.release("endpoint", "e1")
    assert b.acquire("endpoint", "e1").generation == 1  # a fresh lease: nothing to take over
    assert b.acquire("endpoint", "e2") is None
    a.release_all()  # a clean stop
    assert b.servers() == []
    time.sleep(1.1)  # b asks again after at most a second
    assert b.acquire("endpoint", "e2") is not None and b.acquire("loop", "tuning") is not None


def test_two_servers_racing_for_new_leases_never_share_one(db):
    import threading

    servers = [Leases(db, f"server-{i}", ttl=30) for i in range(4)]
    won: dict[str, list[str]] = {}
    lock = threading.Lock()

    def grab(leases):
        for n in range(15):
            if leases.acquire("training-job", f"job-{n}") is not None:
                with lock:
                    won.setdefault(f"job-{n}", []).append(leases.server_id)

    threads = [threading.Thread(target=grab, args=(s,)) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == sorted(f"job-{n}" for n in range(15))
    assert all(len(owners) == 1 for owners in won.values()), won


def test_one_server_alone_owns_everything_without_the_database():
    sole = SoleLeases()
    assert sole.acquire("training-job", "x").generation == 1
    assert sole.holds("training-job", "x") and sole.owner_of("endpoint", "y") == sole.server_id
    sole.check("training-job", "x", 1)
    assert not sole.clustered


def test_a_run_that_lost_its_lease_writes_nothing(db):
    """The fencing token: a run's observer passes on writes only while its lease generation is current."""
    from sagestack.reconcilers.base import FencedRecorder

    class Recorder:
        def __init__(self):
            self.calls = []

        def on_progress(self, secondary, *, message=None, extra=None):
            self.calls.append(("progress", secondary))
            return {"SecondaryStatus": secondary}

        def on_processes(self, pids):
            self.calls.append(("processes", pids))

        def on_finished(self, status, **kwargs):
            self.calls.append(("finished", status))

    a = Leases(db, "server-a", ttl=0.5)
    b = Leases(db, "server-b", ttl=0.5)
    recorder = Recorder()
    fenced = FencedRecorder(recorder, a, a.acquire("training-job", "j"))
    assert fenced.on_progress("Downloading") == {"SecondaryStatus": "Downloading"}
    fenced.on_processes([123])
    time.sleep(0.7)  # a stalls past its lease; b takes the job over
    assert b.acquire("training-job", "j").generation == 2
    assert fenced.on_progress("Training") is None  # as for a job that is gone: the run ends
    fenced.on_finished("Completed")
    assert recorder.calls == [("progress", "Downloading"), ("processes", [123])]
    assert fenced.lost and b.owner_of("training-job", "j") == "server-b"
    # the owner's own run finishing gives the lease back
    mine = FencedRecorder(Recorder(), b, b.acquire("training-job", "j"))
    mine.on_finished("Completed")
    assert b.owner_of("training-job", "j") is None


def test_a_loop_runs_on_one_server_at_a_time_and_moves_when_it_stops(tmp_path):
    """Reconciler ownership "loop": two platforms (servers) on one database run its passes on one of them
    only; when that one stops, the other takes the loop over."""
    import dataclasses

    from sagestack.platform import Platform
    from sagestack.reconcilers.base import Reconciler
    from sagestack.settings import Settings

    passes: dict[str, int] = {}

    class Counting(Reconciler):
        name = "counting"
        interval = 0.05

        def step(self) -> None:
            server = self.platform.leases.server_id
            passes[server] = passes.get(server, 0) + 1

    settings = dataclasses.replace(
        Settings.from_env({}), data_dir=tmp_path / "data", cluster=True, lease_seconds=0.9
    )
    first, second = Platform(settings), Platform(settings)
    try:
        Counting.start(first)
        first.start()
        deadline = time.time() + 5
        while time.time() < deadline and not passes:
            time.sleep(0.02)
        Counting.start(second)
        second.start()
        time.sleep(1.0)
        assert list(passes) == [first.leases.server_id] and passes[first.leases.server_id] > 3
        first.stop()  # gives its leases back: the other takes the loop over at its next look
        before = passes.get(second.leases.server_id, 0)
        time.sleep(2.0)
        assert passes.get(second.leases.server_id, 0) > before + 3
    finally:
        if not first.stopping:
            first.stop()
        second.stop()
