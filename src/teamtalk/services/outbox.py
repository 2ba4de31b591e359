"""The outbox drain: delivers the events of committed changes that their own delivery
missed (the process died after the commit, or Redis failed), then forgets them.

An entry is left alone for `SETTLE_SECONDS`, the time its own process has to deliver it;
after that it is sent unless Redis says it was, and removed either way. Delivery is at
least once: an entry whose mark Redis lost (a flush, a restart) is sent again, late, so
clients take an event twice without harm and ignore one older than what they hold.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from teamtalk.models import OutboxEntry, utcnow
from teamtalk.realtime import Emission, Realtime
from teamtalk.resources import Resources
from teamtalk.routing.engine import now_ms

log = logging.getLogger(__name__)

SETTLE_SECONDS = 2.0
BATCH = 500
LOCK_SECONDS = 10  # a drain that died with the lock holds up the next this long
# Delivery marks are kept this long after their entry could last have been drained.
MARK_TTL_MS = 10 * 60 * 1000


async def drain(res: Resources, realtime: Realtime, *, settle: float = SETTLE_SECONDS) -> int:
    """One pass, by one process at a time; returns how many entries were delivered here."""
    if not await res.redis.set(res.keys.outbox_lock, "1", nx=True, ex=LOCK_SECONDS):
        return 0
    try:
        sent = 0
        while True:
            batch = await _drain_batch(res, realtime, settle)
            if batch is None:
                return sent
            sent += batch
    finally:
        await res.redis.delete(res.keys.outbox_lock)


async def _drain_batch(res: Resources, realtime: Realtime, settle: float) -> int | None:
    """None when nothing was due."""
    cutoff = utcnow() - timedelta(seconds=settle)
    async with res.reads() as db:
        rows = list(
            await db.execute(
                select(OutboxEntry.id, OutboxEntry.events)
                .where(OutboxEntry.created_at <= cutoff)
                .order_by(OutboxEntry.id)
                .limit(BATCH)
            )
        )
    if not rows:
        return None
    ids = [str(entry_id) for entry_id, _ in rows]
    marks: list[Any] = await res.redis.zmscore(res.keys.outbox_delivered, ids)
    missed = [events for (_, events), mark in zip(rows, marks, strict=True) if mark is None]
    if missed:
        # In entry order, so a conversation's later state arrives after its earlier one.
        items: list[Emission] = [
            (e[0], e[1], e[2]) for events in missed for e in json.loads(events)
        ]
        await realtime.emit_many(items)
        log.warning("delivered events their own delivery missed", extra={"entries": len(missed)})
    async with res.sessions() as db:
        await db.execute(delete(OutboxEntry).where(OutboxEntry.id.in_([int(i) for i in ids])))
        await db.commit()
    async with res.redis.pipeline(transaction=False) as pipe:
        pipe.zrem(res.keys.outbox_delivered, *ids)
        pipe.zremrangebyscore(res.keys.outbox_delivered, "-inf", now_ms() - MARK_TTL_MS)
        await pipe.execute()
    return len(missed)
