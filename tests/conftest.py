"""Fixtures: real databases built by the migrations, real Redis/Valkey, live servers.

Every test that takes `backend` runs on the embedded default (SQLite + a private Valkey)
and, when TEST_DATABASE_URL / TEST_REDIS_URL are set, again on those servers.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from teamtalk import db
from teamtalk.app import create_app
from teamtalk.embedded import EmbeddedValkey
from teamtalk.models import Base, Role, User
from teamtalk.services.users import create_user
from teamtalk.serving import server_config
from teamtalk.settings import Settings, normalize_database_url
from teamtalk.worker import Worker

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def valkey_url() -> Iterator[str]:
    # Short path: unix socket paths are limited to ~100 bytes.
    folder = Path(tempfile.mkdtemp(prefix="tt-", dir="/tmp"))
    with EmbeddedValkey(folder) as valkey:
        yield valkey.url
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"

    async def build() -> None:
        engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
        await db.upgrade(engine)
        await engine.dispose()

    asyncio.run(build())
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A database of our own on the TEST_DATABASE_URL server, migrated once."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield None
        return
    server = make_url(normalize_database_url(base))
    name = f"teamtalk_test_{os.getpid()}"
    url = server.set(database=name).render_as_string(hide_password=False)

    async def admin(sql: str) -> None:
        engine = db.create_engine(
            server.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
        )
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    async def migrate() -> None:
        engine = db.create_engine(url)
        await db.upgrade(engine)
        await engine.dispose()

    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    asyncio.run(migrate())
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _backends() -> list[str]:
    extra = os.environ.get("TEST_DATABASE_URL") or os.environ.get("TEST_REDIS_URL")
    return ["embedded", "external"] if extra else ["embedded"]


@dataclass
class Backend:
    name: str
    database_url: str
    redis_url: str
    prefix: str
    data_dir: Path

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "redis_url": self.redis_url,
            "redis_prefix": self.prefix,
            "data_dir": self.data_dir,
            "secret_key": "test-secret",
            "log_format": "text",
            # httpx's ASGI transport sends Host: testserver; a served name like any other.
            "allowed_hosts": ["testserver"],
        }
        values.update(overrides)
        return Settings.model_validate(values)


@pytest.fixture(params=_backends())
async def backend(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_url: str | None,
    valkey_url: str,
) -> AsyncIterator[Backend]:
    external = request.param == "external"
    if external and postgres_url:
        database_url = postgres_url
        await _truncate_all(postgres_url)
    else:
        path = tmp_path / "teamtalk.db"
        shutil.copy(sqlite_template, path)
        database_url = f"sqlite+aiosqlite:///{path}"
    redis_url = os.environ.get("TEST_REDIS_URL") if external else None
    prefix = f"tt-test-{uuid.uuid4().hex[:12]}:"
    yield Backend(request.param, database_url, redis_url or valkey_url, prefix, tmp_path)
    await _delete_prefix(redis_url or valkey_url, prefix)


async def _truncate_all(url: str) -> None:
    engine = db.create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


async def _delete_prefix(url: str, prefix: str) -> None:
    """Remove only the keys this test made."""
    client = Redis.from_url(url)
    try:
        async for key in client.scan_iter(match=f"{prefix}*", count=500):
            await client.delete(key)
    finally:
        await client.aclose()


@dataclass
class Harness:
    """An app on a backend, with helpers to make users and signed-in clients."""

    backend: Backend
    settings: Settings
    asgi: Any
    base_url: str = "http://testserver"

    async def close(self) -> None:
        await self.fastapi.state.sio.shutdown()
        await self.fastapi.state.realtime.close()
        await self.resources.close()

    @property
    def resources(self) -> Any:
        return self.fastapi.state.resources

    @property
    def fastapi(self) -> Any:
        return self.asgi.api

    async def user(self, role: Role = Role.AGENT, email: str | None = None, **kw: Any) -> User:
        async with self.resources.sessions() as session:
            return await create_user(
                session,
                email=email or f"{role.value}-{uuid.uuid4().hex[:8]}@example.com",
                display_name=kw.pop("display_name", f"Test {role.value}"),
                role=role,
                password=kw.pop("password", PASSWORD),
                capacity=kw.pop("capacity", 4),
            )

    def client(self, **kw: Any) -> httpx.AsyncClient:
        headers = {"Origin": self.base_url, **kw.pop("headers", {})}
        transport = httpx.ASGITransport(app=self.asgi, client=kw.pop("client", ("127.0.0.1", 5000)))
        return httpx.AsyncClient(transport=transport, base_url=self.base_url, headers=headers, **kw)

    @asynccontextmanager
    async def signed_in(
        self, user: User, password: str = PASSWORD
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with self.client() as client:
            body = {"email": user.email, "password": password}
            response = await client.post("/api/auth/login", json=body)
            assert response.status_code == 200, response.text
            yield client


@asynccontextmanager
async def harness_with(backend: Backend, **overrides: Any) -> AsyncIterator[Harness]:
    settings = backend.settings(**overrides)
    h = Harness(backend, settings, create_app(settings))
    try:
        yield h
    finally:
        await h.close()


# Polling set to a minute: anything that happens sooner came from a wake-up.
NO_POLLING = {"worker_min_interval": 60, "worker_max_interval": 60}


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    async with harness_with(backend) as h:
        yield h


@pytest.fixture
async def worker(harness: Harness) -> AsyncIterator[Worker]:
    """A routing worker in this event loop, on the harness's resources."""
    w = Worker(harness.resources, harness.fastapi.state.realtime)
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    yield w
    stop.set()
    await task


@dataclass
class LiveServer:
    harness: Harness
    url: str
    server: uvicorn.Server


@asynccontextmanager
async def serving(harness: Harness) -> AsyncIterator[LiveServer]:
    """The harness app served by uvicorn on a loopback port, in this event loop."""
    # A socket bound and listening before uvicorn starts: clients can connect at once. The
    # protocol named, or asyncio leaves Nagle on for its connections (as uvicorn's own
    # sockets do not): every response would wait out the client's delayed ACK, ~40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    # The config `teamtalk serve` runs (its WebSocket protocol, header deadline, ...).
    config = server_config(harness.asgi, harness.settings, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    harness.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # As the app's start-up does: what is alive now (here, all of pytest's heap as well)
    # is left out of garbage collections while the server runs.
    gc.freeze()
    try:
        yield LiveServer(harness, harness.base_url, server)
    finally:
        gc.unfreeze()
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def live(harness: Harness) -> AsyncIterator[LiveServer]:
    async with serving(harness) as server:
        yield server


@asynccontextmanager
async def sweeping(harness: Harness) -> AsyncIterator[None]:
    """The server's sweep of open sockets' sessions (the lifespan runs it in `teamtalk
    serve`; the test servers run without a lifespan)."""
    api = harness.fastapi
    stop = asyncio.Event()
    task = asyncio.create_task(api.state.live.run(stop, api.state.sio.disconnect))
    try:
        yield
    finally:
        stop.set()
        await task
