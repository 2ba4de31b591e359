"""The one way a teamtalk process opens a Redis connection pool."""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, TimeoutError

# Connections per process. Past it, a command waits for a free one (up to the timeout)
# instead of failing, as redis-py's default pool would under a burst.
REDIS_CONNECTIONS = 200
REDIS_WAIT_SECONDS = 10
CONNECT_SECONDS = 5  # an unreachable host fails a request, it does not hang it
# A connection idle this long is checked with a PING before its next command.
HEALTH_CHECK_SECONDS = 15

# After Redis restarts, every pooled connection is dead, and each would fail its next
# command. A command that fails on its connection is sent once more, on a new one. Most
# often the old server never read it (it is gone), so nothing runs twice. If the reply
# alone was lost (the server died just after running it, or the network cut), the resend
# runs it again, which our scripts bear (routing/lua/*.lua):
# - assign: the first run's assignments stay in flight with no worker; reconcile.settle_stale
#   settles them against the database (still queued there: back to the head of the queue).
# - enqueue: a second copy in the queue; the worker drops it (assignment._already_held).
# - settle, leader_set, leader_offline, release, unpark, withdraw: the second run finds the
#   work done and changes nothing (settle reports 0, "already settled").
# - transfer: the second run may find the taker's slot taken (by the first) and report "not
#   moved"; the request fails and drift repair puts the basket back as the database has it.
# - rate limits count the event twice; a wake-up BLPOP takes a second hint (polling backs it).
# Timeouts are only connect timeouts (no socket_timeout: the worker's BLPOP blocks), so a
# timed-out command was never sent.
RETRY_ONCE = Retry(NoBackoff(), 1, supported_errors=(ConnectionError, TimeoutError))


def redis_pool(url: str, *, retry_once: bool = True, **options: Any) -> BlockingConnectionPool:
    """`retry_once=False` for a subscriber that must hear of a lost connection: redis-py's
    retry reconnects a subscription silently, and what was published meanwhile is gone."""
    return BlockingConnectionPool.from_url(
        url,
        max_connections=REDIS_CONNECTIONS,
        timeout=REDIS_WAIT_SECONDS,
        socket_connect_timeout=CONNECT_SECONDS,
        health_check_interval=HEALTH_CHECK_SECONDS,
        retry=RETRY_ONCE if retry_once else Retry(NoBackoff(), 0),
        **options,
    )
