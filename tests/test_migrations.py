"""The schema comes only from the migrations, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, inspect, select

from teamtalk import db
from teamtalk.migrations import include_name
from teamtalk.models import Base, Topic
from tests.conftest import Backend


async def test_migrations_build_every_table(backend: Backend) -> None:
    engine = db.create_engine(backend.database_url)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


async def test_no_drift_between_models_and_migrations(backend: Backend) -> None:
    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": include_name}
        )
        return list(compare_metadata(context, Base.metadata))

    engine = db.create_engine(backend.database_url)
    async with engine.connect() as conn:
        changes = await conn.run_sync(diff)
    await engine.dispose()
    assert changes == []


async def test_downgrade_to_empty_and_back(tmp_path: object) -> None:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path}/roundtrip.db")
    await db.upgrade(engine)

    def down(conn: Connection) -> None:
        cfg = db.alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")

    async with engine.begin() as conn:
        await conn.run_sync(down)
    async with engine.connect() as conn:
        left = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert left <= {"alembic_version"}
    await db.upgrade(engine)
    await engine.dispose()


async def test_a_reading_process_never_holds_up_a_writing_one(tmp_path: Path) -> None:
    """SQLite: read-only sessions take no write lock (WAL), so a second process's writes
    go through while a long read is open."""
    url = f"sqlite+aiosqlite:///{tmp_path}/shared.db"
    reader_engine, writer_engine = db.create_engine(url), db.create_engine(url)
    await db.upgrade(writer_engine)
    try:
        async with db.readers(reader_engine)() as reading:
            assert await reading.scalar(select(func.count()).select_from(Topic)) == 0
            async with db.sessionmaker(writer_engine)() as writing:
                writing.add(Topic(name="Billing"))
                async with asyncio.timeout(2):  # busy_timeout is 30 s: no waiting at all
                    await writing.commit()
    finally:
        await reader_engine.dispose()
        await writer_engine.dispose()


def test_the_newest_revision_is_read_as_alembic_reads_it() -> None:
    script = ScriptDirectory.from_config(db.alembic_config())
    assert db.head_revision() == script.get_current_head()


async def test_a_current_schema_is_checked_without_alembic(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_upgrade(*args: object) -> None:
        raise AssertionError("the database is current: nothing to migrate")

    monkeypatch.setattr(command, "upgrade", no_upgrade)
    engine = db.create_engine(backend.database_url)
    try:
        assert await db.current_revision(engine) == db.head_revision()
        await db.upgrade_if_behind(engine)
    finally:
        await engine.dispose()


async def test_a_missing_or_old_schema_is_migrated(tmp_path: Path) -> None:
    script = ScriptDirectory.from_config(db.alembic_config())
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path}/old.db")
    try:
        assert await db.current_revision(engine) is None
        await db.upgrade(engine, previous)
        assert await db.current_revision(engine) == previous
        await db.upgrade_if_behind(engine)
        assert await db.current_revision(engine) == head
    finally:
        await engine.dispose()
