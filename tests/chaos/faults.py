"""The faults the scenarios inject, beyond signals to the product's own processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text

from teamtalk import db
from teamtalk.settings import normalize_database_url
from tests.chaos.stack import Process


async def sqlite_locked(path: Path, seconds: float) -> None:
    """Another connection holds `BEGIN EXCLUSIVE` on the database file for `seconds`: no
    one else reads or writes it meanwhile (WAL readers included)."""

    def hold() -> None:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            time.sleep(seconds)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    await asyncio.to_thread(hold)


@asynccontextmanager
async def leaders_locked(database_url: str) -> AsyncIterator[None]:
    """PostgreSQL: every team leader's row locked (FOR UPDATE) while in the block. A worker
    locks the rows of a batch's leaders to commit it, so it waits there with its claims in
    hand; requests are still created and queued meanwhile."""
    engine = db.create_engine(normalize_database_url(database_url))
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT id FROM users WHERE role = 'teamleader' FOR UPDATE"))
            yield
            await conn.rollback()
    finally:
        await engine.dispose()


def kill_pid(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def is_gone(pid: int) -> bool:
    """Exited (a zombie counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")
    except OSError:
        return True


async def gone(pid: int, seconds: float = 10) -> bool:
    """Until process `pid` has exited; False if it is still there after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if is_gone(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def exits_within(proc: Process, seconds: float) -> int | None:
    """The exit code if `proc` exits by itself within `seconds`, else None."""
    try:
        return await proc.wait(seconds)
    except Exception:
        return None
