"""Where each waiting request stands: its place in the queue, the leaders online and an
expected wait, told to its agent as `queue_moved` whenever the queue may have moved.

Read after the routing step of a change (the queue is Redis's), in one Redis round trip
and one small query, for the whole queue at once."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk import failures
from teamtalk.events import QueueMoved
from teamtalk.models import Conversation, ConversationEvent, Status, utcnow
from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.schemas import QueueStanding

log = logging.getLogger(__name__)

# How far back assignments count for the rate the queue moves at.
RATE_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Queue:
    """The queue as Redis holds it, in serving order, and the room online leaders have."""

    order: list[int]
    leaders_online: int  # online, not away
    free_slots: int  # of those leaders


async def read_queue(res: Resources) -> Queue:
    k = res.keys
    async with res.redis.pipeline(transaction=True) as pipe:
        pipe.zrange(k.returned, 0, -1)
        pipe.lrange(k.queue, 0, -1)
        pipe.hgetall(k.leader_status)
        pipe.hgetall(k.online_teamleaders)
        returned, queue, status, free = await pipe.execute()
    online = [lid for lid, st in status.items() if st == "online"]
    return Queue(
        order=[int(c) for c in [*returned, *queue]],
        leaders_online=len(online),
        free_slots=sum(max(0, int(free.get(lid, 0))) for lid in online),
    )


def expected_wait(position: int, queue: Queue, assigned_recently: int) -> int | None:
    """Seconds until assigned: none while a free slot awaits it; otherwise the requests
    that must be served before a slot comes to it, at the recent assignment rate. None
    when nobody is online or nothing was assigned lately (no rate to go by)."""
    if queue.leaders_online == 0:
        return None
    if position <= queue.free_slots:
        return 0
    if assigned_recently == 0:
        return None
    per_second = assigned_recently / RATE_WINDOW.total_seconds()
    return math.ceil((position - queue.free_slots) / per_second)


def standings(queue: Queue, assigned_recently: int) -> dict[int, QueueStanding]:
    return {
        cid: QueueStanding(
            conversation_id=cid,
            position=place,
            expected_wait_seconds=expected_wait(place, queue, assigned_recently),
            leaders_online=queue.leaders_online,
        )
        for place, cid in enumerate(queue.order, start=1)
    }


def _assigned_since() -> Any:
    return (
        select(func.count())
        .select_from(ConversationEvent)
        .where(
            ConversationEvent.type == "assigned",
            ConversationEvent.created_at >= utcnow() - RATE_WINDOW,
        )
        .scalar_subquery()
    )


async def standing_of(
    db: AsyncSession, res: Resources, conversation_id: int
) -> QueueStanding | None:
    """Where one queued conversation stands, for its detail; None when not in the queue."""
    queue = await read_queue(res)
    if conversation_id not in queue.order:
        return None
    assigned = int(await db.scalar(select(_assigned_since())) or 0)
    return standings(queue, assigned)[conversation_id]


async def tell(res: Resources, realtime: Realtime | None, only: int | None = None) -> None:
    """Every agent with a request in the queue hears where it stands now. After a change's
    routing step; a failure is only logged (the change stands, and the next one tells).
    `only`: just that request's agent (a request joining at the tail moves no one else)."""
    if realtime is None:
        return
    try:
        await _tell(res, realtime, only)
    except Exception as exc:
        store = failures.dependency(exc)
        if store is None:
            log.error("queue places not told", exc_info=exc)
        else:
            log.warning("queue places not told (%s unavailable: %s)", store, exc)


async def _tell(res: Resources, realtime: Realtime, only: int | None) -> None:
    queue = await read_queue(res)
    told = queue.order if only is None else [c for c in queue.order if c == only]
    if not told:
        return
    query = select(Conversation.id, Conversation.agent_id, _assigned_since()).where(
        Conversation.id.in_(told), Conversation.status == Status.QUEUED
    )
    async with res.reads() as db:
        rows = (await db.execute(query)).all()
    if not rows:
        return
    placed = standings(queue, int(rows[0][2] or 0))
    await realtime.emit_many(
        [QueueMoved(standing=placed[cid]).for_user(agent_id) for cid, agent_id, _ in rows]
    )
