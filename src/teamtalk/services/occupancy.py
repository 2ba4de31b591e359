"""Leaders' time in a range, from the presence log and the conversation events: online and
away time, and the slots they held while online (the numerator of occupancy).

These figures are of time, not of a cohort: a conversation created before the range that a
leader still held in it counts for the part of the range it was held.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.models import (
    Conversation,
    ConversationEvent,
    Presence,
    PresenceChange,
    Status,
)

# The events that start or end a leader's hold on a conversation's slot.
HOLD_EVENTS = ("assigned", "transferred", "returned", "solved", "pending")


@dataclass
class LeaderTime:
    online_seconds: float = 0.0
    away_seconds: float = 0.0
    slot_seconds: float = 0.0  # held slots x time, counted only while online


@dataclass
class Timeline:
    status: str
    changes: list[tuple[datetime, str]] = field(default_factory=list)


async def held_spans(
    db: AsyncSession,
    matching: list[ColumnElement[bool]],
    start: datetime,
    stop: datetime,
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Per leader, the [from, to) spans within [start, stop) in which they held a
    conversation matching `matching` (conditions on Conversation): from assigned or
    transferred to them until solved, pending, transferred away or returned."""
    # Held at some time in the range: it has a hold event since the start (its end, if
    # nothing else), or it is held still.
    touched = or_(
        Conversation.id.in_(
            select(ConversationEvent.conversation_id).where(
                ConversationEvent.type.in_(HOLD_EVENTS), ConversationEvent.created_at >= start
            )
        ),
        Conversation.status == Status.ASSIGNED,
    )
    rows = await db.execute(
        select(
            ConversationEvent.conversation_id,
            ConversationEvent.type,
            ConversationEvent.to_leader_id,
            ConversationEvent.created_at,
        )
        .join(Conversation, Conversation.id == ConversationEvent.conversation_id)
        .where(
            *matching,
            touched,
            ConversationEvent.type.in_(HOLD_EVENTS),
            ConversationEvent.created_at < stop,
        )
        .order_by(
            ConversationEvent.conversation_id,
            ConversationEvent.created_at,
            ConversationEvent.id,
        )
    )
    spans: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)

    def hold(leader: int | None, since: datetime | None, until: datetime) -> None:
        if leader is not None and since is not None:
            a, b = max(since, start), min(until, stop)
            if a < b:
                spans[leader].append((a, b))

    current: int | None = None
    holder: int | None = None
    since: datetime | None = None
    for conversation_id, type_, to_leader, at in rows:
        if conversation_id != current:
            hold(holder, since, stop)  # still held when the range (or now) ends
            current, holder, since = conversation_id, None, None
        hold(holder, since, at)
        if type_ == "assigned" or type_ == "transferred":
            holder, since = to_leader, at
        else:
            holder, since = None, None
    hold(holder, since, stop)
    return spans


async def presence_timelines(
    db: AsyncSession,
    start: datetime,
    stop: datetime,
    current: dict[int, str],
) -> dict[int, Timeline]:
    """Each leader's status at `start` and its changes in [start, stop). `current` is the
    users' present status, used only for one whose log has no row at all."""
    log = PresenceChange
    changes = await db.execute(
        select(log.user_id, log.status, log.previous, log.created_at)
        .where(log.created_at >= start, log.created_at < stop, log.user_id.in_(list(current)))
        .order_by(log.user_id, log.created_at, log.id)
    )
    before = await _edge_rows(db, log.created_at < start, latest=True, users=list(current))
    after = await _edge_rows(db, log.created_at >= stop, latest=False, users=list(current))
    timelines: dict[int, Timeline] = {}
    for user_id, status, previous, at in changes:
        line = timelines.get(user_id)
        if line is None:
            # The status before a leader's first row in the range: the last one before
            # it, or, with none logged, what that row changed from.
            known = before.get(user_id)
            line = timelines[user_id] = Timeline(known[0] if known else previous)
        line.changes.append((at, status))
    for user_id, status in current.items():
        if user_id not in timelines:
            if user_id in before:
                first = before[user_id][0]
            elif user_id in after:
                first = after[user_id][1]  # the status its first later row changed from
            else:
                first = status
            timelines[user_id] = Timeline(first)
    return timelines


async def _edge_rows(
    db: AsyncSession, where: ColumnElement[bool], *, latest: bool, users: list[int]
) -> dict[int, tuple[str, str]]:
    """Per user, (status, previous) of the latest row matching `where`, or the earliest."""
    log = PresenceChange
    order = (log.created_at.desc(), log.id.desc()) if latest else (log.created_at, log.id)
    rank = func.row_number().over(partition_by=log.user_id, order_by=order).label("rank")
    ranked = (
        select(log.user_id, log.status, log.previous, rank)
        .where(where, log.user_id.in_(users))
        .subquery()
    )
    rows = await db.execute(
        select(ranked.c.user_id, ranked.c.status, ranked.c.previous).where(ranked.c.rank == 1)
    )
    return {user_id: (status, previous) for user_id, status, previous in rows}


def leader_time(
    timeline: Timeline,
    held: list[tuple[datetime, datetime]],
    start: datetime,
    stop: datetime,
) -> LeaderTime:
    """Online, away and held-while-online slot time over [start, stop), by one sweep."""
    points: list[tuple[datetime, int, str | None]] = [(at, 0, s) for at, s in timeline.changes]
    for a, b in held:
        points += [(a, 1, None), (b, -1, None)]
    points.sort(key=lambda p: p[0])
    out = LeaderTime()
    status, slots, last = timeline.status, 0, start
    for at, delta, new_status in [*points, (stop, 0, None)]:
        seconds = (at - last).total_seconds()
        if status == Presence.ONLINE:
            out.online_seconds += seconds
            out.slot_seconds += slots * seconds
        elif status == Presence.AWAY:
            out.away_seconds += seconds
        last = at
        slots += delta
        if new_status is not None:
            status = new_status
    return out
