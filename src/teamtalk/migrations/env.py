"""Alembic environment: one migration tree for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from teamtalk.migrations import include_name
from teamtalk.models import Base

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    from teamtalk.db import create_engine
    from teamtalk.settings import Settings

    engine = create_engine(Settings().sqlalchemy_url)
    async with engine.begin() as conn:
        await conn.run_sync(run_on)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:  # the plain `alembic` command, for developers writing migrations
    asyncio.run(run_from_settings())
