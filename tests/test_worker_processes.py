"""Worker processes: killed or paused mid-assignment, several at once, Redis restarted
empty."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from teamtalk import db
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


def worker_env(backend: Backend, *extra_env: tuple[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=backend.database_url,
        REDIS_URL=backend.redis_url,
        TEAMTALK_REDIS_PREFIX=backend.prefix,
        TEAMTALK_ASSIGNMENT_LEASE_SECONDS="1",
        TEAMTALK_LOG_FORMAT="text",
    )
    env.update(extra_env)
    return env


async def run_worker(backend: Backend, *extra_env: tuple[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "teamtalk",
        "worker",
        "--burst",
        env=worker_env(backend, *extra_env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


# Long enough that only liveness keys, never the lease, settle what a worker left.
NO_LEASE = (
    ("TEAMTALK_ASSIGNMENT_LEASE_SECONDS", "300"),
    ("TEAMTALK_WORKER_MIN_INTERVAL", "0.05"),
)


@asynccontextmanager
async def long_running_worker(
    backend: Backend, name: str, *extra_env: tuple[str, str]
) -> AsyncIterator[tuple[asyncio.subprocess.Process, Path]]:
    """`teamtalk worker` until the block ends (then SIGTERM); yields it and its log file."""
    log_path = backend.data_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "teamtalk",
            "worker",
            env=worker_env(backend, *NO_LEASE, *extra_env),
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        yield proc, log_path
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.02)


def paused(proc: asyncio.subprocess.Process) -> bool:
    """Stopped by SIGSTOP (Linux: state T in /proc/<pid>/stat)."""
    stat = Path(f"/proc/{proc.pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0] == "T"


async def pause_without_write_lock(backend: Backend, proc: asyncio.subprocess.Process) -> None:
    """SIGSTOP it at a moment it holds no SQLite write lock (the whole database's: held by a
    paused process, it would stop everyone)."""
    url = make_url(backend.database_url)
    for _ in range(100):
        proc.send_signal(signal.SIGSTOP)
        await until(lambda: asyncio.to_thread(paused, proc), 10, "the process pauses")
        if url.get_backend_name() != "sqlite":
            return
        with contextlib.closing(sqlite3.connect(url.database or "", timeout=0.1)) as probe:
            probe.isolation_level = None
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                return
            except sqlite3.OperationalError:  # locked: let it finish its transaction
                pass
        proc.send_signal(signal.SIGCONT)
        await asyncio.sleep(0.05)
    raise AssertionError("the process always held the write lock")


async def lives(res: Resources) -> list[str]:
    pattern = res.keys.worker_alive("*")
    return [key async for key in res.redis.scan_iter(match=pattern)]


async def assignee_of(res: Resources, conversation_id: int) -> int | None:
    async with res.sessions() as db:
        conversation = await db.get_one(Conversation, conversation_id)
        return conversation.assignee_id if conversation.status == Status.ASSIGNED else None


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


async def test_a_killed_workers_claim_goes_to_a_live_worker_within_5_s(backend: Backend) -> None:
    res = Resources.open(backend.settings())
    try:
        (leader,), agent = await add_people(res, 1, 4)
        async with long_running_worker(backend, "survivor") as (survivor, _):
            await until(lambda: _any(lives(res)), 30, "the survivor is alive")
            # Held still while the other worker takes the conversation: it must be that one's.
            await pause_without_write_lock(backend, survivor)
            try:
                (conversation_id,) = await add_requests(res, agent, 1)
                code, out = await run_worker(backend, *NO_LEASE, (FAULT_ENV, "after_assign"))
                killed = time.monotonic()
                assert code == -9, out  # SIGKILL, right after the script
            finally:
                survivor.send_signal(signal.SIGCONT)
            assert (await res.router.snapshot()).inflight == {conversation_id: leader}

            async def assigned() -> bool:
                return await assignee_of(res, conversation_id) == leader

            await until(assigned, 10, "the conversation is assigned")
            delay = time.monotonic() - killed
            print(f"claim of a killed worker assigned {delay:.2f} s after its death")
            assert delay <= 5.0
        assert await assigned_events(res, [conversation_id]) == {conversation_id: 1}
        snap = await res.router.snapshot()
        assert snap.inflight == {} and snap.queue == []
        assert snap.leaders[leader].basket == {conversation_id}
    finally:
        await res.close()


async def test_a_worker_paused_past_its_liveness_commits_nothing(backend: Backend) -> None:
    res = Resources.open(backend.settings())
    try:
        leaders, agent = await add_people(res, 2, 1)
        (conversation_id,) = await add_requests(res, agent, 1)
        pause = (FAULT_ENV, "pause_after_assign")
        async with long_running_worker(backend, "paused", pause) as (stopped, stopped_log):
            await until(lambda: asyncio.to_thread(paused, stopped), 30, "the worker pauses")
            snap = await res.router.snapshot()
            first = snap.inflight[conversation_id]  # claimed, never committed
            async with long_running_worker(backend, "other"):

                async def assigned() -> bool:
                    return await assignee_of(res, conversation_id) is not None

                # Its liveness key expires; the other worker settles the claim and assigns
                # the conversation again (to the leader whose last assignment is older).
                await until(assigned, 20, "the other worker assigns it")
                (second,) = set(leaders) - {first}
                assert await assignee_of(res, conversation_id) == second
                stopped.send_signal(signal.SIGCONT)  # resumes between script and commit

                async def rolled_back() -> bool:
                    return b"claim ran out" in stopped_log.read_bytes()

                await until(rolled_back, 10, "the resumed worker rolls back")
                await asyncio.sleep(0.5)  # and settles (nothing: the claim is no longer its)
                assert await assignee_of(res, conversation_id) == second
                snap = await res.router.snapshot()
                assert snap.inflight == {}
                assert snap.leaders[first].basket == set()
                assert snap.leaders[second].basket == {conversation_id}
        assert await assigned_events(res, [conversation_id]) == {conversation_id: 1}
    finally:
        await res.close()


async def _any(found: Awaitable[list[str]]) -> bool:
    return bool(await found)


async def _true(value: bool) -> bool:
    return value


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


def worker_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("routing worker")]


async def test_a_database_outage_is_waited_out_quietly_then_the_queue_drains(
    backend: Backend, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="teamtalk.worker")
    res = Resources.open(backend.settings(max_assign_attempts=2))
    # A "database file" that is a directory: every statement fails as in an outage.
    broken = db.create_engine(f"sqlite+aiosqlite:///{tmp_path}")
    working = res.sessions, res.reads
    stop = asyncio.Event()
    worker = Worker(res, None)
    try:
        _, agent = await add_people(res, 1, 10)
        task = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.3)
        res.sessions, res.reads = db.sessionmaker(broken), db.readers(broken)
        async with working[0]() as session:  # requests still come in, through the servers
            agent_row = await session.get_one(User, agent.id)
            ids = []
            for i in range(6):
                conversation, _ = await create_conversation(
                    session,
                    res,
                    None,
                    Actor.of(agent_row),
                    message=f"help {i}",
                    topic_id=None,
                    ticket_link=None,
                )
                ids.append(conversation.id)
        await asyncio.sleep(3)
        down = worker_lines(caplog)
        assert [r.levelno for r in down] == [logging.WARNING], [r.getMessage() for r in down]
        assert "database unavailable" in down[0].getMessage() and down[0].exc_info is None
        assert worker.stats.errors <= 10, "the loop spins"
        snap = await res.router.snapshot()
        assert snap.parked == set() and set(snap.queue) | set(snap.inflight) == set(ids)
        assert await res.redis.hlen(res.keys.attempts) == 0  # an outage counts no attempt

        res.sessions, res.reads = working
        back = time.monotonic()
        while (await assigned_events(res, ids)) != dict.fromkeys(ids, 1):
            assert time.monotonic() - back < 5, "the queue did not drain within 5 s"
            await asyncio.sleep(0.05)
        print(f"queue drained {time.monotonic() - back:.2f} s after the database came back")
        await until(lambda: _true(len(worker_lines(caplog)) > 1), 2, "the worker says so")
        lines = worker_lines(caplog)
        assert len(lines) == 2 and "working again" in lines[1].getMessage()
        stop.set()
        await task
    finally:
        stop.set()
        await broken.dispose()
        await res.close()


async def test_a_redis_outage_is_waited_out_quietly(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="teamtalk.worker")
    folder = Path(tempfile.mkdtemp(prefix="tt-outage-", dir="/tmp"))
    valkey = EmbeddedValkey(folder)
    res = Resources.open(backend.settings(redis_url=valkey.start(), redis_prefix=""))
    stop = asyncio.Event()
    worker = Worker(res, None)
    try:
        _, agent = await add_people(res, 1, 10)
        task = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.3)
        valkey.stop()
        await asyncio.sleep(3)
        down = worker_lines(caplog)
        assert [r.levelno for r in down] == [logging.WARNING], [r.getMessage() for r in down]
        assert "redis unavailable" in down[0].getMessage() and down[0].exc_info is None
        assert worker.stats.errors <= 10, "the loop spins"

        valkey.start()
        await _until_reachable(res.redis)
        back = time.monotonic()
        ids = await add_requests(res, agent, 3)
        while (await assigned_events(res, ids)) != dict.fromkeys(ids, 1):
            assert time.monotonic() - back < 5, "nothing assigned within 5 s of Redis' return"
            await asyncio.sleep(0.05)
        await until(lambda: _true(len(worker_lines(caplog)) > 1), 2, "the worker says so")
        lines = worker_lines(caplog)
        assert len(lines) == 2 and "working again" in lines[1].getMessage()
        stop.set()
        await task
    finally:
        stop.set()
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
