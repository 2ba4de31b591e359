"""The long-lived clients one process needs, opened at start-up and passed in."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from teamtalk import db
from teamtalk.ratelimit import Budget, LocalBudget, RateLimit
from teamtalk.redis_pool import redis_pool
from teamtalk.routing.engine import Router
from teamtalk.routing.keys import Keys
from teamtalk.settings import Settings


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    reader: AsyncEngine  # `engine` itself, or on SQLite a few connections that only read
    reads: async_sessionmaker[AsyncSession]  # read only: no write lock on SQLite
    redis: Redis
    keys: Keys
    router: Router
    message_limit: RateLimit
    event_budget: LocalBudget  # every socket event of a user, in this process
    read_budget: Budget  # the reads that cost the database most

    @classmethod
    def open(cls, settings: Settings) -> Resources:
        redis_url = settings.redis_url
        if redis_url is None:
            raise RuntimeError("redis_url must be set (start the embedded Valkey first)")
        # Resolved once here: a generated key is read from the data dir, not per request.
        settings = settings.model_copy(update={"secret_key": settings.resolved_secret_key()})
        pool: dict[str, Any] = {"pool_timeout": settings.db_pool_timeout}
        if make_url(settings.sqlalchemy_url).get_backend_name() != "sqlite":
            pool.update(pool_size=settings.db_pool_size, max_overflow=0)  # the size is the cap
        engine = db.create_engine(settings.sqlalchemy_url, **pool)
        reader = db.reader_engine(engine)
        redis = Redis.from_pool(redis_pool(redis_url, decode_responses=True))
        keys = Keys(settings.redis_prefix)
        return cls(
            settings=settings,
            engine=engine,
            sessions=db.sessionmaker(engine),
            reader=reader,
            reads=db.readers(reader),
            redis=redis,
            keys=keys,
            router=Router(redis, keys, max_attempts=settings.max_assign_attempts),
            message_limit=RateLimit(redis, settings.messages_per_minute),
            event_budget=LocalBudget(settings.socket_events_per_minute, "events"),
            read_budget=Budget(
                RateLimit(redis, settings.reads_per_minute, burst=settings.reads_burst),
                "requests for history",
                key=functools.partial(keys.budget, "reads"),
            ),
        )

    async def close(self) -> None:
        await self.redis.aclose()
        if self.reader is not self.engine:
            await self.reader.dispose()
        await self.engine.dispose()
