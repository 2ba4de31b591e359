"""Plain factories for reports: conversations with a chosen event history, messages and
presence log, written straight to the database with the times the test picks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update

from teamtalk.models import (
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    MessageKind,
    PresenceChange,
    Status,
    User,
)
from teamtalk.services.message_store import add_message
from tests.conftest import Harness


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@dataclass(frozen=True)
class Ev:
    """An event: `by` is the leader it comes from (from_leader_id, and the actor of a
    submit or a transfer), `to` the leader it goes to."""

    type: str
    at: datetime
    by: User | None = None
    to: User | None = None


# What the last event leaves a conversation as (assigned and transferred: see `to`).
AFTER = {
    "created": Status.QUEUED,
    "returned": Status.QUEUED,
    "requeued": Status.QUEUED,
    "reopened": Status.QUEUED,
    "solved": Status.SOLVED,
    "pending": Status.PENDING,
    "withdrawn": Status.CANCELLED,
    "closed": Status.CLOSED,
}


async def make_history(
    harness: Harness,
    agent: User,
    created_at: datetime,
    events: Sequence[Ev] = (),
    *,
    topic_id: int | None = None,
    said: Sequence[tuple[User | None, datetime]] = (),
) -> int:
    """A conversation created at `created_at` (with its `created` event), then `events`,
    and the messages `said` (sender, time; a sender of None writes a system message). Its
    participants, status and assignee follow from the events."""
    status, assignee = Status.QUEUED, None
    for ev in events:
        if ev.type in ("assigned", "transferred"):
            assignee = ev.to
            status = Status.ASSIGNED if ev.to is not None else Status.QUEUED
        else:
            assignee, status = None, AFTER[ev.type]
    async with harness.resources.sessions() as db:
        conversation = Conversation(
            agent_id=agent.id,
            assignee_id=None if assignee is None else assignee.id,
            status=status,
            topic_id=topic_id,
            last_seq=0,
            created_at=created_at,
            queued_at=created_at,
            updated_at=events[-1].at if events else created_at,
        )
        db.add(conversation)
        await db.flush()
        rows = [ConversationEvent(type="created", actor_id=agent.id, created_at=created_at)]
        holders: dict[int, datetime] = {}
        for ev in events:
            by = None if ev.by is None else ev.by.id
            to = None if ev.to is None else ev.to.id
            rows.append(
                ConversationEvent(
                    type=ev.type,
                    actor_id=by if ev.type != "returned" else None,
                    from_leader_id=by,
                    to_leader_id=to,
                    created_at=ev.at,
                )
            )
            if to is not None:
                holders.setdefault(to, ev.at)
        for row in rows:
            row.conversation_id = conversation.id
            db.add(row)
        for leader_id, first in holders.items():
            db.add(
                ConversationParticipant(
                    conversation_id=conversation.id, user_id=leader_id, first_assigned_at=first
                )
            )
        for sender, at in sorted(said, key=lambda s: s[1]):
            await add_message(
                db,
                conversation,
                "hello" if sender is not None else "Assigned.",
                at,
                sender_id=None if sender is None else sender.id,
                kind=MessageKind.USER if sender is not None else MessageKind.SYSTEM,
            )
        await db.commit()
        return conversation.id


async def make_presence(
    harness: Harness, leader: User, changes: Sequence[tuple[datetime, str]]
) -> None:
    """The leader's presence log: each (time, status) a row changed from the one before
    (the first from offline); their present status is the last."""
    previous = "offline"
    async with harness.resources.sessions() as db:
        for at, status in changes:
            db.add(
                PresenceChange(
                    user_id=leader.id,
                    status=status,
                    previous=previous,
                    cause="chosen",
                    created_at=at,
                )
            )
            previous = status
        await db.execute(update(User).where(User.id == leader.id).values(presence=previous))
        await db.commit()
