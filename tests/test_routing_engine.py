"""The routing scripts against a real Valkey/Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from teamtalk.routing.engine import Assignment, LeaderState, Outcome, Router, Snapshot
from teamtalk.routing.keys import Keys
from tests.conftest import Backend


@pytest.fixture
async def router(backend: Backend) -> AsyncIterator[Router]:
    redis = Redis.from_url(backend.redis_url, decode_responses=True)
    yield Router(redis, Keys(backend.prefix), max_attempts=3)
    await redis.aclose()


def given(state: Snapshot) -> Callable[[], Awaitable[Snapshot]]:
    """A rebuild's database read that answers `state`."""

    async def load() -> Snapshot:
        return state

    return load


def pairs(made: list[Assignment]) -> list[tuple[int, int]]:
    return [(a.conversation_id, a.leader_id) for a in made]


async def test_fifo_and_most_free_slots_win(router: Router) -> None:
    await router.enqueue([101, 102, 103, 104, 105])
    await router.leader_set(1, "online", 2)
    await router.leader_set(2, "online", 4, basket=[900])  # 3 free
    made = await router.assign(10)
    # Leader 2 has 3 free, leader 1 has 2: 2, then a tie (2 and 2) to the one assigned
    # longest ago (1 never was), then 2 again (2 free vs 1), and so on.
    assert pairs(made) == [(101, 2), (102, 1), (103, 2), (104, 1), (105, 2)]
    snap = await router.snapshot()
    assert snap.queue == []
    assert snap.leaders[1].basket == {102, 104} and snap.leaders[1].free == 0
    assert snap.leaders[2].basket == {900, 101, 103, 105} and snap.leaders[2].free == 0
    assert snap.available == []


async def test_ties_go_to_the_oldest_last_assignment(router: Router) -> None:
    for leader in (1, 2, 3):
        await router.leader_set(leader, "online", 4)
    await router.enqueue([1, 2, 3])
    assert [a.leader_id for a in await router.assign(3)] == [1, 2, 3]
    await router.release(2, 2)  # leader 2 now has the most free slots
    await router.release(1, 1)
    await router.enqueue([4, 5])
    # 1 and 2 both have 4 free; 1's last assignment is older.
    assert [a.leader_id for a in await router.assign(2)] == [1, 2]


async def test_capacity_is_never_exceeded_and_away_gets_nothing(router: Router) -> None:
    await router.leader_set(1, "online", 2)
    await router.leader_set(2, "away", 4)
    await router.enqueue(list(range(10, 20)))
    made = await router.assign(10)
    assert [a.leader_id for a in made] == [1, 1]
    snap = await router.snapshot()
    assert snap.queue == list(range(12, 20))
    assert snap.leaders[2].basket == set() and snap.leaders[2].status == "away"
    # Lowering capacity below the basket takes nothing away and gives nothing new.
    await router.leader_set(1, "online", 1)
    assert await router.assign(5) == []
    assert (await router.snapshot()).leaders[1].basket == {10, 11}
    await router.release(1, 10)
    assert await router.assign(5) == []  # 1 of capacity 1 is still full
    await router.release(1, 11)
    assert pairs(await router.assign(5)) == [(12, 1)]
    # Away to online picks up work at once.
    await router.leader_set(2, "online", 4)
    assert [a.leader_id for a in await router.assign(10)] == [2, 2, 2, 2]


async def test_offline_returns_the_basket_to_the_head_in_order(router: Router) -> None:
    await router.leader_set(1, "online", 4)
    await router.enqueue([1, 2, 3])
    await router.assign(3)
    for made in ([1, 2, 3],):
        for conv in made:
            await router.settle(Assignment(conv, 1), Outcome.COMMITTED)
    await router.enqueue([4, 5])
    assert await router.leader_offline(1, [1, 2, 3]) == 3
    snap = await router.snapshot()
    assert snap.queue == [1, 2, 3, 4, 5]
    assert 1 not in snap.leaders and snap.inflight == {}
    assert await router.assign(5) == []  # nobody online


async def test_settle_outcomes(router: Router) -> None:
    await router.leader_set(7, "online", 2)
    await router.enqueue([1, 2, 3])
    a, b = await router.assign(2)
    assert (await router.snapshot()).inflight == {1: 7, 2: 7}
    assert await router.settle(a, Outcome.COMMITTED) == 1
    assert await router.settle(a, Outcome.COMMITTED) == 0  # already settled: nothing changes
    assert await router.settle(Assignment(2, 8), Outcome.REQUEUE) == 0  # another leader's
    assert await router.settle(b, Outcome.REQUEUE) == 1
    snap = await router.snapshot()
    assert snap.queue == [2, 3] and snap.leaders[7].basket == {1} and snap.leaders[7].free == 1
    (c,) = await router.assign(1)
    assert c == Assignment(2, 7)
    assert await router.settle(c, Outcome.DROP) == 1  # e.g. withdrawn meanwhile
    snap = await router.snapshot()
    assert snap.queue == [3] and snap.leaders[7].basket == {1}


async def test_rollback_does_not_resurrect_an_offline_leader(router: Router) -> None:
    await router.leader_set(7, "online", 4)
    await router.enqueue([1])
    (a,) = await router.assign(1)
    await router.leader_offline(7, [])  # the database never committed 1
    assert await router.settle(a, Outcome.REQUEUE) == 1
    snap = await router.snapshot()
    assert snap.queue == [1] and snap.leaders == {} and snap.available == []


async def test_a_conversation_that_keeps_failing_is_parked(router: Router) -> None:
    await router.leader_set(7, "online", 4)
    await router.enqueue([1, 2])
    results = []
    for _ in range(3):
        made = await router.assign(1)
        assert made[0].conversation_id == 1
        results.append(await router.settle(made[0], Outcome.REQUEUE))
    assert results == [1, 1, 2]
    snap = await router.snapshot()
    assert snap.parked == {1} and snap.queue == [2]  # never blocks the rest


async def test_coming_back_online_counts_in_flight_work(router: Router) -> None:
    await router.leader_set(7, "online", 2)
    await router.enqueue([1, 2, 3])
    assert len(await router.assign(1)) == 1
    await router.leader_offline(7, [])
    await router.leader_set(7, "online", 2, basket=[50])  # the database knows of 50
    snap = await router.snapshot()
    assert snap.leaders[7].basket == {50, 1} and snap.leaders[7].free == 0


async def test_withdraw_and_position(router: Router) -> None:
    assert await router.enqueue([1, 2]) == 2
    assert await router.enqueue([3]) == 3
    assert await router.queue_position(3) == 3
    assert await router.withdraw(2) is True
    assert await router.withdraw(2) is False
    assert await router.queue_position(3) == 2
    assert await router.queue_position(2) is None


async def test_rebuild_replaces_everything(router: Router) -> None:
    await router.leader_set(1, "online", 4)
    await router.enqueue([1, 2, 3])
    await router.assign(1)
    state = Snapshot(
        queue=[5, 6],
        leaders={2: LeaderState("online", 3, 0, {7}), 3: LeaderState("away", 4, 0, set())},
        inflight={},
        available=[],
        parked=set(),
    )
    await router.rebuild(given(state))
    snap = await router.snapshot()
    assert snap.queue == [5, 6]
    assert set(snap.leaders) == {2, 3}
    assert snap.leaders[2].basket == {7} and snap.leaders[2].free == 2
    assert snap.available == [2]
    # Work in flight survives a rebuild and is settled by its worker as usual.
    assert snap.inflight == {1: 1}
    assert await router.settle(Assignment(1, 1), Outcome.REQUEUE) == 1
    assert (await router.snapshot()).queue == [1, 5, 6]


async def test_a_rebuild_rereads_the_database_after_a_race(router: Router) -> None:
    """An assignment committed and settled while the rebuild reads the database: the read is
    stale, and writing it would put the conversation back in the queue."""
    await router.leader_set(2, "online", 3)
    await router.enqueue([1])
    reads = 0

    async def load() -> Snapshot:
        nonlocal reads
        reads += 1
        if reads == 1:
            (made,) = await router.assign(1)
            assert await router.settle(made, Outcome.COMMITTED) == 1
            return Snapshot([1], {2: LeaderState("online", 3, 0, set())}, {}, [], set())
        return Snapshot([], {2: LeaderState("online", 3, 0, {1})}, {}, [], set())

    await router.rebuild(load)
    snap = await router.snapshot()
    assert reads == 2
    assert snap.queue == [] and snap.leaders[2].basket == {1} and snap.leaders[2].free == 2


async def test_rebuild_keeps_in_flight_work_in_its_basket(router: Router) -> None:
    await router.leader_set(2, "online", 3)
    await router.enqueue([1, 2])
    (a, b) = await router.assign(2)
    state = Snapshot(
        queue=[1, 2, 3],  # the database has not seen the assignments yet
        leaders={2: LeaderState("online", 3, 0, set())},
        inflight={},
        available=[],
        parked=set(),
    )
    await router.rebuild(given(state))
    snap = await router.snapshot()
    assert snap.queue == [3] and snap.leaders[2].basket == {1, 2} and snap.leaders[2].free == 1
    assert await router.settle(a, Outcome.COMMITTED) == 1
    assert await router.settle(b, Outcome.DROP) == 1
    snap = await router.snapshot()
    assert snap.leaders[2].basket == {1} and snap.leaders[2].free == 2


async def test_wake_signal(router: Router) -> None:
    assert await router.wait_for_work(0.05) is False
    await router.enqueue([1])
    assert await router.wait_for_work(1) is True
    assert await router.wait_for_work(0.05) is False  # one token, taken


async def test_scripts_reload_after_the_server_forgets_them(valkey_url: str) -> None:
    redis = Redis.from_url(valkey_url, decode_responses=True)
    router = Router(redis, Keys("tt-test-noscript:"))
    await router.leader_set(1, "online", 1)
    await redis.script_flush()  # our own private Valkey: nobody else's scripts
    await router.enqueue([1])
    assert pairs(await router.assign(1)) == [(1, 1)]
    await router.leader_offline(1, [])
    await redis.delete(*[k async for k in redis.scan_iter(match="tt-test-noscript:*")])
    await redis.aclose()


async def test_returned_conversations_keep_their_creation_order(router: Router) -> None:
    await router.leader_set(1, "online", 4)
    await router.leader_set(2, "online", 4)
    await router.enqueue([1, 2, 3, 4, 5, 6])
    made = await router.assign(4)  # 1, 3 to one leader; 2, 4 to the other
    for a in made:
        await router.settle(a, Outcome.COMMITTED)
    by_leader: dict[int, list[int]] = {}
    for a in made:
        by_leader.setdefault(a.leader_id, []).append(a.conversation_id)
    # The second leader's conversations come back first, then the first leader's:
    # the queue still serves them in creation order, ahead of the new ones.
    await router.leader_offline(2, by_leader[2])
    await router.leader_offline(1, by_leader[1])
    assert (await router.snapshot()).queue == [1, 2, 3, 4, 5, 6]
    assert await router.queue_position(3) == 3 and await router.queue_position(6) == 6


async def test_parked_conversations_get_another_chance(router: Router) -> None:
    await router.leader_set(7, "online", 4)
    await router.enqueue([1, 2])
    for _ in range(3):
        (a,) = await router.assign(1)
        await router.settle(a, Outcome.REQUEUE)
    assert (await router.snapshot()).parked == {1}
    assert await router.unpark(older_than_ms=60_000) == 0  # not yet
    assert await router.unpark(older_than_ms=0) == 1
    snap = await router.snapshot()
    assert snap.parked == set() and snap.queue == [1, 2]
    (a,) = await router.assign(1)
    assert a.conversation_id == 1


async def test_a_preferred_leader_gets_it_when_online_with_a_free_slot(router: Router) -> None:
    await router.leader_set(1, "online", 4)
    await router.leader_set(2, "online", 2)  # fewer free slots: not the usual pick
    await router.enqueue([10], head=True, prefer=2)
    (a,) = await router.assign(1)
    assert a == Assignment(10, 2)
    # Used once: the next one goes by free slots again.
    await router.enqueue([11])
    (b,) = await router.assign(1)
    assert b == Assignment(11, 1)


async def test_a_preferred_leader_who_is_away_or_full_is_passed_over(router: Router) -> None:
    await router.leader_set(1, "online", 4)
    await router.leader_set(2, "away", 4)
    await router.leader_set(3, "online", 1)
    await router.enqueue([5])
    assert await router.assign(1) == [Assignment(5, 1)]
    await router.leader_set(1, "online", 1)  # full now
    await router.enqueue([20], prefer=2)
    await router.enqueue([21], prefer=1)
    assert await router.assign(2) == [Assignment(20, 3)]
    assert (await router.snapshot()).queue == [21]


async def test_an_avoided_leader_gets_it_only_when_nobody_else_can(router: Router) -> None:
    await router.leader_set(1, "online", 4)
    await router.leader_set(2, "online", 2)
    await router.enqueue([30], head=True, avoid=1)
    assert await router.assign(1) == [Assignment(30, 2)]
    await router.leader_set(2, "offline", 2)
    await router.enqueue([31], head=True, avoid=1)
    assert await router.assign(1) == [Assignment(31, 1)]


async def test_transfer_moves_the_slot_only_to_an_online_leader_with_room(router: Router) -> None:
    await router.leader_set(1, "online", 2)
    await router.leader_set(2, "online", 1)
    await router.leader_set(3, "away", 4)
    await router.enqueue([40, 41])
    made = await router.assign(2)
    for a in made:
        await router.settle(a, Outcome.COMMITTED)
    held_by_1 = [a.conversation_id for a in made if a.leader_id == 1]
    assert await router.transfer(1, 3, held_by_1[0]) is False  # away
    assert await router.transfer(1, 2, held_by_1[0]) is False  # full
    await router.leader_set(2, "online", 2)
    assert await router.transfer(1, 2, held_by_1[0]) is True
    snap = await router.snapshot()
    assert held_by_1[0] in snap.leaders[2].basket and held_by_1[0] not in snap.leaders[1].basket
    assert snap.leaders[2].free == 0 and snap.leaders[1].free == 2 - len(held_by_1) + 1
    assert await router.transfer(2, 1, held_by_1[0], force=True) is True


async def test_withdraw_forgets_a_preference(router: Router) -> None:
    await router.enqueue([50], prefer=9)
    assert await router.withdraw(50) is True
    assert await router.withdraw(50) is False
    assert not await router.redis.exists(router.keys.preferred)


# Supervisor overrides.


async def test_move_to_front_goes_ahead_of_everything_latest_first(router: Router) -> None:
    await router.enqueue([101, 102, 103])
    await router.enqueue([201], head=True)  # returned: served before new work
    assert await router.move_to_front(103, 5) == "new"
    assert (await router.snapshot()).queue == [103, 201, 101, 102]
    assert await router.move_to_front(201, 7) == "returned"
    assert await router.move_to_front(103, 9) == "5"  # an earlier move's number
    snap = await router.snapshot()
    assert snap.queue == [103, 201, 101, 102] and snap.front == {103: 9, 201: 7}
    assert await router.move_to_front(103, 11) == "first"  # nothing to do
    assert (await router.snapshot()).front == {103: 9, 201: 7}
    assert await router.move_to_front(999, 12) == ""
    assert await router.queue_position(201) == 2


async def test_a_move_is_undone_exactly(router: Router) -> None:
    await router.enqueue([101, 102, 103])
    await router.enqueue([201], head=True)
    before = await router.snapshot()
    for cid, place in ((102, "new"), (201, "returned")):
        assert await router.move_to_front(cid, 5) == place
        assert await router.undo_move_to_front(cid, 5, place) is True
        assert await router.snapshot() == before
        assert await router.undo_move_to_front(cid, 5, place) is False  # no longer holds
    # Moved twice, the second move undone: back where the first move put it.
    assert await router.move_to_front(102, 5) == "new"
    assert await router.move_to_front(101, 6) == "new"
    assert await router.move_to_front(102, 7) == "5"
    assert await router.undo_move_to_front(102, 7, "5") is True
    snap = await router.snapshot()
    assert snap.queue == [101, 102, 201, 103] and snap.front == {101: 6, 102: 5}


async def test_a_move_holds_through_failed_attempts_until_settled(router: Router) -> None:
    await router.leader_set(7, "online", 1)
    await router.enqueue([1, 2])
    await router.enqueue([3], head=True)
    assert await router.move_to_front(2, 5) == "new"
    (a,) = await router.assign(1)
    assert a.conversation_id == 2
    assert await router.move_to_front(2, 6) == ""  # in flight: not waiting
    assert await router.settle(a, Outcome.REQUEUE) == 1
    assert (await router.snapshot()).queue == [2, 3, 1]  # still in front
    (a,) = await router.assign(1)
    assert await router.settle(a, Outcome.RETRY) == 1
    assert (await router.snapshot()).queue == [2, 3, 1]
    (a,) = await router.assign(1)
    assert await router.settle(a, Outcome.COMMITTED) == 1
    assert (await router.snapshot()).front == {}
    await router.leader_offline(7, [2])  # back from its leader: among the returned
    assert (await router.snapshot()).queue == [2, 3, 1]
    assert await router.move_to_front(1, 8) == "new"
    assert await router.withdraw(1) is True
    assert (await router.snapshot()).front == {}


async def test_assign_to_checks_and_takes_the_slot_in_one_step(router: Router) -> None:
    await router.leader_set(1, "online", 1)
    await router.leader_set(2, "away", 4)
    await router.enqueue([10, 11, 12])
    await router.enqueue([20], head=True)
    assert await router.assign_to(2, 10) == "leader_unavailable"  # away
    assert await router.assign_to(3, 10) == "leader_unavailable"  # offline
    assert await router.assign_to(1, 99) == "conversation_not_queued"
    before = await router.snapshot()
    assert await router.assign_to(1, 11) == "new"
    snap = await router.snapshot()
    assert snap.queue == [20, 10, 12] and snap.inflight == {11: 1}
    assert snap.leaders[1].basket == {11} and snap.leaders[1].free == 0 and snap.available == []
    assert await router.assign_to(1, 12) == "leader_full"
    assert await router.undo_assign_to(1, 11, "new") is True
    assert await router.snapshot() == before
    assert await router.undo_assign_to(1, 11, "new") is False
    assert await router.assign_to(1, 20) == "returned"
    assert await router.settle(Assignment(20, 1), Outcome.COMMITTED) == 1
    snap = await router.snapshot()
    assert snap.inflight == {} and snap.leaders[1].basket == {20} and snap.queue == [10, 11, 12]


async def test_assign_to_refuses_work_in_flight_or_parked(router: Router) -> None:
    await router.leader_set(1, "online", 4)
    await router.enqueue([10, 11])
    (a,) = await router.assign(1)
    assert await router.assign_to(1, a.conversation_id) == "conversation_not_queued"
    await router.redis.zadd(router.keys.parked, {"11": 1})
    await router.redis.lrem(router.keys.queue, 0, "11")
    assert await router.assign_to(1, 11) == "conversation_not_queued"
    assert await router.move_to_front(11, 3) == ""


async def test_rebuild_keeps_moves_to_the_front(router: Router) -> None:
    await router.rebuild(
        given(
            Snapshot(
                queue=[30, 31, 32, 33],
                leaders={},
                inflight={},
                available=[],
                parked=set(),
                returned={32},
                front={31: 5, 33: 9},
            )
        )
    )
    snap = await router.snapshot()
    assert snap.queue == [33, 31, 32, 30] and snap.front == {31: 5, 33: 9}
