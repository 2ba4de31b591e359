"""Support requests: create, submit as. Events go out only after the commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import Conflict, Forbidden, Invalid, NotFound
from teamtalk.events import RemoveFromBasket, UpdateConversation
from teamtalk.models import (
    Conversation,
    ConversationParticipant,
    Role,
    Status,
    Topic,
    User,
    utcnow,
)
from teamtalk.realtime import Realtime
from teamtalk.routing.engine import Router
from teamtalk.schemas import ConversationOut
from teamtalk.services.history import add_message, record


async def check_topic(db: AsyncSession, topic_id: int | None) -> None:
    if topic_id is None:
        return
    topic = await db.get(Topic, topic_id)
    if topic is None or topic.archived_at is not None:
        detail = [{"field": "topic_id", "message": "no such topic", "type": "topic"}]
        raise Invalid("No such topic.", code="invalid", details=detail)


async def create_conversation(
    db: AsyncSession,
    router: Router,
    realtime: Realtime | None,
    agent: User,
    *,
    message: str,
    topic_id: int | None,
    ticket_link: str | None,
) -> tuple[Conversation, int | None]:
    """Stored as queued with its first message, then queued in Redis; returns the queue
    position."""
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
    await add_message(db, conversation, message, now, sender_id=agent.id)
    await record(db, conversation, "created", now, text=None, actor_id=agent.id)
    await db.commit()
    # After the commit: a crash right here leaves it queued in the database only, and the
    # worker's reconciliation puts it in the Redis queue.
    position = await router.enqueue([conversation.id])
    if realtime is not None:
        await UpdateConversation(conversation=ConversationOut.of(conversation)).to_user(
            realtime, agent.id
        )
    return conversation, position


async def get_conversation(
    db: AsyncSession, conversation_id: int, *, lock: bool = False
) -> Conversation:
    query = select(Conversation).where(Conversation.id == conversation_id)
    if lock:
        query = query.with_for_update()
    conversation = await db.scalar(query)
    if conversation is None:
        raise NotFound("No such conversation.", code="conversation_not_found")
    return conversation


async def submit_as(
    db: AsyncSession,
    router: Router,
    realtime: Realtime | None,
    leader: User,
    conversation_id: int,
    *,
    status: Status,
    topic_id: int,
) -> Conversation:
    """The assignee marks the conversation solved or pending; the slot frees at once."""
    conversation = await get_conversation(db, conversation_id, lock=True)
    if conversation.assignee_id != leader.id:
        raise Forbidden("Only the team leader holding this conversation can do that.")
    if conversation.status != Status.ASSIGNED:
        raise Conflict(f"The conversation is {conversation.status}.", code="not_assigned")
    await check_topic(db, topic_id)
    now = utcnow()
    conversation.status = status
    conversation.topic_id = topic_id
    if status == Status.SOLVED:
        conversation.resolved_at = now
    label = "solved" if status == Status.SOLVED else "pending"
    await record(
        db,
        conversation,
        status.value,
        now,
        actor_id=leader.id,
        from_leader_id=leader.id,
        text=f"{leader.display_name} marked this conversation as {label}.",
    )
    await db.commit()
    if realtime is not None:
        # Before the slot frees, so the leader hears "removed" before the next assignment.
        await RemoveFromBasket(conversation_id=conversation.id).to_user(realtime, leader.id)
        update = UpdateConversation(conversation=ConversationOut.of(conversation))
        await update.to_user(realtime, conversation.agent_id)
        await update.to_user(realtime, leader.id)
    await router.release(leader.id, conversation.id)
    return conversation


async def can_read(db: AsyncSession, user: User, conversation: Conversation) -> bool:
    """Its agent, its assignee, leaders who held it, and admins."""
    if user.role == Role.ADMIN or user.id in (conversation.agent_id, conversation.assignee_id):
        return True
    held = await db.get(ConversationParticipant, (conversation.id, user.id))
    return held is not None
