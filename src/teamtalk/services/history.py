"""The conversation record: events (the audit trail) and the messages that show them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from teamtalk.models import Conversation, ConversationEvent, Message, MessageKind


async def next_seq(db: AsyncSession, conversation: Conversation) -> int:
    """The conversation's next message number, taken atomically (it also locks the row on
    PostgreSQL until commit, so numbers never collide)."""
    seq: int | None = await db.scalar(
        update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(last_seq=Conversation.last_seq + 1)
        .returning(Conversation.last_seq)
    )
    assert seq is not None
    set_committed_value(conversation, "last_seq", seq)
    return seq


async def record(
    db: AsyncSession,
    conversation: Conversation,
    type: str,
    at: datetime,
    *,
    text: str | None,
    actor_id: int | None = None,
    from_leader_id: int | None = None,
    to_leader_id: int | None = None,
    reason: str | None = None,
) -> Message | None:
    """Write a transition as an event row and, with text, as a system message (returned)."""
    db.add(
        ConversationEvent(
            conversation_id=conversation.id,
            type=type,
            actor_id=actor_id,
            from_leader_id=from_leader_id,
            to_leader_id=to_leader_id,
            reason=reason,
            created_at=at,
        )
    )
    conversation.updated_at = at
    if text is None:
        return None
    return await add_message(db, conversation, text, at, kind=MessageKind.SYSTEM)


async def add_message(
    db: AsyncSession,
    conversation: Conversation,
    body: str,
    at: datetime,
    *,
    sender_id: int | None = None,
    kind: MessageKind = MessageKind.USER,
    client_id: str | None = None,
) -> Message:
    message = Message(
        conversation_id=conversation.id,
        seq=await next_seq(db, conversation),
        sender_id=sender_id,
        kind=kind,
        body=body,
        client_id=client_id,
        created_at=at,
    )
    db.add(message)
    return message
