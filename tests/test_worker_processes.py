"""Worker processes: killed mid-assignment, several at once, Redis restarted empty."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import func, select

from teamtalk.embedded import EmbeddedValkey
from teamtalk.models import Conversation, ConversationEvent, Presence, Role, Status, User
from teamtalk.resources import Resources
from teamtalk.services import presence, users
from teamtalk.services.access import Actor
from teamtalk.services.conversations import create_conversation
from teamtalk.worker import FAULT_ENV, Worker
from tests.conftest import Backend


async def add_people(res: Resources, leaders: int, capacity: int) -> tuple[list[int], User]:
    """Leaders online and one agent, inserted directly (hashing passwords is slow)."""
    async with res.sessions() as db:
        people = [
            User(
                email=f"lead{i}@example.com",
                display_name=f"Lead {i}",
                role=Role.TEAMLEADER,
                password_hash="-",
                capacity=capacity,
            )
            for i in range(leaders)
        ]
        agent = User(
            email="agent@example.com", display_name="Agent", role=Role.AGENT, password_hash="-"
        )
        db.add_all([*people, agent])
        await db.commit()
        ids = [p.id for p in people]
    for leader_id in ids:
        async with res.sessions() as db:
            await presence.set_status(db, res, None, leader_id, Presence.ONLINE)
    return ids, agent


async def add_requests(res: Resources, agent: User, count: int) -> list[int]:
    ids = []
    for i in range(count):
        async with res.sessions() as db:
            conversation, _ = await create_conversation(
                db, res, None, Actor.of(agent), message=f"help {i}", topic_id=None, ticket_link=None
            )
            ids.append(conversation.id)
    return ids


async def run_worker(backend: Backend, *extra_env: tuple[str, str]) -> tuple[int, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=backend.database_url,
        REDIS_URL=backend.redis_url,
        TEAMTALK_REDIS_PREFIX=backend.prefix,
        TEAMTALK_ASSIGNMENT_LEASE_SECONDS="1",
        TEAMTALK_LOG_FORMAT="text",
    )
    env.update(extra_env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "teamtalk",
        "worker",
        "--burst",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


async def assigned_events(res: Resources, ids: Sequence[int]) -> dict[int, int]:
    async with res.sessions() as db:
        rows = await db.execute(
            select(ConversationEvent.conversation_id, func.count())
            .where(ConversationEvent.type == "assigned", ConversationEvent.conversation_id.in_(ids))
            .group_by(ConversationEvent.conversation_id)
        )
        return {cid: n for cid, n in rows}


async def test_a_worker_killed_between_script_and_commit_loses_nothing(backend: Backend) -> None:
    res = Resources.open(backend.settings())
    try:
        (leader,), agent = await add_people(res, 1, 4)
        (conversation_id,) = await add_requests(res, agent, 1)

        code, out = await run_worker(backend, (FAULT_ENV, "after_assign"))
        assert code == -9, out  # SIGKILL, right after the script
        snap = await res.router.snapshot()
        assert snap.inflight == {conversation_id: leader}  # in flight, never committed
        async with res.sessions() as db:
            assert (await db.get_one(Conversation, conversation_id)).status == Status.QUEUED

        await asyncio.sleep(1.1)  # the dead worker's lease runs out
        code, out = await run_worker(backend)
        assert code == 0, out
        async with res.sessions() as db:
            conversation = await db.get_one(Conversation, conversation_id)
            assert (conversation.status, conversation.assignee_id) == (Status.ASSIGNED, leader)
        assert await assigned_events(res, [conversation_id]) == {conversation_id: 1}
        snap = await res.router.snapshot()
        assert snap.inflight == {} and snap.queue == []
        assert snap.leaders[leader].basket == {conversation_id}
    finally:
        await res.close()


async def test_two_workers_assign_each_conversation_exactly_once(backend: Backend) -> None:
    res = Resources.open(backend.settings())
    try:
        leaders, agent = await add_people(res, 50, 20)
        ids = await add_requests(res, agent, 1000)
        (code1, out1), (code2, out2) = await asyncio.gather(
            run_worker(backend), run_worker(backend)
        )
        assert code1 == 0 and code2 == 0, out1 + out2
        async with res.sessions() as db:
            rows = await db.execute(
                select(Conversation.assignee_id, func.count())
                .where(Conversation.status == Status.ASSIGNED)
                .group_by(Conversation.assignee_id)
            )
            per_leader = {leader: n for leader, n in rows}
        assert sum(per_leader.values()) == 1000
        assert set(per_leader) == set(leaders) and max(per_leader.values()) <= 20, out1 + out2
        events = await assigned_events(res, ids)
        assert len(events) == 1000 and set(events.values()) == {1}
        snap = await res.router.snapshot()
        assert snap.queue == [] and snap.inflight == {}
        assert all(len(s.basket) == per_leader[lid] for lid, s in snap.leaders.items())
    finally:
        await res.close()


async def test_redis_restarted_empty_is_rebuilt_and_routing_goes_on(backend: Backend) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tt-restart-", dir="/tmp"))
    valkey = EmbeddedValkey(folder)
    settings = backend.settings(redis_url=valkey.start(), redis_prefix="")
    res = Resources.open(settings)
    try:
        (leader,), agent = await add_people(res, 1, 2)
        held = await add_requests(res, agent, 3)
        worker = Worker(res, None)
        await worker.start()
        assert await worker.burst() == 2

        valkey.stop()
        shutil.rmtree(folder / "valkey" / "appendonlydir", ignore_errors=True)
        (folder / "valkey" / "dump.rdb").unlink(missing_ok=True)
        valkey.start()
        await _until_reachable(res.redis)
        assert await res.redis.dbsize() == 0  # everything was lost

        await worker.housekeeping(force=True)
        snap = await res.router.snapshot()
        assert snap.leaders[leader].basket == set(held[:2])
        assert snap.queue == [held[2]]
        more = await add_requests(res, agent, 1)
        async with res.sessions() as db:  # room for two more
            lead = await db.get_one(User, leader)
            await users.update_user(db, res, None, lead, capacity=4)
        assert await worker.burst() == 2
        snap = await res.router.snapshot()
        assert snap.queue == [] and snap.leaders[leader].basket == {*held, *more}
    finally:
        await res.close()
        valkey.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def _until_reachable(redis: Redis) -> None:
    for _ in range(50):
        try:
            await redis.ping()
            return
        except Exception:
            await asyncio.sleep(0.1)
    raise AssertionError("Valkey did not come back")
