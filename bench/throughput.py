"""Assignment throughput end to end with the database: the worker's batches, committed.

    .venv/bin/python bench/throughput.py [--quick] [--database-url URL] [--out PATH]

N conversations wait in the queue and enough leaders are online for all of them; the
worker (`Worker.burst`, emitting through a write-only Socket.IO manager as in production)
assigns them all: script, database commit with event, participant and system-message rows,
settle, emit. Reported: assignments per second, median of several runs, per batch size,
on SQLite (the embedded default) and, with --database-url, on PostgreSQL too. Each run
starts from a fresh database and an empty Valkey of our own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text, update
from sqlalchemy.engine import make_url

from teamtalk import db
from teamtalk.embedded import EmbeddedValkey
from teamtalk.models import Base, Conversation, Presence, Role, Status, User, utcnow
from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.services import reconcile
from teamtalk.settings import Settings, normalize_database_url
from teamtalk.worker import Worker

TARGET = 2_000  # assignments/s end to end with the database (issue 3)


async def prepare(res: Resources, leaders: int, conversations: int) -> None:
    now = utcnow()
    async with res.sessions() as session:
        await session.execute(
            insert(User),
            [
                {
                    "email": f"lead{i}@bench.local",
                    "display_name": f"Lead {i}",
                    "role": Role.TEAMLEADER,
                    "password_hash": "-",
                    "capacity": 4,
                    "presence": Presence.ONLINE,
                    "is_active": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(leaders)
            ],
        )
        agent = User(
            email="agent@bench.local",
            display_name="Agent",
            role=Role.AGENT,
            password_hash="-",
            capacity=4,
            is_active=True,
        )
        session.add(agent)
        await session.flush()
        await session.execute(
            insert(Conversation),
            [
                {
                    "agent_id": agent.id,
                    "status": Status.QUEUED,
                    "last_seq": 0,
                    "created_at": now,
                    "queued_at": now,
                    "updated_at": now,
                }
                for _ in range(conversations)
            ],
        )
        await session.commit()
    await reconcile.rebuild(res)  # routing state from the database: queue and online leaders


async def one_run(database_url: str, redis_url: str, batch: int, leaders: int, n: int) -> float:
    settings = Settings.model_validate(
        {
            "database_url": database_url,
            "redis_url": redis_url,
            "worker_batch": batch,
            "secret_key": "bench",
            "log_level": "WARNING",
        }
    )
    res = Resources.open(settings)
    realtime = Realtime.write_only(redis_url, res.redis, res.keys)
    try:
        await reset(res)
        await prepare(res, leaders, n)
        worker = Worker(res, realtime)
        started = time.perf_counter()
        made = await worker.burst()
        elapsed = time.perf_counter() - started
        assert made == n, f"assigned {made} of {n}"
        return n / elapsed
    finally:
        await realtime.close()
        await res.close()


async def reset(res: Resources) -> None:
    await res.redis.flushdb()  # our own private Valkey
    tables = list(reversed(Base.metadata.sorted_tables))
    async with res.engine.begin() as conn:
        for table in tables:
            await conn.execute(table.delete())
    async with res.sessions() as session:  # keep ids small and comparable between runs
        if res.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            await session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            await session.commit()
        await session.execute(update(User).values(presence=Presence.OFFLINE))
        await session.commit()


async def fresh_postgres(url: str) -> str:
    """A database of our own on that server, migrated; its URL."""
    server = make_url(normalize_database_url(url))
    name = "teamtalk_bench_throughput"
    admin = db.create_engine(
        server.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    target = server.set(database=name).render_as_string(hide_password=False)
    engine = db.create_engine(target)
    await db.upgrade(engine)
    await engine.dispose()
    return target


async def drop_postgres(url: str) -> None:
    server = make_url(url)
    admin = db.create_engine(
        server.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{server.database}" WITH (FORCE)'))
    await admin.dispose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    n = 1_000 if args.quick else 4_000
    repeats = 1 if args.quick else 3
    leaders = n // 4 + 1
    results: dict[str, Any] = {
        "conversations": n,
        "leaders": leaders,
        "repeats": repeats,
        "target_per_s": TARGET,
        "databases": {},
    }
    folder = Path(tempfile.mkdtemp(prefix="ttt-", dir="/tmp"))
    with EmbeddedValkey(folder) as valkey:
        sqlite_path = folder / "bench.db"
        engine = db.create_engine(f"sqlite+aiosqlite:///{sqlite_path}")
        await db.upgrade(engine)
        await engine.dispose()
        targets = {"sqlite": f"sqlite+aiosqlite:///{sqlite_path}"}
        if args.database_url:
            targets["postgresql"] = await fresh_postgres(args.database_url)
        try:
            for name, url in targets.items():
                per_batch = {}
                for batch in (5, 50):
                    rates = [
                        await one_run(url, valkey.url, batch, leaders, n) for _ in range(repeats)
                    ]
                    per_batch[str(batch)] = {"runs": rates, "median": statistics.median(rates)}
                    print(
                        f"{name:<11} batch {batch:>3}: {statistics.median(rates):>8,.0f} "
                        f"assignments/s (median of {repeats}; target >= {TARGET:,})"
                    )
                results["databases"][name] = per_batch
        finally:
            if "postgresql" in targets:
                await drop_postgres(targets["postgresql"])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one short run per setting")
    parser.add_argument(
        "--database-url",
        help="also run on this PostgreSQL server (a database of our own is created)",
    )
    parser.add_argument("--out", default="bench/results/throughput.json")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
