"""Hot statements on SQLite, run as one call in aiosqlite's thread.

aiosqlite hands every call (cursor, execute, fetch, close, ...) to its thread and back, and
those trips cost far more than the SQL. The hot paths (a chat message, the session lookup
of every request) run their statements as one function in that thread instead, on SQL
text compiled once from the same Core statements the other databases execute.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

T = TypeVar("T")


class Compiled:
    """A statement's SQLite text, compiled once, and the order its values go in."""

    def __init__(self, statement: ClauseElement, columns: Sequence[str] = ()) -> None:
        compiled = statement.compile(dialect=pysqlite.dialect(), column_keys=list(columns))
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        self.order = tuple(compiled.positiontup or ())
        # The values the statement carries itself, such as the 1 of `last_seq + 1`.
        self.fixed = {k: b.value for k, b in compiled.binds.items() if not b.required}

    def run(self, conn: sqlite3.Connection, values: Mapping[str, Any]) -> Any:
        fixed = self.fixed
        row = tuple(values[n] if n in values else fixed[n] for n in self.order)
        return conn.execute(self.sql, row).fetchone()


class Query(Compiled):
    """A select, whose row comes back with the values its column types make of it (a
    datetime from SQLite's text, say), as a Core execute would give them."""

    def __init__(self, statement: Select[Any]) -> None:
        super().__init__(statement)
        dialect = pysqlite.dialect()
        self.processors = [
            column.type._cached_result_processor(dialect, None)
            for column in statement.selected_columns
        ]

    def first(self, conn: sqlite3.Connection, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        row = self.run(conn, values)
        if row is None:
            return None
        return tuple(p(v) if p else v for p, v in zip(self.processors, row, strict=True))


def bound(engine: AsyncEngine, type_: TypeEngine[Any], value: Any) -> Any:
    """The value as the driver takes it for a column of that type (a datetime as text)."""
    process = type_.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    return process(value) if process else value


def transaction(conn: sqlite3.Connection, work: Callable[..., T], *args: Any) -> T:
    """`work(conn, *args)` as one write transaction, rolled back if it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = work(conn, *args)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return done


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


async def in_thread(engine: AsyncEngine, work: Callable[..., T], *args: Any) -> T:
    """`work(conn, *args)` in the thread of one of the engine's pooled connections."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection  # aiosqlite.Connection
        result: T = await driver._execute(work, driver._conn, *args)
        return result
