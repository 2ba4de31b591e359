"""Plain factories for conversations with a known history, written straight to the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from teamtalk.models import (
    Conversation,
    ConversationParticipant,
    ConversationRead,
    MessageKind,
    Status,
    Topic,
    User,
)
from teamtalk.services.message_store import add_message
from tests.conftest import Harness

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# (sender, body): a sender of None writes a system message.
Line = tuple[User | None, str]


@dataclass
class Made:
    """What a test needs to know of a conversation it made."""

    id: int
    agent_id: int
    status: Status
    topic_id: int | None
    leader_ids: tuple[int, ...]
    created_at: datetime
    updated_at: datetime
    message_ids: list[int] = field(default_factory=list)


async def make_topic(harness: Harness, name: str) -> int:
    async with harness.resources.sessions() as db:
        topic = Topic(name=name)
        db.add(topic)
        await db.commit()
        return topic.id


async def make_conversation(
    harness: Harness,
    agent: User,
    lines: Sequence[Line] = (),
    *,
    status: Status = Status.SOLVED,
    topic_id: int | None = None,
    leaders: Sequence[User] = (),
    created_at: datetime = T0,
    updated_at: datetime | None = None,
) -> Made:
    """A conversation held in turn by `leaders` (the last one holds it while assigned), with
    `lines` as its messages, one minute apart from `created_at`."""
    assignee = leaders[-1].id if leaders and status == Status.ASSIGNED else None
    async with harness.resources.sessions() as db:
        conversation = Conversation(
            agent_id=agent.id,
            assignee_id=assignee,
            status=status,
            topic_id=topic_id,
            last_seq=0,
            created_at=created_at,
            queued_at=created_at,
            updated_at=updated_at or created_at,
        )
        db.add(conversation)
        await db.flush()
        for leader in leaders:
            db.add(ConversationParticipant(conversation_id=conversation.id, user_id=leader.id))
        messages = []
        for n, (sender, body) in enumerate(lines):
            kind = MessageKind.USER if sender is not None else MessageKind.SYSTEM
            sender_id = None if sender is None else sender.id
            messages.append(
                await add_message(
                    db,
                    conversation,
                    body,
                    created_at + timedelta(minutes=n),
                    sender_id=sender_id,
                    kind=kind,
                )
            )
        await db.commit()
        return Made(
            id=conversation.id,
            agent_id=agent.id,
            status=status,
            topic_id=topic_id,
            leader_ids=tuple(leader.id for leader in leaders),
            created_at=conversation.created_at,
            updated_at=conversation.updated_at,
            message_ids=[m.id for m in messages],
        )


async def mark_read(harness: Harness, user: User, conversation_id: int, seq: int) -> None:
    async with harness.resources.sessions() as db:
        db.add(
            ConversationRead(conversation_id=conversation_id, user_id=user.id, last_read_seq=seq)
        )
        await db.commit()
