"""Support requests: opening one, with its first message, into the queue."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import Invalid
from teamtalk.models import Conversation, Status, Topic, utcnow
from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.schemas import ConversationOut
from teamtalk.services.access import Actor
from teamtalk.services.announce import Change, announce
from teamtalk.services.audit import record
from teamtalk.services.message_store import add_message, clean_body


async def check_topic(db: AsyncSession, topic_id: int | None) -> None:
    if topic_id is None:
        return
    topic = await db.get(Topic, topic_id)
    if topic is None or topic.archived_at is not None:
        detail = [{"field": "topic_id", "message": "no such topic", "type": "topic"}]
        raise Invalid("No such topic.", code="invalid", details=detail)


async def create_conversation(
    db: AsyncSession,
    res: Resources,
    realtime: Realtime | None,
    agent: Actor,
    *,
    message: str,
    topic_id: int | None,
    ticket_link: str | None,
) -> tuple[ConversationOut, int | None]:
    """Stored as queued with its first message, then queued in Redis; returns the queue
    position."""
    text = clean_body(message)
    await check_topic(db, topic_id)
    now = utcnow()
    conversation = Conversation(
        agent_id=agent.id,
        status=Status.QUEUED,
        topic_id=topic_id,
        ticket_link=ticket_link,
        last_seq=0,
        created_at=now,
        queued_at=now,
        updated_at=now,
    )
    db.add(conversation)
    await db.flush()
    await add_message(db, conversation, text, now, sender_id=agent.id)
    await record(db, conversation, "created", now, text=None, actor_id=agent.id)
    await db.commit()
    # After the commit: a crash right here leaves it queued in the database only, and the
    # worker's reconciliation puts it in the Redis queue.
    position = await res.router.enqueue([conversation.id])
    (out,) = await announce(db, realtime, [Change(conversation)])  # the agent's other tabs
    return out, position
