"""The one way a teamtalk process opens a Redis connection pool."""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool

# Connections per process. Past it, a command waits for a free one (up to the timeout)
# instead of failing, as redis-py's default pool would under a burst.
REDIS_CONNECTIONS = 200
REDIS_WAIT_SECONDS = 10


def redis_pool(url: str, **options: Any) -> BlockingConnectionPool:
    return BlockingConnectionPool.from_url(
        url, max_connections=REDIS_CONNECTIONS, timeout=REDIS_WAIT_SECONDS, **options
    )
