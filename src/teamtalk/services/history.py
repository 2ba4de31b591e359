"""The conversation record: events (the audit trail) and the messages that show them."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from teamtalk.errors import Invalid
from teamtalk.models import Conversation, ConversationEvent, Message, MessageKind

MAX_BODY = 5000
# Control characters other than tab and newline have no place in a chat message (and the
# search snippets use two of them as markers); NUL is one PostgreSQL text cannot hold.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_body(body: str) -> str:
    """What people write, as stored: every message, the first one of a request included."""
    text = CONTROL.sub("", body.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        raise Invalid("A message cannot be empty.", code="empty_message")
    if len(text) > MAX_BODY:
        raise Invalid(
            f"A message can be at most {MAX_BODY} characters.",
            code="message_too_long",
            details={"max_length": MAX_BODY},
        )
    return text


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
