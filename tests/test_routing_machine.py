"""The routing engine as a state machine, on the real database and the real Valkey/Redis.

Hypothesis runs random sequences of the things that change routing (requests, status
changes, disconnects and grace periods, submits, capacity changes, worker steps, workers
killed mid-assignment and settled by the lease or by their expired liveness key, workers
paused past their claim, database outages, Redis losing everything, and a supervisor's
overrides: moves to the front, assignments to a named leader, conversations taken from
their leader, leaders set away or offline) and checks the
invariants of DESIGN.md ("Conversation lifecycle", "Routing") after every step. Failures it
found are replayed at the end as plain tests.

TEAMTALK_MACHINE_EXAMPLES and TEAMTALK_MACHINE_STEPS make it run longer.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import itertools
import math
import os
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk import db as database
from teamtalk.errors import TeamTalkError
from teamtalk.models import Conversation, ConversationEvent, Presence, Role, Status, User
from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.routing.engine import Assignment, Snapshot
from teamtalk.services import messages, overrides, presence, reconcile
from teamtalk.services.access import Actor
from teamtalk.services.assignment import LeaseExpired, commit_assignments
from teamtalk.services.conversations import create_conversation
from teamtalk.services.lifecycle import submit_as, transfer, withdraw
from teamtalk.services.reconcile import Drift
from teamtalk.services.topics import create_topic
from teamtalk.services.users import create_user, update_user
from teamtalk.worker import Worker
from tests.conftest import PASSWORD, Backend

T = TypeVar("T")

# Sized for ~40 s per backend on two slow cores; a developer can run it longer.
EXAMPLES = int(os.environ.get("TEAMTALK_MACHINE_EXAMPLES", "40"))
STEPS = int(os.environ.get("TEAMTALK_MACHINE_STEPS", "30"))

LEADER_CAPACITIES = (1, 2, 3)  # each example starts from these, every leader offline
AGENT_COUNT = 2
LEADER = st.integers(0, len(LEADER_CAPACITIES) - 1)
# Picks one of the candidates a rule has at that moment (modulo), so printed steps replay.
PICK = st.integers(0, 7)
NEVER = 3600.0  # lease: only the rules below decide when a dead worker's records settle
# A "database file" that is a directory cannot be opened: every statement fails as in an
# outage (SQLITE_CANTOPEN).
_NOT_A_FILE = tempfile.mkdtemp(prefix="teamtalk-outage-")
atexit.register(os.rmdir, _NOT_A_FILE)
BROKEN_DATABASE = f"sqlite+aiosqlite:///{_NOT_A_FILE}"


@dataclass(frozen=True)
class Cast:
    """Users and a topic, made once per test: argon2 makes each user cost ~0.25 s."""

    backend: Backend
    leaders: tuple[int, ...]
    agents: tuple[int, ...]
    topic_id: int
    examples: itertools.count[int]  # numbers each example's Redis prefix
    admin: int


async def make_cast(backend: Backend) -> Cast:
    res = Resources.open(backend.settings())
    try:
        async with res.sessions() as db:
            leaders = [
                await _user(db, f"leader{i}", Role.TEAMLEADER, capacity)
                for i, capacity in enumerate(LEADER_CAPACITIES)
            ]
            agents = [await _user(db, f"agent{i}", Role.AGENT, 1) for i in range(AGENT_COUNT)]
            topic = await create_topic(db, "Machine")
            admin = await _user(db, "admin", Role.ADMIN, 1)
            return Cast(backend, tuple(leaders), tuple(agents), topic.id, itertools.count(), admin)
    finally:
        await res.close()


async def _user(db: AsyncSession, name: str, role: Role, capacity: int) -> int:
    user = await create_user(
        db,
        email=f"{name}@example.com",
        display_name=name,
        role=role,
        password=PASSWORD,
        capacity=capacity,
    )
    return user.id


async def reset_database(res: Resources, cast: Cast) -> None:
    """Every example starts with no conversations and every leader offline: rebuild and
    drift read the whole database, so leftovers of an earlier example would count."""
    async with res.sessions() as db:
        # Messages, events, participants and read marks go with them (ON DELETE CASCADE).
        await db.execute(delete(Conversation))
        for leader_id, capacity in zip(cast.leaders, LEADER_CAPACITIES, strict=True):
            await db.execute(
                update(User)
                .where(User.id == leader_id)
                .values(presence=Presence.OFFLINE, capacity=capacity)
            )
        await db.commit()


async def delete_prefix(res: Resources) -> None:
    """What a Redis restart that loses its data does to us, without FLUSHDB: the server
    may be shared."""
    keys = [key async for key in res.redis.scan_iter(match=f"{res.keys.prefix}*", count=500)]
    if keys:
        await res.redis.delete(*keys)


@dataclass
class Observed:
    """One look at both stores between two steps (nothing else runs meanwhile)."""

    redis: Snapshot
    baskets: dict[int, set[int]]  # every leader's basket SET, present in routing or not
    redis_present: dict[str, set[int]]  # leader ids in the free-slot and capacity hashes
    attempted: set[int]  # conversations with failed assignment attempts
    grace: list[int]  # leaders whose disconnect grace period is running
    conversations: dict[int, tuple[str, int | None]]  # id -> (status, assignee)
    presence: dict[int, str]
    capacity: dict[int, int]
    drift: Drift

    def db_basket(self, leader_id: int) -> set[int]:
        return {
            cid
            for cid, (status, assignee) in self.conversations.items()
            if status == Status.ASSIGNED and assignee == leader_id
        }

    def held(self, leader_id: int) -> set[int]:
        """What counts against the leader's capacity: committed and in-flight work."""
        return self.baskets[leader_id] | self.db_basket(leader_id)

    def assigned(self) -> list[int]:
        return sorted(
            c for c, (status, _) in self.conversations.items() if status == Status.ASSIGNED
        )

    def out_of_queue(self) -> set[int]:
        """Conversations that have been taken from the queue at least once."""
        taken = set(self.redis.inflight).union(*self.baskets.values(), self.attempted)
        return taken | {
            c for c, (status, _) in self.conversations.items() if status != Status.QUEUED
        }


async def observe(res: Resources, leaders: Sequence[int]) -> Observed:
    snapshot = await res.router.snapshot()
    async with res.redis.pipeline(transaction=False) as pipe:
        for leader_id in leaders:
            pipe.smembers(res.keys.basket(leader_id))
        pipe.hkeys(res.keys.online_teamleaders)
        pipe.hkeys(res.keys.leader_capacity)
        pipe.hkeys(res.keys.attempts)
        pipe.zrange(res.keys.disconnected, 0, -1)
        *baskets, free_keys, capacity_keys, attempted, grace = await pipe.execute()
    async with res.sessions() as db:
        rows = await db.execute(
            select(Conversation.id, Conversation.status, Conversation.assignee_id)
        )
        users = await db.execute(
            select(User.id, User.presence, User.capacity).where(User.id.in_(leaders))
        )
        conversations = {cid: (status, assignee) for cid, status, assignee in rows}
        people = {uid: (state, capacity) for uid, state, capacity in users}
    return Observed(
        redis=snapshot,
        baskets={lid: {int(c) for c in b} for lid, b in zip(leaders, baskets, strict=True)},
        redis_present={
            "free": {int(x) for x in free_keys},
            "capacity": {int(x) for x in capacity_keys},
        },
        attempted={int(x) for x in attempted},
        grace=sorted(int(x) for x in grace),
        conversations=conversations,
        presence={uid: state for uid, (state, _) in people.items()},
        capacity={uid: capacity for uid, (_, capacity) in people.items()},
        drift=await reconcile.drift(res),
    )


# The invariants, as plain functions of one observation (and the little the model tracks).


def check_places(obs: Observed, dead_worker: bool) -> None:
    """1. An open conversation is in exactly one place (the queue, once, or one basket, or
    parked after failed attempts until it gets another chance) and the database agrees; a
    closed one is nowhere. In-flight records exist only while a killed worker's are
    unsettled, and then only for work on its way to their leader."""
    inflight = obs.redis.inflight
    anywhere = set(obs.redis.queue).union(*obs.baskets.values(), inflight, obs.redis.parked)
    assert anywhere <= set(obs.conversations), f"unknown ids {anywhere - set(obs.conversations)}"
    assert dead_worker or not inflight, f"in-flight records no worker will settle: {inflight}"
    for cid, (status, assignee) in obs.conversations.items():
        parked = cid in obs.redis.parked
        place = (
            obs.redis.queue.count(cid),
            sorted(lid for lid, basket in obs.baskets.items() if cid in basket),
            parked,
        )
        if cid in inflight:
            expected = (*_in_flight_place(obs, cid, status, assignee), False)
        elif status == Status.QUEUED:
            expected = (0, [], True) if parked else (1, [], False)
        elif status == Status.ASSIGNED:
            expected = (0, [assignee], False)
        else:
            expected = (0, [], False)
        assert place == expected, (
            f"conversation {cid} is {status} (assignee {assignee}, in flight to "
            f"{inflight.get(cid)}) but is (times queued, baskets, parked) {place}"
        )


def _in_flight_place(
    obs: Observed, cid: int, status: str, assignee: int | None
) -> tuple[int, list[int | None]]:
    """Where a killed worker's assignment must be: in its leader's basket while they are
    present in routing (it counts against their capacity), never in the queue."""
    leader = obs.redis.inflight[cid]
    if status == Status.QUEUED:  # killed before the commit
        return (0, [leader] if leader in obs.redis.leaders else [])
    if status == Status.ASSIGNED:  # killed after it: the database has it, with that leader
        assert assignee == leader, f"{cid} assigned to {assignee} but in flight to {leader}"
        return (0, [leader])
    return (0, [])  # committed, then solved or pending


def check_leaders(obs: Observed) -> None:
    """3. No offline leader holds a conversation, in the database or in Redis; a present
    leader's routing entry (status, capacity, free slots, index) matches the database."""
    for lid, state in obs.presence.items():
        routed = obs.redis.leaders.get(lid)
        if state == Presence.OFFLINE:
            assert not obs.db_basket(lid), f"offline leader {lid} holds {obs.db_basket(lid)}"
            assert not obs.baskets[lid], f"offline leader {lid} has basket {obs.baskets[lid]}"
            assert routed is None, f"offline leader {lid} in routing as {routed}"
            for name, present in obs.redis_present.items():
                assert lid not in present, f"offline leader {lid} left in the {name} hash"
            assert lid not in obs.redis.available, f"offline leader {lid} can be picked"
            continue
        assert routed is not None, f"{state} leader {lid} missing from routing"
        assert (routed.status, routed.capacity) == (state, obs.capacity[lid]), (
            f"leader {lid} is {state} with capacity {obs.capacity[lid]} in the database, "
            f"{routed.status} with {routed.capacity} in Redis"
        )
        free = max(0, obs.capacity[lid] - len(obs.baskets[lid]))
        assert routed.free == free, f"leader {lid}: {routed.free} free, not {free}"
        pickable = state == Presence.ONLINE and free > 0
        assert (lid in obs.redis.available) == pickable, f"leader {lid} wrongly (un)pickable"


def check_capacity(obs: Observed, grandfathered: dict[int, set[int]]) -> None:
    """2. No basket exceeds its leader's capacity, except after capacity was lowered below
    the basket: then it holds only what it held at that moment (nothing new)."""
    for lid, capacity in obs.capacity.items():
        held = obs.held(lid)
        if len(held) > capacity:
            allowed = grandfathered.get(lid, set())
            assert held <= allowed, (
                f"leader {lid} (capacity {capacity}) holds {sorted(held)}; "
                f"only {sorted(allowed)} were held when the capacity was lowered"
            )


def check_front(queue: list[int], moved: list[int]) -> list[int]:
    """7. Conversations a supervisor moved to the front wait ahead of everything, the latest
    move first, while the move holds; returns the rest of the queue."""
    front = [c for c in moved if c in queue]
    assert queue[: len(front)] == front, f"moved {front} not at the head of {queue}"
    return queue[len(front) :]


async def frozen(res: Resources) -> tuple[object, ...]:
    """Everything an override could change, in both stores."""
    async with res.sessions() as db:
        rows = await db.execute(
            select(
                Conversation.id,
                Conversation.status,
                Conversation.assignee_id,
                Conversation.queued_at,
                Conversation.updated_at,
                Conversation.last_seq,
            ).order_by(Conversation.id)
        )
        conversations = [tuple(row) for row in rows]
        events = await db.scalar(select(func.count()).select_from(ConversationEvent))
        users = [tuple(row) for row in await db.execute(select(User.id, User.presence))]
    hashes = [
        await res.redis.hgetall(key)
        for key in (res.keys.preferred, res.keys.attempts, res.keys.front, res.keys.inflight)
    ]
    return conversations, events, users, await res.router.snapshot(), hashes


def check_fifo(queue: list[int], created: list[int], taken: set[int]) -> None:
    """4. Conversations never assigned wait in creation order; the ones returned (offline
    leader, failed or abandoned assignment) wait before them, in their original order."""
    rank = {cid: i for i, cid in enumerate(created)}
    returned = [c for c in queue if c in taken]
    fresh = [c for c in queue if c not in taken]
    assert queue[: len(returned)] == returned, f"returned {returned} not at the head of {queue}"
    assert fresh == sorted(fresh, key=rank.__getitem__), f"new requests out of order: {fresh}"
    assert returned == sorted(returned, key=rank.__getitem__), (
        f"returned conversations out of their original order: {returned} (queue {queue})"
    )


def check_liveness(obs: Observed) -> None:
    """5. After a burst nothing waits while an online leader has a free slot."""
    if not obs.redis.queue:
        return
    idle = {
        lid: obs.capacity[lid] - len(obs.held(lid))
        for lid, state in obs.presence.items()
        if state == Presence.ONLINE and len(obs.held(lid)) < obs.capacity[lid]
    }
    assert not idle, f"queue {obs.redis.queue} waits while leaders have free slots {idle}"
    assert not obs.redis.available, f"queue waits while {obs.redis.available} are pickable"


def choose(candidates: Sequence[int], pick: int) -> int:
    return candidates[pick % len(candidates)]


class RoutingMachine(RuleBasedStateMachine):
    cast: ClassVar[Cast]

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()  # clients bind to it: one loop per example
        try:
            self.res, self.outage = self.run(self._open())
        except BaseException:
            self.loop.close()
            raise
        try:
            self.worker = Worker(self.res, None)
            self.run(reset_database(self.res, self.cast))
            self.run(self.worker.start())
            self.last = self.run(observe(self.res, self.cast.leaders))
        except BaseException:
            self.teardown()
            raise
        self.created: list[int] = []
        self.taken: set[int] = set()  # ever out of the queue (invariant 4)
        self.grandfathered: dict[int, set[int]] = {}  # held when capacity was lowered
        self.dead_worker = False  # a killed worker's in-flight records may exist
        self.after_burst = False
        self.moved: list[int] = []  # moved to the front by the supervisor, latest first
        self.admin = Actor(self.cast.admin, Role.ADMIN, "supervisor")
        # `disconnected` takes a Realtime but only reads Redis; this one never emits.
        self.no_realtime = Realtime(None, self.res.redis, self.res.keys)

    async def _open(self) -> tuple[Resources, Resources]:
        """This example's resources, on its own Redis prefix, and the same with a database
        that fails."""
        prefix = f"{self.cast.backend.prefix}ex{next(self.cast.examples)}:"
        # Two attempts: killed workers' conversations reach the parked state in few steps.
        overrides = {
            "worker_batch": 3,
            "assignment_lease_seconds": NEVER,
            "max_assign_attempts": 2,
        }
        res = Resources.open(self.cast.backend.settings(redis_prefix=prefix, **overrides))
        broken = database.create_engine(BROKEN_DATABASE)
        outage = dataclasses.replace(
            res,
            engine=broken,
            sessions=database.sessionmaker(broken),
            reads=database.readers(broken),
        )
        return res, outage

    def run(self, step: Awaitable[T]) -> T:
        return self.loop.run_until_complete(step)

    def teardown(self) -> None:
        try:
            self.run(delete_prefix(self.res))
        finally:
            self.run(self.outage.engine.dispose())
            self.run(self.res.close())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def leader(self, index: int) -> int:
        return self.cast.leaders[index]

    @initialize(statuses=st.tuples(*[st.sampled_from(Presence)] * len(LEADER_CAPACITIES)))
    def leaders_start(self, statuses: tuple[Presence, ...]) -> None:
        """Start with some leaders present: more of the runs reach the interesting states."""
        for leader_id, status in zip(self.cast.leaders, statuses, strict=True):
            if status != Presence.OFFLINE:
                self.run(self._set_status(leader_id, status))

    @initialize(requests=st.integers(0, 4))
    def requests_wait(self, requests: int) -> None:
        for _ in range(requests):
            self.create_request(0)

    # Agents.

    @rule(agent=st.integers(0, AGENT_COUNT - 1))
    def create_request(self, agent: int) -> None:
        self.created.append(self.run(self._create(self.cast.agents[agent])))

    async def _create(self, agent_id: int) -> int:
        async with self.res.sessions() as db:
            agent = await db.get_one(User, agent_id)
            conversation, _ = await create_conversation(
                db, self.res, None, Actor.of(agent), message="help", topic_id=None, ticket_link=None
            )
            return conversation.id

    # Leaders.

    @rule(leader=LEADER, status=st.sampled_from(Presence))
    def set_status(self, leader: int, status: Presence) -> None:
        self.run(self._set_status(self.leader(leader), status))

    async def _set_status(self, leader_id: int, status: Presence) -> None:
        async with self.res.sessions() as db:
            await presence.set_status(db, self.res, None, leader_id, status)

    @rule(leader=LEADER)
    def leader_disconnects(self, leader: int) -> None:
        leader_id = self.leader(leader)
        self.run(self._disconnect(leader_id))

    async def _disconnect(self, leader_id: int) -> None:
        await self.res.redis.delete(self.res.keys.user_sockets(leader_id))  # every tab gone
        await presence.disconnected(self.res, self.no_realtime, leader_id, Role.TEAMLEADER)

    @precondition(lambda self: bool(self.last.grace))
    @rule(pick=PICK)
    def leader_reconnects_within_grace(self, pick: int) -> None:
        leader_id = choose(self.last.grace, pick)
        self.run(self.res.redis.zrem(self.res.keys.disconnected, str(leader_id)))

    @precondition(lambda self: bool(self.last.grace))
    @rule(pick=PICK)
    def grace_expires(self, pick: int) -> None:
        leader_id = choose(self.last.grace, pick)
        was_offline = self.last.presence[leader_id] == Presence.OFFLINE
        gone = self.run(self._expire(leader_id))
        assert gone == ([] if was_offline else [leader_id]), gone
        after = self.run(observe(self.res, self.cast.leaders))
        assert after.presence[leader_id] == Presence.OFFLINE
        assert not after.held(leader_id), f"basket not returned: {after.held(leader_id)}"

    async def _expire(self, leader_id: int) -> list[int]:
        # Only this leader's grace ends: their disconnect moves to the distant past.
        await self.res.redis.zadd(self.res.keys.disconnected, {str(leader_id): 0}, xx=True)
        return await presence.expire_grace(self.res, None)

    @precondition(lambda self: bool(self.last.assigned()))
    @rule(pick=PICK, status=st.sampled_from([Status.SOLVED, Status.PENDING]))
    def submit_as(self, pick: int, status: Status) -> None:
        conversation_id = choose(self.last.assigned(), pick)
        leader_id = self.last.conversations[conversation_id][1]
        assert leader_id is not None
        self.run(self._submit(leader_id, conversation_id, status))

    async def _submit(self, leader_id: int, conversation_id: int, status: Status) -> None:
        async with self.res.sessions() as db:
            leader = await db.get_one(User, leader_id)
            await submit_as(
                db,
                self.res,
                None,
                Actor.of(leader),
                conversation_id,
                status=status,
                topic_id=self.cast.topic_id,
            )

    def settled(self, status: Status) -> list[int]:
        """Conversations in this state with no dead worker's record on them."""
        return sorted(
            cid
            for cid, (state, _) in self.last.conversations.items()
            if state == status and cid not in self.last.redis.inflight
        )

    @precondition(lambda self: bool(self.settled(Status.ASSIGNED)))
    @rule(pick=PICK, to=st.one_of(st.none(), LEADER))
    def transfer(self, pick: int, to: int | None) -> None:
        """To another leader (refused unless online with a free slot) or back to the queue."""
        conversation_id = choose(self.settled(Status.ASSIGNED), pick)
        leader_id = self.last.conversations[conversation_id][1]
        assert leader_id is not None
        target = None if to is None else self.leader(to)
        self.run(self._transfer(leader_id, conversation_id, target))

    async def _transfer(self, leader_id: int, conversation_id: int, to: int | None) -> None:
        async with self.res.sessions() as db:
            leader = await db.get_one(User, leader_id)
            with contextlib.suppress(TeamTalkError):
                await transfer(
                    db, self.res, None, Actor.of(leader), conversation_id, to_leader_id=to
                )

    @precondition(lambda self: bool(self.settled(Status.PENDING) or self.settled(Status.SOLVED)))
    @rule(pick=PICK)
    def agent_replies(self, pick: int) -> None:
        """Back to the queue, offered to the previous leader first."""
        conversation_id = choose(self.settled(Status.PENDING) + self.settled(Status.SOLVED), pick)
        self.run(self._reply(conversation_id))

    async def _reply(self, conversation_id: int) -> None:
        async with self.res.sessions() as db:
            conversation = await db.get_one(Conversation, conversation_id)
            agent = await db.get_one(User, conversation.agent_id)
            await messages.send(
                db,
                self.res,
                None,
                Actor.of(agent),
                conversation_id,
                client_id=uuid.uuid4().hex,
                body="again",
            )

    @precondition(lambda self: bool(self.last.redis.queue))
    @rule(pick=PICK)
    def agent_withdraws(self, pick: int) -> None:
        conversation_id = choose(self.last.redis.queue, pick)
        self.run(self._withdraw(conversation_id))

    async def _withdraw(self, conversation_id: int) -> None:
        async with self.res.sessions() as db:
            conversation = await db.get_one(Conversation, conversation_id)
            agent = await db.get_one(User, conversation.agent_id)
            await withdraw(db, self.res, None, Actor.of(agent), conversation_id)

    # Admin.

    @rule(leader=LEADER, capacity=st.integers(1, 4))
    def change_capacity(self, leader: int, capacity: int) -> None:
        leader_id = self.leader(leader)
        held = self.last.held(leader_id)  # a capacity change moves nothing
        self.run(self._change_capacity(leader_id, capacity))
        if len(held) > capacity:
            self.grandfathered[leader_id] = held
        else:
            self.grandfathered.pop(leader_id, None)

    async def _change_capacity(self, leader_id: int, capacity: int) -> None:
        async with self.res.sessions() as db:
            leader = await db.get_one(User, leader_id)
            await update_user(db, self.res, None, leader, capacity=capacity)

    # Supervisor overrides. Each is predicted from the last observation: done exactly when
    # it can hold, and when refused nothing changes in either store.

    def override(self, step: Callable[[AsyncSession], Awaitable[object]]) -> bool:
        before = self.run(frozen(self.res))
        try:
            self.run(self._as_admin(step))
        except TeamTalkError:
            after = self.run(frozen(self.res))
            assert after == before, f"a refused override changed things: {before} -> {after}"
            return False
        return True

    async def _as_admin(self, step: Callable[[AsyncSession], Awaitable[object]]) -> None:
        async with self.res.sessions() as db:
            await step(db)

    def waiting(self) -> list[int]:
        """Queued in the database: waiting in Redis, in flight or parked."""
        return sorted(c for c, (state, _) in self.last.conversations.items() if state == "queued")

    def has_room(self, leader_id: int) -> bool:
        """Online with a free slot, as Redis (in-flight work too) and the database count."""
        capacity = self.last.capacity[leader_id]
        return (
            self.last.presence[leader_id] == Presence.ONLINE
            and len(self.last.baskets[leader_id]) < capacity
            and len(self.last.db_basket(leader_id)) < capacity
        )

    @precondition(lambda self: bool(self.waiting()))
    @rule(pick=PICK)
    def admin_moves_to_front(self, pick: int) -> None:
        cid = choose(self.waiting(), pick)
        queue = self.last.redis.queue
        first = bool(queue) and queue[0] == cid and cid in self.moved
        done = self.override(
            lambda db: overrides.move_to_front(db, self.res, None, self.admin, cid)
        )
        assert done == (cid in queue), f"move of {cid} (queue {queue}) done: {done}"
        if done and not first:
            self.moved = [cid] + [c for c in self.moved if c != cid]

    @precondition(lambda self: bool(self.waiting()))
    @rule(pick=PICK, leader=LEADER)
    def admin_assigns(self, pick: int, leader: int) -> None:
        cid, leader_id = choose(self.waiting(), pick), self.leader(leader)
        can = cid in self.last.redis.queue and self.has_room(leader_id)
        done = self.override(
            lambda db: overrides.assign(db, self.res, None, self.admin, cid, leader_id=leader_id)
        )
        assert done == can, f"assignment of {cid} to {leader_id} done: {done}"

    @precondition(lambda self: bool(self.settled(Status.ASSIGNED)))
    @rule(pick=PICK, to=st.one_of(st.none(), LEADER))
    def admin_takes(self, pick: int, to: int | None) -> None:
        cid = choose(self.settled(Status.ASSIGNED), pick)
        giver = self.last.conversations[cid][1]
        taker = None if to is None else self.leader(to)
        # Already theirs: done only as the answer to the same request sent again.
        again = ("transferred", self.admin.id, taker)
        can = (
            taker is None
            or (taker != giver and self.has_room(taker))
            or (taker == giver and self.run(self._asked_last(cid)) == again)
        )
        done = self.override(
            lambda db: overrides.take(db, self.res, None, self.admin, cid, to_leader_id=taker)
        )
        assert done == can, f"taking {cid} from {giver} to {taker} done: {done}"

    async def _asked_last(self, cid: int) -> tuple[str, int | None, int | None] | None:
        """The last thing a person asked of the conversation (its last event with an actor):
        (type, actor, to leader)."""
        events = ConversationEvent
        async with self.res.sessions() as db:
            row = (
                await db.execute(
                    select(events.type, events.actor_id, events.to_leader_id)
                    .where(events.conversation_id == cid, events.actor_id.is_not(None))
                    .order_by(events.id.desc())
                    .limit(1)
                )
            ).first()
        return None if row is None else (row[0], row[1], row[2])

    @rule(leader=LEADER, status=st.sampled_from([Presence.AWAY, Presence.OFFLINE]))
    def admin_sets_status(self, leader: int, status: Presence) -> None:
        leader_id = self.leader(leader)
        can = not (status == Presence.AWAY and self.last.presence[leader_id] == Presence.OFFLINE)
        done = self.override(
            lambda db: overrides.set_leader_status(
                db, self.res, None, self.admin, leader_id, status
            )
        )
        assert done == can, f"setting {leader_id} {status} done: {done}"

    # Workers and Redis.

    @rule()
    def worker_step(self) -> None:
        self.run(self.worker.step())

    @rule()
    def worker_burst(self) -> None:
        self.run(self.worker.burst())
        self.after_burst = True

    @rule()
    def worker_step_while_database_down(self) -> None:
        """The database cannot be reached: the batch goes back to the head of the queue,
        counting no attempt, and the step says so (its loop backs off)."""
        down = Worker(self.outage, None)
        try:
            self.run(down.step())
        except OperationalError:
            assert down.batch, "the outage was hit without a batch"
        else:
            assert not down.batch, "a batch was committed to a database that is down"
        self.taken.update(a.conversation_id for a in down.batch)

    @rule()
    def worker_housekeeping(self) -> None:
        self.run(self.worker.housekeeping(force=True))

    @rule(batch=st.integers(1, 3), committed=st.booleans(), named=st.booleans())
    def worker_killed_mid_assignment(
        self, batch: int, committed: bool, named: bool = False
    ) -> None:
        """Killed after the assign script, before the commit or between it and settling.
        `named`: its records name its worker life, whose liveness key then expires;
        otherwise they name none (only the lease settles them)."""
        doomed = Worker(self.res, None)
        if named:
            self.run(doomed.alive.refresh())
        made = self.run(self.res.router.assign(batch, worker=doomed.alive.life))
        if made and committed:
            self.run(self._commit_only(made))
        if named:  # its TTL runs out
            self.run(self.res.redis.delete(self.res.keys.worker_alive(doomed.alive.life)))
        self.taken.update(a.conversation_id for a in made)
        self.dead_worker = self.dead_worker or bool(made)

    async def _commit_only(self, made: Sequence[Assignment]) -> None:
        async with self.res.sessions() as db:
            await commit_assignments(db, made, deadline=lambda: math.inf)

    @rule(batch=st.integers(1, 3))
    def worker_paused_past_its_claim(self, batch: int) -> None:
        """Paused after the assign script until its liveness key expired; meanwhile a live
        worker settled its records and assigned again. Resumed, it must commit nothing."""
        paused = Worker(self.res, None)
        self.run(paused.alive.refresh())
        life = paused.alive.life
        made = self.run(self.res.router.assign(batch, worker=life))
        self.taken.update(a.conversation_id for a in made)
        self.run(self.res.redis.delete(self.res.keys.worker_alive(life)))  # its TTL runs out
        self.run(reconcile.settle_orphaned(self.res))
        self.run(self.worker.step())
        self.run(paused.alive.refresh())  # resumed: a new life
        if made:
            self.run(self._resume(paused, made, life))

    async def _resume(self, paused: Worker, made: Sequence[Assignment], life: str) -> None:
        async with self.res.sessions() as db:
            with contextlib.suppress(LeaseExpired):
                await commit_assignments(db, made, deadline=lambda: paused.alive.deadline(life))
                raise AssertionError("a worker whose claim ran out committed")
        await paused.settle(paused.failed(list(made), LeaseExpired()))

    @precondition(lambda self: self.dead_worker)
    @rule()
    def live_worker_notices_the_dead(self) -> None:
        """A live worker's liveness round: records of lives whose key expired are settled
        by the database; unnamed ones wait for the lease."""
        self.run(reconcile.settle_orphaned(self.res))
        records = self.run(self.res.router.inflight_records())
        named = [a for a, _ in records if a.worker]
        assert not named, f"records of dead workers survive their liveness check: {named}"
        self.dead_worker = bool(records)

    @precondition(lambda self: self.dead_worker)
    @rule()
    def worker_restarts(self) -> None:
        self.worker = Worker(self.res, None)
        self.run(self.worker.settle_stale(older_than=0))
        left = self.run(self.res.redis.hlen(self.res.keys.inflight))
        assert left == 0, f"{left} in-flight records survive settling"
        self.dead_worker = False
        self.run(self.worker.step())

    @precondition(lambda self: bool(self.last.redis.parked))
    @rule()
    def parked_ones_get_another_chance(self) -> None:
        """The park time passes (their park moves to the distant past) and housekeeping
        returns them to the queue."""
        parked = self.last.redis.parked
        assert parked, "nothing is parked"
        self.run(self.res.redis.zadd(self.res.keys.parked, dict.fromkeys(map(str, parked), 0)))
        self.run(self.worker.housekeeping(force=True))
        left = self.run(self.res.router.snapshot()).parked
        assert not left, f"still parked after their time: {left}"

    @rule()
    def operator_rebuilds_routing(self) -> None:
        """`teamtalk routing rebuild` on a running system: it must change nothing."""
        assert self.run(reconcile.rebuild(self.res)), "the rebuild lock was taken"

    @rule()
    def redis_loses_everything(self) -> None:
        self.run(delete_prefix(self.res))
        assert self.run(reconcile.ensure(self.res)), "ensure did not rebuild an empty Redis"
        self.dead_worker = False  # their records went with the rest
        # Taken only by workers that died before any commit or recorded failure: the
        # database never saw it leave the queue, so it is new work again (invariant 4).
        self.taken -= self.run(self._never_taken_in_the_database())

    async def _never_taken_in_the_database(self) -> set[int]:
        async with self.res.sessions() as db:
            fresh = set(
                await db.scalars(
                    select(Conversation.id).where(
                        Conversation.status == Status.QUEUED, Conversation.assigned_at.is_(None)
                    )
                )
            )
            failed = set(
                await db.scalars(
                    select(ConversationEvent.conversation_id).where(
                        ConversationEvent.type == "assignment_failed"
                    )
                )
            )
        return fresh - failed

    # One observation per step, every invariant checked against it.

    @invariant()
    def routing_agrees_with_the_database(self) -> None:
        obs = self.run(observe(self.res, self.cast.leaders))
        self.taken |= obs.out_of_queue()
        check_places(obs, self.dead_worker)
        check_leaders(obs)
        check_capacity(obs, self.grandfathered)
        # A move holds while the database has it queued since (in flight or parked too).
        self.moved = [c for c in self.moved if obs.conversations[c][0] == Status.QUEUED]
        check_fifo(check_front(obs.redis.queue, self.moved), self.created, self.taken)
        # 6. Drift leaves in-flight work out by design, so it must be empty at every step.
        assert not obs.drift, f"drift: {obs.drift}"
        if self.after_burst and not self.dead_worker:
            check_liveness(obs)
        self.after_burst = False
        self._forget_relieved(obs)
        self.last = obs

    def _forget_relieved(self, obs: Observed) -> None:
        """Back within capacity, the exception ends; below it, only what is left counts."""
        for lid in list(self.grandfathered):
            held = obs.held(lid)
            if len(held) <= obs.capacity[lid]:
                del self.grandfathered[lid]
            else:
                self.grandfathered[lid] &= held


def machine_for(cast: Cast) -> type[RoutingMachine]:
    """Hypothesis builds one machine per example from a class; this one knows the cast."""
    return type("RoutingMachineOnBackend", (RoutingMachine,), {"cast": cast})


def cast_for(backend: Backend) -> Cast:
    # A loop of our own, apart from pytest-asyncio's, as every example has.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(make_cast(backend))
    finally:
        loop.close()


def test_routing_machine(backend: Backend) -> None:
    run_state_machine_as_test(
        machine_for(cast_for(backend)),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,  # nothing written into the working tree; failures print steps
        ),
    )


# Failures the machine found, replayed step by step (as Hypothesis prints them).

Step = tuple[str, dict[str, Any]]
ONLINE = {"status": Presence.ONLINE}
OFFLINE = {"status": Presence.OFFLINE}


def replay(backend: Backend, steps: Sequence[Step]) -> None:
    machine = machine_for(cast_for(backend))()
    try:
        machine.routing_agrees_with_the_database()
        for name, arguments in steps:
            getattr(machine, name)(**arguments)
            machine.routing_agrees_with_the_database()
    finally:
        machine.teardown()


def test_returns_keep_their_order_across_leaders(backend: Backend) -> None:
    # Leader 1 (2 free) gets 1, leader 0 gets 2; 1 goes back first, then 2 jumps ahead of it.
    replay(
        backend,
        [
            ("set_status", {"leader": 0, **ONLINE}),
            ("set_status", {"leader": 1, **ONLINE}),
            ("create_request", {"agent": 0}),
            ("create_request", {"agent": 0}),
            ("worker_step", {}),
            ("set_status", {"leader": 1, **OFFLINE}),
            ("set_status", {"leader": 0, **OFFLINE}),
        ],
    )


def test_a_failed_batch_keeps_its_order(backend: Backend) -> None:
    replay(
        backend,
        [
            ("set_status", {"leader": 1, **ONLINE}),
            ("create_request", {"agent": 0}),
            ("create_request", {"agent": 0}),
            ("worker_step_while_database_down", {}),
        ],
    )


def test_a_dead_workers_batch_keeps_its_order(backend: Backend) -> None:
    # Its leader went away meanwhile, so the restarted worker requeues the whole batch.
    replay(
        backend,
        [
            ("set_status", {"leader": 1, **ONLINE}),
            ("create_request", {"agent": 0}),
            ("create_request", {"agent": 0}),
            ("worker_killed_mid_assignment", {"batch": 2, "committed": False}),
            ("set_status", {"leader": 1, "status": Presence.AWAY}),
            ("worker_restarts", {}),
        ],
    )


def test_a_database_outage_parks_nothing(backend: Backend) -> None:
    # More failed batches than max_assign_attempts (2): none is the conversation's fault, so
    # it waits at the head of the queue and is assigned as soon as the database is back.
    outage: list[Step] = [("worker_step_while_database_down", {})] * 5
    replay(
        backend,
        [
            ("set_status", {"leader": 0, **ONLINE}),
            ("create_request", {"agent": 0}),
            *outage,
            ("worker_burst", {}),
        ],
    )


def test_a_conversation_whose_workers_keep_dying_is_parked_then_retried(
    backend: Backend,
) -> None:
    # Each death counts an attempt: after max_assign_attempts (2) it is parked; it must come
    # back after its park time.
    killed: list[Step] = [
        ("worker_killed_mid_assignment", {"batch": 1, "committed": False, "named": True}),
        ("live_worker_notices_the_dead", {}),
    ]
    replay(
        backend,
        [
            ("set_status", {"leader": 0, **ONLINE}),
            ("create_request", {"agent": 0}),
            *killed,
            *killed,
            ("parked_ones_get_another_chance", {}),
            ("worker_burst", {}),
        ],
    )


def test_a_rebuild_keeps_returned_conversations_once(backend: Backend) -> None:
    # The failed step returns the conversation to conversations:returned; the rebuild must
    # not put it in conversations:queue as well.
    replay(
        backend,
        [
            ("set_status", {"leader": 0, **ONLINE}),
            ("create_request", {"agent": 0}),
            ("worker_step_while_database_down", {}),
            ("operator_rebuilds_routing", {}),
        ],
    )


def test_a_rebuild_gives_no_slot_to_a_closed_conversation(backend: Backend) -> None:
    # A worker dies between its commit and settling, then the leader solves the
    # conversation: the rebuild must not put it back in the basket from the dead worker's
    # in-flight record.
    replay(
        backend,
        [
            ("set_status", {"leader": 0, **ONLINE}),
            ("create_request", {"agent": 0}),
            ("worker_killed_mid_assignment", {"batch": 1, "committed": True}),
            ("submit_as", {"pick": 0, "status": Status.SOLVED}),
            ("operator_rebuilds_routing", {}),
        ],
    )


def test_returns_after_a_rebuild_keep_their_order(backend: Backend) -> None:
    # 1 is returned (its dead worker's leader went away), the rebuild moves it to the list of
    # new work, then 2 comes back from its leader and is served first.
    replay(
        backend,
        [
            ("set_status", {"leader": 1, **ONLINE}),
            ("create_request", {"agent": 0}),
            ("create_request", {"agent": 0}),
            ("worker_killed_mid_assignment", {"batch": 1, "committed": False}),
            ("worker_step", {}),
            ("set_status", {"leader": 1, "status": Presence.AWAY}),
            ("worker_restarts", {}),
            ("operator_rebuilds_routing", {}),
            ("set_status", {"leader": 1, **OFFLINE}),
        ],
    )


def test_a_claim_lost_with_redis_is_new_work_again(backend: Backend) -> None:
    # 1 is taken by a worker that dies before its commit; 2 comes back from its leader;
    # Redis loses everything: the database never saw 1 leave the queue, so 2 (returned)
    # is served first, then 1 as new work.
    replay(
        backend,
        [
            ("requests_wait", {"requests": 2}),
            ("leaders_start", {"statuses": (Presence.ONLINE,) * len(LEADER_CAPACITIES)}),
            ("worker_killed_mid_assignment", {"batch": 1, "committed": False}),
            ("worker_step", {}),
            ("submit_as", {"pick": 0, "status": Status.SOLVED}),
            ("agent_replies", {"pick": 0}),
            ("redis_loses_everything", {}),
        ],
    )


def test_a_move_to_the_front_survives_failures_and_a_redis_loss(backend: Backend) -> None:
    replay(
        backend,
        [
            ("requests_wait", {"requests": 3}),
            ("admin_moves_to_front", {"pick": 2}),
            ("admin_moves_to_front", {"pick": 1}),
            ("set_status", {"leader": 0, **ONLINE}),
            ("worker_step_while_database_down", {}),
            ("redis_loses_everything", {}),
            ("worker_killed_mid_assignment", {"batch": 1, "committed": False, "named": True}),
            ("live_worker_notices_the_dead", {}),
            ("admin_assigns", {"pick": 0, "leader": 1}),
            ("admin_sets_status", {"leader": 0, "status": Presence.OFFLINE}),
            ("worker_burst", {}),
        ],
    )


def test_a_take_sent_again_answers_as_it_stands(backend: Backend) -> None:
    replay(
        backend,
        [
            ("leaders_start", {"statuses": (Presence.ONLINE,) * len(LEADER_CAPACITIES)}),
            ("requests_wait", {"requests": 1}),
            ("worker_step", {}),
            ("admin_takes", {"pick": 0, "to": 1}),
            ("admin_takes", {"pick": 0, "to": 1}),  # sent again: the same answer
            ("admin_takes", {"pick": 0, "to": 2}),
            ("admin_takes", {"pick": 0, "to": 2}),
        ],
    )
