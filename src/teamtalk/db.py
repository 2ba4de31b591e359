"""Database engine, sessions and migrations for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from teamtalk import datadir

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BACKSTOP_PAGES = 20_000
READ_ONLY = "teamtalk_read_only"
CHECKPOINT_SECONDS = 1.0
SQLITE_READERS = 4  # connections for read-only sessions, beside the writing one
# PostgreSQL ends a session left idle inside a transaction this long. A process that stopped
# there (frozen, or cut off) would otherwise hold its row locks, and with them every
# assignment to those leaders, for as long as it stays stopped. Our transactions never wait
# this long between statements.
IDLE_IN_TRANSACTION_MS = 3000


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if parsed.get_driver_name() == "asyncpg":
            settings = {"idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS)}
            kwargs.setdefault("connect_args", {"server_settings": settings})
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        datadir.make_dirs(path.parent)
        datadir.private_database(path)
        # One connection per process: every transaction takes SQLite's write lock up front
        # (below), so more connections would only queue in SQLite's busy handler, which
        # sleeps in steps of up to 100 ms; waiting for the pool is an asyncio wait, in
        # order. Other processes on the same file still meet the busy handler.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take it over.
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Checkpoints (copying the log into the database file, with an fsync) would otherwise
    # run inside whichever commit crosses 1,000 pages, stalling that request and every one
    # queued behind it; `checkpoints` runs them beside the requests. This is the backstop.
    cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    cursor.close()


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL, or None (another database, or in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


async def checkpoints(path: str, stop: asyncio.Event) -> None:
    """Checkpoint the write-ahead log every second on a connection of its own, in a thread:
    a passive checkpoint takes no lock, so requests go on meanwhile."""
    conn = await asyncio.to_thread(sqlite3.connect, path, check_same_thread=False)
    try:
        while not stop.is_set():
            try:
                await asyncio.to_thread(conn.execute, "PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                log.exception("WAL checkpoint failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CHECKPOINT_SECONDS)
    finally:
        await asyncio.to_thread(conn.close)


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front, so concurrent writers wait on
    # busy_timeout instead of failing on a lock upgrade mid-transaction. Sessions that
    # only read (`readers`) take no lock: in WAL mode they never hold up a writer.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def reader_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine read-only sessions use. On a SQLite file it is one of its own, with a few
    connections: in WAL mode they read beside the writing one, so a burst of reads (one
    user's catch-ups, say) does not queue ahead of everyone's writes for that one
    connection. Elsewhere it is the same engine."""
    url = engine.url.render_as_string(hide_password=False)
    if sqlite_file(url) is None:
        return engine
    return create_engine(url, pool_size=SQLITE_READERS, max_overflow=0)


def readers(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for work that only reads (the worker's periodic checks): on SQLite they do
    not take the write lock, so another process's requests never wait for them."""
    return async_sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


def alembic_config() -> Config:
    from alembic.config import Config  # Alembic costs a command line a second: only here

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate on a connection of ours (Alembic's env.py would otherwise start its own loop)."""

    def run(connection: Connection) -> None:
        from alembic import command

        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


def head_revision() -> str | None:
    """The newest migration, read from the files' `revision` and `down_revision` alone
    (Alembic itself would import every migration); None if there is no single newest."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for node in ast.parse(path.read_text(), str(path)).body:
            if not isinstance(node, ast.AnnAssign | ast.Assign):
                continue
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if not names & {"revision", "down_revision"} or node.value is None:
                continue
            value = ast.literal_eval(node.value)
            if "revision" in names and isinstance(value, str):
                revisions.add(value)
            elif "down_revision" in names and value is not None:
                parents |= {value} if isinstance(value, str) else set(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it has none (new, or not ours)."""

    def read(connection: Connection) -> str | None:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        return str(rows[0][0]) if len(rows) == 1 else None

    async with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        return await conn.run_sync(read)


async def upgrade_if_behind(engine: AsyncEngine) -> None:
    """Migrate to the newest revision unless the database is there already: the check is one
    query, where Alembic's upgrade costs a command line a second even when there is nothing
    to do."""
    head = head_revision()
    if head is None or await current_revision(engine) != head:
        await upgrade(engine)
