"""Outages of the database or Redis: a 503 with a stable code and Retry-After, never a 500,
and everything works again once the server is back, without restarting the app.

Each test stops a server of its own: a PostgreSQL cluster (initdb + pg_ctl on a port of
its own), a Valkey process, or a lock on a SQLite file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
import sqlalchemy.exc
from redis.asyncio import BlockingConnectionPool
from sqlalchemy import event, text

from teamtalk import db, errors
from teamtalk.embedded import find_server_binary
from teamtalk.errors import dependency_error
from teamtalk.redis_pool import redis_pool
from teamtalk.services.auth import COOKIE_NAME
from tests.clients import connected, refused
from tests.conftest import PASSWORD, Backend, _delete_prefix, harness_with, serving

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Postgres:
    """A PostgreSQL cluster of our own, stopped and started by the test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        # initdb and postgres refuse to run as root.
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(folder, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([str(PG_BIN / tool), *args], check=True, capture_output=True, user=self.user)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    folder = Path(tempfile.mkdtemp(prefix="tt-pg-", dir="/tmp"))
    cluster = Postgres(folder)
    cluster.start()

    async def migrate() -> None:
        engine = db.create_engine(cluster.url)
        await db.upgrade(engine)
        await engine.dispose()

    try:
        asyncio.run(migrate())
        yield cluster
    finally:
        if cluster.running():
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


class Valkey:
    """A Valkey process of our own, killed and started again on the same port."""

    def __init__(self, folder: Path, *, aof: bool) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.aof = aof
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: bool = True) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        args += ["--save", "", "--appendonly", "yes" if self.aof else "no"]
        # DEBUG POPULATE, and an AOF of commands (slower to load than an RDB preamble).
        args += ["--enable-debug-command", "local", "--aof-use-rdb-preamble", "no"]
        self.proc = subprocess.Popen(
            [str(find_server_binary()), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait:
            return
        deadline = time.monotonic() + 10
        with redis.Redis(port=self.port, socket_connect_timeout=1) as client:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None


@pytest.fixture
def valkey_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="tt-vk-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def assert_unavailable(response: httpx.Response, code: str) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == code
    retry_after = error["details"]["retry_after"]
    assert isinstance(retry_after, int) and retry_after > 0
    assert response.headers["Retry-After"] == str(retry_after)


@pytest.fixture(autouse=True)
def fresh_outage_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "_logged_at", {})  # each test sees its first warning


def assert_no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """An outage is a warning, not an unhandled error per request or connect."""
    ours = [r for r in caplog.records if r.name.startswith("teamtalk.")]
    assert not [r.getMessage() for r in ours if r.exc_info or r.levelno >= logging.ERROR]
    assert [r for r in ours if r.levelno == logging.WARNING]


async def create(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/api/conversations", json={"message": "Customer is waiting"})


async def test_a_database_outage_answers_503_and_passes(
    backend: Backend, postgres: Postgres, caplog: pytest.LogCaptureFixture
) -> None:
    on_ours = Backend(
        backend.name, postgres.url, backend.redis_url, backend.prefix, backend.data_dir
    )
    async with harness_with(on_ours) as harness, serving(harness) as live:
        agent = await harness.user()
        async with harness.signed_in(agent) as client:
            token = client.cookies[COOKIE_NAME]
            first = await create(client)
            assert first.status_code == 201, first.text
            conversation_id = first.json()["conversation"]["id"]
            async with connected(live, token) as probe:
                postgres.stop()
                try:
                    assert_unavailable(await create(client), "database_unavailable")
                    assert_unavailable(await client.get("/api/me"), "database_unavailable")
                    listed = await client.get("/api/conversations")
                    assert_unavailable(listed, "database_unavailable")
                    ack = await probe.say(conversation_id, "Still there?")
                    assert ack["error"]["code"] == "database_unavailable"
                    assert ack["error"]["details"]["retry_after"] > 0
                    refusal = await refused(live, token)
                    assert refusal["code"] == "database_unavailable"
                    assert_no_tracebacks(caplog)
                finally:
                    postgres.start()
                # Back without restarting the app: the pool replaces its dead connections.
                assert (await create(client)).status_code == 201
                assert (await client.get("/api/me")).status_code == 200
                assert (await client.get("/api/conversations")).status_code == 200
                assert "message" in await probe.say(conversation_id, "Back again")
            async with connected(live, token) as again:
                assert "message" in await again.say(conversation_id, "From a new socket")


@pytest.mark.parametrize("aof", [False, True], ids=["empty", "aof"])
async def test_a_redis_outage_answers_503_and_passes(
    backend: Backend, valkey_folder: Path, aof: bool, caplog: pytest.LogCaptureFixture
) -> None:
    valkey = Valkey(valkey_folder, aof=aof)
    valkey.start()
    on_ours = Backend(
        backend.name, backend.database_url, valkey.url, backend.prefix, backend.data_dir
    )
    try:
        async with harness_with(on_ours) as harness, serving(harness) as live:
            agent = await harness.user()
            async with harness.signed_in(agent) as client:
                token = client.cookies[COOKIE_NAME]
                first = await create(client)
                assert first.status_code == 201, first.text
                conversation_id = first.json()["conversation"]["id"]
                detail = f"/api/conversations/{conversation_id}"  # asks Redis its position

                res = harness.resources
                probe_key = res.keys.prefix + "outage-probe"

                async def on_every_connection() -> list[Any]:
                    # Each BLPOP holds its connection while it waits: 20 at once use (and
                    # leave in the pool) 20 connections.
                    calls = [res.redis.blpop([probe_key], timeout=0.1) for _ in range(20)]
                    return list(await asyncio.gather(*calls, return_exceptions=True))

                assert await on_every_connection() == [None] * 20
                async with connected(live, token) as probe:
                    valkey.kill()
                    try:
                        assert_unavailable(await client.get(detail), "redis_unavailable")
                        listed = await client.get("/api/conversations")  # its budget is there
                        assert_unavailable(listed, "redis_unavailable")
                        created = await create(client)
                        if created.status_code != 201:  # committed; the queue step failed
                            assert_unavailable(created, "redis_unavailable")
                        assert (await client.get("/api/me")).status_code == 200  # no Redis
                        async with harness.client() as stranger:
                            body = {"email": agent.email, "password": PASSWORD}
                            login = await stranger.post("/api/auth/login", json=body)
                            assert_unavailable(login, "redis_unavailable")
                        ack = await probe.say(conversation_id, "Still there?")
                        assert ack["error"]["code"] == "redis_unavailable"
                        assert (await refused(live, token))["code"] == "redis_unavailable"
                        assert_no_tracebacks(caplog)
                    finally:
                        valkey.start()
                    # The very next calls, on pooled connections to the dead server.
                    assert await on_every_connection() == [None] * 20
                    assert (await client.get(detail)).status_code == 200
                    assert (await create(client)).status_code == 201
                    assert (await client.get("/api/conversations")).status_code == 200
                    assert "message" in await probe.say(conversation_id, "Back again")
    finally:
        if valkey.proc is not None:
            valkey.kill()


async def test_a_locked_sqlite_database_answers_503(
    tmp_path: Path, sqlite_template: Path, valkey_url: str
) -> None:
    """As root a chmod does not lock anyone out, so another process holds the write lock
    (BEGIN EXCLUSIVE) past the app's busy timeout, shortened here from 30 s. Writers are
    answered 503; the session lookup reads beside the lock (WAL)."""
    path = tmp_path / "teamtalk.db"
    shutil.copy(sqlite_template, path)
    prefix = f"tt-test-{uuid.uuid4().hex[:12]}:"
    on_sqlite = Backend("embedded", f"sqlite+aiosqlite:///{path}", valkey_url, prefix, tmp_path)

    def short_busy_timeout(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA busy_timeout=300")

    try:
        async with harness_with(on_sqlite) as harness:
            res = harness.resources
            for engine in {res.engine, res.reader}:  # before their first connection
                event.listen(engine.sync_engine, "connect", short_busy_timeout)
            agent = await harness.user()
            async with harness.signed_in(agent) as client:
                assert (await create(client)).status_code == 201
                holder = sqlite3.connect(path, isolation_level=None)
                try:
                    holder.execute("BEGIN EXCLUSIVE")
                    assert_unavailable(await create(client), "database_unavailable")
                    # A request that only reads its session does not wait for the writer.
                    assert (await client.get("/api/me")).status_code == 200
                    listed = await client.get("/api/conversations")
                    assert_unavailable(listed, "database_unavailable")
                finally:
                    holder.rollback()
                    holder.close()
                assert (await create(client)).status_code == 201
                assert (await client.get("/api/me")).status_code == 200
    finally:
        await _delete_prefix(valkey_url, prefix)


async def test_a_valkey_loading_its_aof_is_unavailable(valkey_folder: Path) -> None:
    valkey = Valkey(valkey_folder, aof=True)
    valkey.start()
    try:
        with redis.Redis(port=valkey.port) as client:
            client.execute_command("DEBUG", "POPULATE", "400000")
            client.execute_command("BGREWRITEAOF")  # DEBUG POPULATE is not in the AOF
            while True:
                state = client.info("persistence")
                if not state["aof_rewrite_in_progress"] and not state["aof_rewrite_scheduled"]:
                    break
                await asyncio.sleep(0.05)
        valkey.kill()
        valkey.start(wait=False)
        pool = redis.asyncio.Redis.from_pool(redis_pool(valkey.url))
        try:
            answers = set()
            async with asyncio.timeout(30):
                while True:
                    try:
                        await pool.ping()
                        break
                    except redis.ConnectionError as exc:  # not listening, then loading
                        known = dependency_error(exc)
                        assert known is not None
                        answers.add((type(exc), known.code))
                        await asyncio.sleep(0.005)
            assert (redis.BusyLoadingError, "redis_unavailable") in answers
        finally:
            await pool.aclose()
    finally:
        if valkey.proc is not None:
            valkey.kill()


async def real_error(url: str, *statements: str) -> Exception:
    engine = db.create_engine(url)
    try:
        async with engine.begin() as conn:
            for sql in statements:
                await conn.execute(text(sql))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("no error")


def dead_redis() -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_pool(redis_pool(f"redis://127.0.0.1:{free_port()}/0"))


async def ping_twice(client: redis.asyncio.Redis) -> None:
    """Two pings in a task group, which raises what they raise in an ExceptionGroup."""

    async def ping() -> None:
        await client.ping()

    async with asyncio.TaskGroup() as group:
        group.create_task(ping())
        group.create_task(ping())


async def test_outages_are_told_from_bugs(tmp_path: Path) -> None:
    # A database file that cannot be opened (here a directory in its place) is an outage.
    (tmp_path / "gone.db").mkdir()
    cannot_open = await real_error(f"sqlite+aiosqlite:///{tmp_path / 'gone.db'}", "SELECT 1")
    known = dependency_error(cannot_open)
    assert known is not None and known.code == "database_unavailable"
    # Wrong SQL and broken constraints are bugs: a 500, logged.
    url = f"sqlite+aiosqlite:///{tmp_path / 'ok.db'}"
    syntax = await real_error(url, "SELEC 1")
    assert isinstance(syntax, sqlalchemy.exc.OperationalError)
    assert dependency_error(syntax) is None
    table = "CREATE TABLE t (a INTEGER PRIMARY KEY)"
    twice = await real_error(url, table, "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)")
    assert isinstance(twice, sqlalchemy.exc.IntegrityError)
    assert dependency_error(twice) is None
    # A refused connect that did not come from the database driver is not a database outage.
    assert dependency_error(ConnectionRefusedError(111, "refused")) is None
    # A refused Redis, alone or inside a task group.
    dead = dead_redis()
    try:
        with pytest.raises(ExceptionGroup) as raised:
            await ping_twice(dead)
    finally:
        await dead.aclose()
    known = dependency_error(raised.value)
    assert known is not None and known.code == "redis_unavailable"
    mixed = ExceptionGroup("mixed", [*raised.value.exceptions, KeyError(1)])
    assert dependency_error(mixed) is None


async def test_a_redis_pool_with_no_free_connection_is_busy(valkey_url: str) -> None:
    pool = BlockingConnectionPool.from_url(valkey_url, max_connections=1, timeout=0.1)
    client = redis.asyncio.Redis.from_pool(pool)
    try:

        async def hold() -> Any:
            return await client.blpop(["tt-test-nothing"], timeout=1)

        holding = asyncio.create_task(hold())  # the one connection, for a second
        await asyncio.sleep(0.05)
        with pytest.raises(redis.ConnectionError) as raised:
            await client.ping()
        known = dependency_error(raised.value)
        assert known is not None and known.code == "busy"
        assert await holding is None
    finally:
        await client.aclose()


async def test_an_outage_in_a_task_group_is_a_503(backend: Backend) -> None:
    async with harness_with(backend) as harness:
        dead = dead_redis()

        async def both() -> None:
            await ping_twice(dead)

        harness.fastapi.add_api_route("/api/both", both, methods=["POST"])
        try:
            async with harness.client() as client:
                assert_unavailable(await client.post("/api/both"), "redis_unavailable")
        finally:
            await dead.aclose()


async def test_a_wrong_statement_is_still_a_500(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite's OperationalError and PostgreSQL's ProgrammingError: a bug, not an outage."""
    async with harness_with(backend) as harness:

        async def wrong() -> None:
            async with harness.resources.sessions() as session:
                await session.execute(text("SELECT * FROM no_such_table"))

        harness.fastapi.add_api_route("/api/wrong", wrong, methods=["POST"])
        async with harness.client() as client:
            response = await client.post("/api/wrong")
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error"
        assert any(r.exc_info and "no_such_table" in str(r.exc_info[1]) for r in caplog.records)
