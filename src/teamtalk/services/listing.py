"""Reading conversations: lists with filters and cursors, and pages of messages.

A list page is one query; its last messages, unread counts and names are one bulk query
each, whatever the page size.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from teamtalk.errors import Invalid, NotFound
from teamtalk.models import (
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    ConversationRead,
    Message,
    MessageKind,
    Role,
    Status,
    User,
)
from teamtalk.schemas import (
    MAX_ID,
    ConversationItem,
    ConversationPage,
    MessageOut,
    MessagePage,
)
from teamtalk.services import periods
from teamtalk.services.access import can_read, get_conversation
from teamtalk.services.presenters import names_for

Sort = Literal["activity", "newest", "oldest"]

# Each sort: the column it orders by (ties broken by id in the same direction), descending?
SORTS: dict[str, tuple[InstrumentedAttribute[datetime], bool]] = {
    "activity": (Conversation.updated_at, True),
    "newest": (Conversation.created_at, True),
    "oldest": (Conversation.created_at, False),
}


@dataclass(frozen=True)
class Filters:
    """The filters shared by lists and search; every bound is on the conversation."""

    statuses: tuple[Status, ...] = ()
    topic_id: int | None = None
    no_topic: bool = False
    agent_id: int | None = None
    leader_id: int | None = None  # any leader who ever held it
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive
    # Created on this ISO weekday (1 = Monday) and/or in this hour, local time in `tz`: a
    # cell of the reports' heat map. Needs both created bounds.
    tz: str = "UTC"
    weekday: int | None = None
    hour: int | None = None


def visible(user: User, filters: Filters) -> list[ColumnElement[bool]]:
    """Conditions on Conversation: what the user may see (agents: their own), filtered."""
    where: list[ColumnElement[bool]] = []
    if user.role not in (Role.TEAMLEADER, Role.ADMIN):
        where.append(Conversation.agent_id == user.id)
    if filters.statuses:
        where.append(Conversation.status.in_([s.value for s in filters.statuses]))
    if filters.topic_id is not None:
        where.append(Conversation.topic_id == filters.topic_id)
    if filters.no_topic:
        where.append(Conversation.topic_id.is_(None))
    if filters.agent_id is not None:
        where.append(Conversation.agent_id == filters.agent_id)
    if filters.leader_id is not None:
        held = select(ConversationParticipant.conversation_id).where(
            ConversationParticipant.user_id == filters.leader_id
        )
        where.append(Conversation.id.in_(held))
    if filters.created_from is not None:
        where.append(Conversation.created_at >= filters.created_from)
    if filters.created_to is not None:
        where.append(Conversation.created_at < filters.created_to)
    if filters.weekday is not None or filters.hour is not None:
        where.append(_local_time(filters))
    return where


def _local_time(filters: Filters) -> ColumnElement[bool]:
    """The local weekday and hour as UTC spans of the created range, found in Python: the
    same on both databases (SQLite knows no time zones), and exactly what the reports
    count, DST days included."""
    start, end = filters.created_from, filters.created_to
    if start is None or end is None:
        raise Invalid(
            "A weekday or hour filter needs both created_from and created_to.",
            code="range_required",
        )
    if end - start > periods.MAX_LOCAL_SPAN:
        raise Invalid(
            f"A weekday or hour filter covers at most {periods.MAX_LOCAL_SPAN.days} days.",
            code="range_too_long",
        )
    spans = periods.spans_at(
        start, end, periods.zone(filters.tz), weekday=filters.weekday, hour=filters.hour
    )
    if not spans:
        return false()
    return or_(*(and_(Conversation.created_at >= a, Conversation.created_at < b) for a, b in spans))


def encode_cursor(sort: Sort, key: datetime, conversation_id: int) -> str:
    raw = json.dumps([sort, key.isoformat(), conversation_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: Sort) -> tuple[datetime, int]:
    """The (sort key, id) a cursor points after; it must come from a list in the same sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, key, conversation_id = json.loads(raw)
        at = datetime.fromisoformat(key)
        if kind != sort or at.tzinfo is None or type(conversation_id) is not int:
            raise ValueError(cursor)
        if not 0 <= conversation_id <= MAX_ID:
            raise ValueError(cursor)
        # The column binds times in UTC: one that UTC cannot hold (year 1 east of Greenwich,
        # year 9999 west of it) would overflow there.
        at = at.astimezone(UTC)
    except (
        ValueError,
        TypeError,
        OverflowError,
        binascii.Error,
        UnicodeDecodeError,
        RecursionError,
    ) as exc:
        detail = [{"field": "cursor", "message": "not a cursor of this list", "type": "cursor"}]
        raise Invalid(
            "The cursor is not valid for this list; start again without it.",
            code="invalid_cursor",
            details=detail,
        ) from exc
    return at, conversation_id


async def list_conversations(
    db: AsyncSession,
    user: User,
    filters: Filters,
    *,
    sort: Sort = "activity",
    cursor: str | None = None,
    limit: int = 50,
) -> ConversationPage:
    column, descending = SORTS[sort]
    query = select(Conversation).where(*visible(user, filters))
    if cursor is not None:
        # A row-value comparison, which both databases answer from the (key, id) index; the
        # plain tuple takes each column's type, so the time is bound like the column's.
        row = tuple_(column, Conversation.id)
        position = decode_cursor(cursor, sort)
        query = query.where(row < position if descending else row > position)
    if descending:
        query = query.order_by(column.desc(), Conversation.id.desc())
    else:
        query = query.order_by(column.asc(), Conversation.id.asc())
    rows = list((await db.scalars(query.limit(limit + 1))).all())
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        key = last.updated_at if sort == "activity" else last.created_at
        next_cursor = encode_cursor(sort, key, last.id)
    return ConversationPage(
        conversations=await conversation_items(db, user, page), next_cursor=next_cursor
    )


async def conversation_items(
    db: AsyncSession, user: User, conversations: Sequence[Conversation]
) -> list[ConversationItem]:
    """Conversations as lists show them to `user`: with the last message people wrote (a
    system line says what happened, not what was asked), the unread count of those, and
    the wrap-up note."""
    if not conversations:
        return []
    ids = [c.id for c in conversations]
    said = Message.kind == MessageKind.USER
    # Per conversation, the newest first along the (conversation, seq) index, stopping at
    # the first one people wrote: a few rows read however long the conversation.
    newest = aliased(Message)
    latest_seq = (
        select(newest.seq)
        .where(newest.conversation_id == Conversation.id, newest.kind == MessageKind.USER)
        .order_by(newest.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    latest = await db.scalars(
        select(Message)
        .join(
            Conversation,
            and_(Message.conversation_id == Conversation.id, Message.seq == latest_seq),
        )
        .where(Conversation.id.in_(ids))
    )
    last = {m.conversation_id: m for m in latest}
    unread_rows = await db.execute(
        select(Message.conversation_id, func.count())
        .outerjoin(
            ConversationRead,
            and_(
                ConversationRead.conversation_id == Message.conversation_id,
                ConversationRead.user_id == user.id,
            ),
        )
        .where(
            Message.conversation_id.in_(ids),
            Message.seq > func.coalesce(ConversationRead.last_read_seq, 0),
            Message.sender_id.is_distinct_from(user.id),
            said,
        )
        .group_by(Message.conversation_id)
    )
    unread: dict[int, int] = {cid: count for cid, count in unread_rows}
    notes = await wrap_up_notes(db, ids)
    names = await names_for(
        db,
        [
            *(i for c in conversations for i in (c.agent_id, c.assignee_id)),
            *(m.sender_id for m in last.values()),
        ],
        [c.topic_id for c in conversations],
    )
    items = []
    for conversation in conversations:
        item = ConversationItem.of(conversation, names)
        assert isinstance(item, ConversationItem)
        message = last.get(conversation.id)
        item.last_message = None if message is None else MessageOut.of(message, names)
        item.unread = unread.get(conversation.id, 0)
        item.wrap_up_note = notes.get(conversation.id)
        items.append(item)
    return items


SUBMITTED = (Status.SOLVED.value, Status.PENDING.value)  # the event types of a submit as


async def wrap_up_notes(db: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    """The note of each conversation's latest submit as, where it has one."""
    events = ConversationEvent
    rows = await db.execute(
        select(events.conversation_id, events.reason)
        .where(events.conversation_id.in_(ids), events.type.in_(SUBMITTED))
        .order_by(events.id)
    )
    notes: dict[int, str | None] = {}
    for cid, note in rows:
        notes[cid] = note  # the latest wins, a later one without a note included
    return {cid: note for cid, note in notes.items() if note is not None}


async def message_page(
    db: AsyncSession,
    user: User,
    conversation_id: int,
    *,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
    limit: int = 50,
) -> MessagePage:
    """At most `limit` messages in ascending seq: before a seq, after one, around one (it
    included, about half the page before it), or the latest. Seqs run 1..last_seq without
    gaps, so what lies beyond the page on the side not fetched follows from last_seq."""
    if sum(anchor is not None for anchor in (before, after, around)) > 1:
        raise Invalid("Give at most one of before, after and around.")
    conversation = await get_conversation(db, conversation_id)
    if not await can_read(db, user, conversation):
        raise NotFound("No such conversation.", code="conversation_not_found")
    last_seq = conversation.last_seq

    def older(seq: int | None) -> Select[Message]:
        query = select(Message).where(Message.conversation_id == conversation.id)
        if seq is not None:
            query = query.where(Message.seq < seq)
        return query.order_by(Message.seq.desc()).limit(limit + 1)

    def newer(seq: int) -> Select[Message]:
        query = select(Message).where(Message.conversation_id == conversation.id)
        return query.where(Message.seq > seq).order_by(Message.seq.asc()).limit(limit + 1)

    if after is not None:
        rows = list((await db.scalars(newer(after))).all())
        page = rows[:limit]
        more_before = after >= 1 and last_seq >= 1
        more_after = len(rows) > limit
    elif around is not None:
        earlier = list((await db.scalars(older(around))).all())
        later = list((await db.scalars(newer(around - 1))).all())
        take_before = min(len(earlier), limit // 2)
        take_after = min(len(later), limit - take_before)
        take_before = min(len(earlier), limit - take_after)
        page = [*reversed(earlier[:take_before]), *later[:take_after]]
        more_before = len(earlier) > take_before
        more_after = len(later) > take_after
    else:
        rows = list((await db.scalars(older(before))).all())
        page = list(reversed(rows[:limit]))
        more_before = len(rows) > limit
        more_after = before is not None and last_seq >= before
    names = await names_for(db, [m.sender_id for m in page])
    return MessagePage(
        messages=[MessageOut.of(m, names) for m in page],
        has_more_before=more_before,
        has_more_after=more_after,
    )
