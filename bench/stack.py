"""A Team Talk under test on fresh state: its database, users with sign-in sessions, the
environment of its processes, and the leaders' Socket.IO clients.

Users are written straight to the database with a session each whose token hash uses the
server's secret: argon2 logins for hundreds of users would take minutes and are not what
a bench measures.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import socketio
from harness import START_TIMEOUT, Process, delete_prefix, gather_limited
from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import make_url

from teamtalk import db
from teamtalk.models import Base, Presence, Role, User, utcnow
from teamtalk.models import Session as AuthSession
from teamtalk.routing.keys import Keys
from teamtalk.services.auth import COOKIE_NAME, hash_token
from teamtalk.settings import normalize_database_url

CAPACITY = 4  # every leader's basket, as in the seed
BENCH_DOMAIN = "bench.invalid"  # every user the bench makes; fresh_database refuses others
CONNECT_CONCURRENCY = 25  # leader sockets connecting, or disconnecting, at once


@dataclass(frozen=True)
class Account:
    user_id: int
    token: str  # the session cookie's value


def cookie(account: Account) -> str:
    return f"{COOKIE_NAME}={account.token}"


class Stack:
    """One Team Talk on fresh state, in a directory of its own under `workdir`: a new
    database (a SQLite file there unless `database_url` names another), a new Redis key
    prefix (TEAMTALK_REDIS_PREFIX) on the shared server, and a new secret."""

    def __init__(self, redis_url: str, workdir: Path, name: str, database_url: str = "") -> None:
        self.run_dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=workdir))
        self.redis_url = redis_url
        self.database_url = normalize_database_url(
            database_url or f"sqlite:///{self.run_dir / 'teamtalk.db'}"
        )
        self.prefix = f"ttbench-{uuid.uuid4().hex[:12]}:"
        self.keys = Keys(self.prefix)
        self.secret = secrets.token_urlsafe(32)

    async def prepare(self, leaders: int, agents: int) -> tuple[list[Account], list[Account]]:
        """The database migrated from empty, with `leaders` team leaders and `agents`
        agents, each signed in."""
        await fresh_database(self.database_url)
        return await add_users(self.database_url, self.secret, leaders, agents)

    def env(self, port: int) -> dict[str, str]:
        """The environment of the server and the worker; TEAMTALK_* of the caller left out,
        so both run on the defaults."""
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("TEAMTALK_") and k not in ("DATABASE_URL", "REDIS_URL")
        }
        return base | {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "TEAMTALK_REDIS_PREFIX": self.prefix,
            "TEAMTALK_DATA_DIR": str(self.run_dir / "data"),
            "TEAMTALK_SECRET_KEY": self.secret,
            "TEAMTALK_LOG_LEVEL": "WARNING",
            "TEAMTALK_HOST": "127.0.0.1",
            "TEAMTALK_PORT": str(port),
        }

    def start(self, name: str, args: Sequence[str], env: dict[str, str]) -> Process:
        """`python -m teamtalk <args>` in the run directory."""
        return Process(name, [sys.executable, "-m", "teamtalk", *args], env, self.run_dir)

    async def remove(self, redis: Redis) -> None:
        """Its keys and its directory (stop its processes first)."""
        await delete_prefix(redis, self.prefix)
        shutil.rmtree(self.run_dir, ignore_errors=True)


async def fresh_database(url: str) -> None:
    """Migrated from empty. A database other than SQLite is emptied first, and only when
    every user in it is one of the bench's."""
    engine = db.create_engine(url)
    try:
        if make_url(url).get_backend_name() != "sqlite":
            async with engine.begin() as conn:
                tables = await conn.run_sync(lambda c: sa_inspect(c).get_table_names())
                if "users" in tables:
                    others = await conn.scalar(
                        select(func.count())
                        .select_from(User)
                        .where(User.email.not_like(f"%@{BENCH_DOMAIN}"))
                    )
                    if others:
                        raise RuntimeError(
                            f"--database-url holds {others} users the bench did not make; "
                            "it empties the database, so give it one of its own"
                        )
                await conn.run_sync(Base.metadata.drop_all)
                await conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await db.upgrade(engine)
    finally:
        await engine.dispose()


async def database_version(url: str) -> str:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                version = await conn.scalar(text("SELECT sqlite_version()"))
            else:
                version = await conn.scalar(text("SHOW server_version"))
            return f"{conn.dialect.name} {version}"
    finally:
        await engine.dispose()


async def add_users(
    url: str, secret: str, leaders: int, agents: int
) -> tuple[list[Account], list[Account]]:
    """Leaders and agents with a sign-in session each, written straight to the database:
    the cookie token's hash is the server's."""
    engine = db.create_engine(url)
    try:
        async with db.sessionmaker(engine)() as session:
            now = utcnow()
            roles = [Role.TEAMLEADER] * leaders + [Role.AGENT] * agents
            users = [
                User(
                    email=f"{role.value}{i}@{BENCH_DOMAIN}",
                    display_name=f"Bench {role.value} {i}",
                    role=role.value,
                    password_hash="-",  # no password signs in
                    capacity=CAPACITY,
                    is_active=True,
                    presence=Presence.OFFLINE.value,
                    created_at=now,
                    updated_at=now,
                )
                for i, role in enumerate(roles)
            ]
            session.add_all(users)
            await session.flush()
            accounts = []
            for user in users:
                token = secrets.token_urlsafe(32)
                session.add(
                    AuthSession(
                        token_hash=hash_token(token, secret),
                        user_id=user.id,
                        created_at=now,
                        last_seen_at=now,
                        expires_at=now + timedelta(days=1),
                    )
                )
                accounts.append(Account(user.id, token))
            await session.commit()
    finally:
        await engine.dispose()
    return accounts[:leaders], accounts[leaders:]


async def wait_heartbeat(redis: Redis, keys: Keys, worker: Process) -> None:
    """Its first cycle has run: start-up (rebuild, settling) is behind it."""
    deadline = time.monotonic() + START_TIMEOUT
    while not await redis.exists(keys.worker_heartbeat):
        worker.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"no worker heartbeat in {START_TIMEOUT:g} s:\n{worker.tail()}")
        await asyncio.sleep(0.02)


class Leaders:
    """The leaders' Socket.IO clients, online, noting when each assignment arrives."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.clients: list[socketio.AsyncClient] = []
        self.arrived: dict[int, float] = {}  # conversation id -> time.perf_counter()
        self.duplicates = 0
        self.misrouted = 0

    async def connect(self, leader: Account) -> None:
        client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self.clients.append(client)

        async def on_assign(data: dict[str, Any]) -> None:
            now = time.perf_counter()
            conversation = data["conversation"]
            conversation_id = int(conversation["id"])
            if conversation_id in self.arrived:
                self.duplicates += 1
            else:
                self.arrived[conversation_id] = now
            if conversation.get("assignee_id") != leader.user_id:
                self.misrouted += 1

        client.on("assign_conversation", on_assign)
        await client.connect(
            self.url,
            headers={"Cookie": cookie(leader)},
            transports=["websocket"],
            wait_timeout=30,
        )
        ack = await client.call("set_status", {"status": "online"}, timeout=30)
        if ack != {"status": "online"}:
            raise RuntimeError(f"leader {leader.user_id}: set_status answered {ack}")

    async def close(self) -> None:
        await gather_limited((c.disconnect() for c in self.clients), CONNECT_CONCURRENCY)
