"""The conversations of a report, replayed from their events: one Story each, with the
times and facts the figures are made of, and the statistics taken over them."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.models import Conversation, ConversationEvent, Message, MessageKind
from teamtalk.schemas import ReportOutcome

OUTCOMES: tuple[ReportOutcome, ...] = (
    "solved",
    "pending",
    "withdrawn",
    "closed",
    "transferred",
    "reopened",
)


@dataclass
class Story:
    """One conversation's history, replayed."""

    id: int
    created_at: datetime
    topic_id: int | None
    first_assigned: datetime | None = None
    first_solved: datetime | None = None
    solver: int | None = None
    first_response: datetime | None = None
    outcomes: set[str] = field(default_factory=set)
    assignments: Counter[int] = field(default_factory=Counter)

    def take(self, type_: str, at: datetime, from_id: int | None, to_id: int | None) -> None:
        if type_ in OUTCOMES:
            self.outcomes.add(type_)
        if type_ == "assigned" and self.first_assigned is None:
            self.first_assigned = at
        if type_ in ("assigned", "transferred") and to_id is not None:
            self.assignments[to_id] += 1
        if type_ == "solved" and self.first_solved is None:
            self.first_solved, self.solver = at, from_id

    @property
    def wait(self) -> float | None:
        return _seconds(self.created_at, self.first_assigned)

    @property
    def response(self) -> float | None:
        return _seconds(self.first_assigned, self.first_response)

    @property
    def handle(self) -> float | None:
        return _seconds(self.first_assigned, self.first_solved)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None or b < a:
        return None
    return (b - a).total_seconds()


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The percentile by nearest rank: the value at rank ceil(percent/100 x n) (1-based) of
    the sorted values, so always one of them (the 90th of 1..10 is 9; of 1..11, 10)."""
    if not values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(values)))
    return sorted(values)[rank - 1]


def avg(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.fmean(known), 3) if known else None


def median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 3) if known else None


def share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


async def stories(db: AsyncSession, where: list[ColumnElement[bool]]) -> list[Story]:
    """The conversations matching `where` (conditions on Conversation), replayed: three
    queries."""
    ids = select(Conversation.id).where(*where)
    found = {
        cid: Story(cid, created_at, topic_id)
        for cid, created_at, topic_id in await db.execute(
            select(Conversation.id, Conversation.created_at, Conversation.topic_id)
            .where(*where)
            .order_by(Conversation.created_at, Conversation.id)
        )
    }
    if not found:
        return []
    events = await db.execute(
        select(
            ConversationEvent.conversation_id,
            ConversationEvent.type,
            ConversationEvent.created_at,
            ConversationEvent.from_leader_id,
            ConversationEvent.actor_id,
            ConversationEvent.to_leader_id,
        )
        .where(ConversationEvent.conversation_id.in_(ids))
        .order_by(ConversationEvent.created_at, ConversationEvent.id)
    )
    for cid, type_, at, from_id, actor_id, to_id in events:
        found[cid].take(type_, at, from_id or actor_id, to_id)
    responses = await db.execute(
        select(Message.conversation_id, func.min(Message.created_at))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.conversation_id.in_(ids),
            Message.kind == MessageKind.USER,
            Message.sender_id.is_not(None),
            Message.sender_id != Conversation.agent_id,
        )
        .group_by(Message.conversation_id)
    )
    for cid, at in responses:
        found[cid].first_response = at
    return list(found.values())
