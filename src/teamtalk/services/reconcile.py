"""Routing state from the database, the source of truth: build it, compare it, restore it,
and settle what a dead worker left in flight."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.models import Conversation, ConversationEvent, Presence, Role, Status, User
from teamtalk.resources import Resources
from teamtalk.routing.engine import Assignment, LeaderState, Outcome, Snapshot

log = logging.getLogger(__name__)


async def database_state(db: AsyncSession) -> Snapshot:
    queued = list(
        await db.execute(
            select(Conversation.id, Conversation.assigned_at.is_not(None))
            .where(Conversation.status == Status.QUEUED)
            .order_by(Conversation.queued_at, Conversation.id)
        )
    )
    failures, preferred, front = await _requeue_facts(db)
    # Moved to the front by a supervisor: ahead of everything, the latest move first. Then
    # the ones queued after having been assigned, or after a failed attempt: they came
    # back, and are served next, by id.
    came_back = {cid for cid, was_assigned in queued if was_assigned or cid in failures}
    moved = sorted(front, key=lambda cid: -front[cid])
    returned = sorted(came_back - set(front))
    new = [cid for cid, _ in queued if cid not in came_back and cid not in front]
    leaders = {
        u.id: LeaderState(status=u.presence, capacity=u.capacity, free=0)
        for u in await db.scalars(
            select(User).where(
                User.role == Role.TEAMLEADER,
                User.is_active,
                User.presence.in_([Presence.ONLINE, Presence.AWAY]),
            )
        )
    }
    assigned = await db.execute(
        select(Conversation.id, Conversation.assignee_id).where(
            Conversation.status == Status.ASSIGNED
        )
    )
    for conversation_id, leader_id in assigned:
        if leader_id in leaders:
            leaders[leader_id].basket.add(conversation_id)
    return Snapshot(
        queue=moved + returned + new,
        leaders=leaders,
        inflight={},
        available=[],
        parked=set(),
        returned=came_back,
        failures=failures,
        preferred=preferred,
        front=front,
    )


MOVED_TO_FRONT = "moved_to_front"  # a supervisor's override (services/overrides.py)
# Events that set whom a requeued conversation is offered to first, or last.
PREFERS = {"reopened": "+", "requeued": "+", "transferred": "-"}


async def _requeue_facts(
    db: AsyncSession,
) -> tuple[dict[int, tuple[int, int]], dict[int, str], dict[int, int]]:
    """What Redis knows of the queued conversations' way back, from their events since
    they were queued: failed assignment attempts (how many, ms of the last), the
    preference their return set (used up by the next attempt, as `assign.lua` does), and
    a supervisor's move to the front (the latest move's event id; failed attempts keep it,
    as `return_to_queue` does)."""
    events = ConversationEvent
    rows = await db.execute(
        select(
            events.id, events.conversation_id, events.type, events.from_leader_id, events.created_at
        )
        .join(
            Conversation,
            and_(
                Conversation.id == events.conversation_id,
                Conversation.status == Status.QUEUED,
                events.created_at >= Conversation.queued_at,
            ),
        )
        .where(events.type.in_(["assignment_failed", MOVED_TO_FRONT, *PREFERS]))
        .order_by(events.id)
    )
    failures: dict[int, tuple[int, int]] = {}
    preferred: dict[int, str] = {}
    front: dict[int, int] = {}
    for event_id, cid, kind, leader_id, at in rows:
        if kind == MOVED_TO_FRONT:
            front[cid] = event_id
        elif kind == "assignment_failed":
            failures[cid] = (failures.get(cid, (0, 0))[0] + 1, int(at.timestamp() * 1000))
            preferred.pop(cid, None)
        elif leader_id is not None:
            preferred[cid] = f"{PREFERS[kind]}{leader_id}"
    return failures, preferred, front


@dataclass
class Drift:
    """Where Redis and the database disagree, ignoring work in flight and parked."""

    missing_from_queue: set[int]
    not_queued: set[int]
    basket_mismatch: set[int]

    def __bool__(self) -> bool:
        return bool(self.missing_from_queue or self.not_queued or self.basket_mismatch)

    def __and__(self, other: Drift) -> Drift:
        """What both saw: a change caught between its commit and its Redis step shows in one
        check only, a real disagreement in both."""
        return Drift(
            self.missing_from_queue & other.missing_from_queue,
            self.not_queued & other.not_queued,
            self.basket_mismatch & other.basket_mismatch,
        )


async def repair(res: Resources, found: Drift) -> None:
    """Mend only what disagrees, leaving everything else (and work in flight) alone."""
    if found.missing_from_queue:
        # Stranded between its commit and the queue: back at the head, in creation order.
        await res.router.enqueue(sorted(found.missing_from_queue), head=True)
    for conversation_id in found.not_queued:
        await res.router.withdraw(conversation_id)
    if found.basket_mismatch:
        async with res.sessions() as db:
            state = await database_state(db)
        for leader_id in found.basket_mismatch:
            leader = state.leaders.get(leader_id)
            await res.router.leader_offline(leader_id, [])
            if leader is not None:
                await res.router.leader_set(
                    leader_id, leader.status, leader.capacity, sorted(leader.basket)
                )


async def drift(res: Resources) -> Drift:
    redis_state = await res.router.snapshot()
    async with res.reads() as db:
        db_state = await database_state(db)
    settling = set(redis_state.inflight) | redis_state.parked
    in_redis_queue = set(redis_state.queue)
    in_db_queue = set(db_state.queue)
    mismatched = {
        lid
        for lid in set(db_state.leaders) | set(redis_state.leaders)
        if _leader_key(db_state.leaders.get(lid), settling)
        != _leader_key(redis_state.leaders.get(lid), settling)
    }
    return Drift(
        missing_from_queue=in_db_queue - in_redis_queue - settling,
        not_queued=in_redis_queue - in_db_queue - settling,
        basket_mismatch=mismatched,
    )


def _leader_key(leader: LeaderState | None, settling: set[int]) -> object:
    if leader is None:
        return None
    return (leader.status, leader.capacity, frozenset(leader.basket - settling))


async def rebuild(res: Resources) -> bool:
    """Rebuild routing state from the database; one process at a time. False when another
    process holds the lock."""
    if not await res.redis.set(res.keys.rebuild_lock, "1", nx=True, ex=60):
        return False
    try:

        async def load() -> Snapshot:
            async with res.sessions() as db:
                return await database_state(db)

        state = await res.router.rebuild(load)
        log.info(
            "routing state rebuilt from the database",
            extra={"queued": len(state.queue), "leaders": len(state.leaders)},
        )
        return True
    finally:
        await res.redis.delete(res.keys.rebuild_lock)


async def ensure(res: Resources) -> bool:
    """At start-up: rebuild when Redis has no routing state (new, or restarted empty)."""
    if await res.redis.exists(res.keys.built):
        return False
    return await rebuild(res)


async def settle_stale(res: Resources, *, older_than: float) -> int:
    """The last resort: in-flight records older than the lease (a worker that died between
    the script and the commit, with no liveness key to tell), settled by the database."""
    stale = await res.router.stale_inflight(int(older_than * 1000))
    return await settle_by_database(res, stale)


async def settle_orphaned(res: Resources) -> int:
    """In-flight records of worker lives whose liveness key expired: the worker died, or was
    paused past its deadline and will not commit them."""
    return await settle_by_database(res, await res.router.orphaned_inflight())


async def settle_by_database(res: Resources, records: list[Assignment]) -> int:
    """Settle in-flight records of a dead worker by what the database says, so nothing is
    lost or assigned twice. A record settled meanwhile by someone else is left alone (the
    settle script matches its leader and worker life)."""
    if not records:
        return 0
    settled = 0
    async with res.sessions() as db:
        for assignment in records:
            conversation = await db.get(Conversation, assignment.conversation_id)
            if conversation is None or conversation.status != Status.QUEUED:
                held = (
                    conversation is not None
                    and conversation.status == Status.ASSIGNED
                    and conversation.assignee_id == assignment.leader_id
                )
                outcome = Outcome.COMMITTED if held else Outcome.DROP
            else:
                outcome = Outcome.REQUEUE
            settled += bool(await res.router.settle(assignment, outcome))
    if settled:
        log.warning("settled in-flight assignments of a dead worker", extra={"count": settled})
    return settled
