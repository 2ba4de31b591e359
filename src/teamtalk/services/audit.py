"""The audit trail: each transition of a conversation as an event row and, with text, as
the system message that shows it in the chat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.models import Conversation, ConversationEvent, Message, MessageKind
from teamtalk.services.message_store import add_message


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
