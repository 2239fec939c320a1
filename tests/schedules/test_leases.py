"""Live leases: the rules as plain code, the same rules in SQL on SQLite and PostgreSQL (exactly
one of many simultaneous takers wins), and the keeper's fencing: a node that lost a date's lease,
or cannot renew it, stops the date before another node may take it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from knoten.db import Database
from schedules.clock import FakeClock
from schedules.lease_keeper import LeaseKeeper
from schedules.lease_store import LeaseStore
from schedules.leases import Lease, LeaseTiming, held_elsewhere, is_held, may_take, must_fence
from schedules.service import ScheduleService, SeminarDraft

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
TTL = timedelta(seconds=6)


def _lease(node: str, expires_in_s: float) -> Lease:
    return Lease(7, node, f"http://{node}:8080", NOW + timedelta(seconds=expires_in_s))


@pytest.mark.parametrize(
    ("lease", "node", "takes", "elsewhere"),
    [
        (None, "a", True, False),  # nobody runs the date
        (_lease("a", 5), "a", True, False),  # its own: a restarted node keeps its dates
        (_lease("b", 5), "a", False, True),  # another node runs it
        (_lease("b", 0), "a", True, False),  # expired exactly now: free
        (_lease("b", -30), "a", True, False),  # a dead node's
        (_lease("a", -30), "a", True, False),  # its own, late: nobody else took it
    ],
)
def test_who_may_take_a_date(lease: Lease | None, node: str, takes: bool, elsewhere: bool) -> None:
    assert may_take(lease, node, NOW) is takes
    assert held_elsewhere(lease, node, NOW) is elsewhere


def test_a_lease_holds_until_its_expiry_and_fencing_comes_one_renewal_earlier() -> None:
    assert is_held(_lease("a", 0.001), NOW) and not is_held(_lease("a", 0), NOW)
    assert not is_held(None, NOW)
    timing = LeaseTiming(renew_s=2, ttl_s=6)
    assert timing.fence_after_s == 4
    assert not must_fence(100.0, 103.9, timing)
    assert must_fence(100.0, 104.0, timing)
    with pytest.raises(ValueError):
        LeaseTiming(renew_s=2, ttl_s=3)  # one late renewal would hand the date away
    with pytest.raises(ValueError):
        LeaseTiming(renew_s=0, ttl_s=3)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    await db.start()
    try:
        yield db
    finally:
        await db.aclose()


async def _date(db: Database) -> int:
    schedule = ScheduleService(lambda: db.engine, FakeClock(NOW))
    draft = SeminarDraft(
        title="Lesung", room_id=1, start=datetime(2027, 3, 2, 18), end=datetime(2027, 3, 2, 19)
    )
    return (await schedule.create_seminar(draft)).occurrences[0].id


@pytest.mark.both_databases
async def test_the_database_lets_exactly_one_node_take_a_date(database: Database) -> None:
    oid = await _date(database)
    store = LeaseStore(lambda: database.engine)
    # Eight nodes at once on a free date, then eight at once on an expired one: one winner each.
    won = await asyncio.gather(
        *(store.take(oid, f"n{i}", f"http://n{i}", NOW, TTL) for i in range(8))
    )
    assert sum(won) == 1, won
    first = (await store.holders([oid]))[oid].node_id
    assert not await store.take(oid, "late", "http://late", NOW + timedelta(seconds=5), TTL)
    later = NOW + timedelta(seconds=7)
    won = await asyncio.gather(
        *(store.take(oid, f"m{i}", f"http://m{i}", later, TTL) for i in range(8))
    )
    assert sum(won) == 1, won
    second = (await store.holders([oid]))[oid]
    assert second.node_id.startswith("m") and second.expires_at == later + TTL
    # The old holder's renewal finds nothing of its own any more; the new holder's succeeds.
    assert await store.renew(first, [oid], later + TTL) == set()
    assert await store.renew(second.node_id, [oid], later + 2 * TTL) == {oid}
    # Releasing is only the holder's: another node's release changes nothing.
    await store.release(first, [oid])
    assert oid in await store.holders([oid])
    await store.release(second.node_id, [oid])
    assert await store.holders() == {}


class _Source:
    """No date wants anything: the keeper's watch only renews and fences."""

    async def reconcile_candidates(self, now: datetime) -> list:
        return []


class _Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _keeper(
    store: LeaseStore, node: str, clock: FakeClock, fenced: list, monotonic: _Monotonic
) -> LeaseKeeper:
    async def fence(occurrence_id: int, reason: str) -> None:
        fenced.append((node, occurrence_id, reason))

    async def reconcile() -> None:
        return None

    return LeaseKeeper(
        store,
        _Source(),  # type: ignore[arg-type]
        clock,
        node_id=node,
        node_url=f"http://{node}",
        running=set,
        reconcile=reconcile,
        fence=fence,
        monotonic=monotonic,
    )


async def test_a_node_that_lost_its_lease_stops_the_date(database: Database) -> None:
    oid = await _date(database)
    store = LeaseStore(lambda: database.engine)
    clock, mono, fenced = FakeClock(NOW), _Monotonic(), []
    a = _keeper(store, "a", clock, fenced, mono)
    b = _keeper(store, "b", clock, fenced, mono)
    assert await a.claim(oid) and not await b.claim(oid)
    assert (await b.holder(oid)) == Lease(oid, "a", "http://a", NOW + TTL)
    assert await b.held_elsewhere() == {oid} and await a.held_elsewhere() == set()
    # Node a stalls (a long pause, a slow disk): its lease runs out and b takes the date.
    clock.advance(timedelta(seconds=6))
    assert await b.claim(oid)
    await a.renew()
    await a.stop()  # lets the fence it started finish
    assert fenced == [("a", oid, "fenced: another node took the date over")]
    assert not a.holds(oid) and b.holds(oid)
    # A released lease is free at once: the next node need not wait for the expiry.
    await b.aclose()
    assert await a.claim(oid)


class _Unreachable(LeaseStore):
    async def renew(self, node_id, occurrence_ids, expires_at):  # type: ignore[no-untyped-def]
        raise ConnectionError("database unreachable")


async def test_a_node_that_cannot_renew_stops_before_its_lease_runs_out(
    database: Database,
) -> None:
    oid = await _date(database)
    clock, mono, fenced = FakeClock(NOW), _Monotonic(), []
    keeper = _keeper(_Unreachable(lambda: database.engine), "a", clock, fenced, mono)
    assert await keeper.claim(oid)
    mono.now += 2
    await keeper.renew()
    assert fenced == [] and keeper.holds(oid)  # one failed renewal is no reason to stop
    mono.now += 2  # fence_after_s (4 s) since the take: 2 s before the lease expires anywhere
    await keeper.renew()
    await keeper.stop()
    assert fenced == [("a", oid, "fenced: lease not renewed for 4.0 s")]
