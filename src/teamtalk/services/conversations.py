"""Support requests: opening one, with its first message, into the queue."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.models import Conversation, Status, Topic, utcnow
from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.schemas import ConversationOut
from teamtalk.services import queue_places
from teamtalk.services.access import Actor, get_conversation
from teamtalk.services.announce import Change, after_commit, announce, deliver
from teamtalk.services.audit import record
from teamtalk.services.message_store import add_message, clean_body
from teamtalk.services.opening import Opened, Opening, no_such_topic, open_on_sqlite
from teamtalk.services.presenters import conversation_out
from teamtalk.sqlite_direct import is_sqlite


async def check_topic(db: AsyncSession, topic_id: int | None) -> None:
    if topic_id is None:
        return
    topic = await db.get(Topic, topic_id)
    if topic is None or topic.archived_at is not None:
        raise no_such_topic()


async def create_conversation(
    db: AsyncSession,
    res: Resources,
    realtime: Realtime | None,
    agent: Actor,
    *,
    message: str,
    topic_id: int | None,
    ticket_link: str | None,
    client_id: str | None = None,
) -> tuple[ConversationOut, int | None]:
    """Stored as queued with its first message, then queued in Redis; returns the queue
    position (None when Redis could not say). The same client id again returns the
    request opened first with it, as it stands, and opens nothing."""
    text = clean_body(message)
    now = utcnow()
    if is_sqlite(res.engine) and not db.in_transaction():
        opening = Opening(agent, text, topic_id, ticket_link, client_id, realtime is not None)
        done = await open_on_sqlite(res.engine, opening, now)
        if isinstance(done, Opened):
            return await _as_it_stands(db, res, await get_conversation(db, done.conversation_id))
        out, staged = done
        await deliver(realtime, staged)
        position = await after_commit(res.router.enqueue([out.id]), "enqueue")
        await queue_places.tell(res, realtime, only=out.id)
        return out, position
    if client_id is not None and (opened := await _opened(db, agent, client_id)) is not None:
        return await _as_it_stands(db, res, opened)
    await check_topic(db, topic_id)
    conversation = Conversation(
        agent_id=agent.id,
        status=Status.QUEUED,
        topic_id=topic_id,
        ticket_link=ticket_link,
        client_id=client_id,
        last_seq=0,
        created_at=now,
        queued_at=now,
        updated_at=now,
    )
    db.add(conversation)
    try:
        await db.flush()
    except IntegrityError:
        # A concurrent retry with the same client id committed first: that one is the answer.
        await db.rollback()
        opened = None if client_id is None else await _opened(db, agent, client_id)
        if opened is None:
            raise
        return await _as_it_stands(db, res, opened)
    await add_message(db, conversation, text, now, sender_id=agent.id)
    await record(db, conversation, "created", now, text=None, actor_id=agent.id)
    (out,) = await announce(db, realtime, [Change(conversation)])  # commits; the agent's tabs
    # After the commit: if Redis fails here it is queued in the database only, and the
    # worker's drift repair puts it in the Redis queue.
    position = await after_commit(res.router.enqueue([conversation.id]), "enqueue")
    await queue_places.tell(res, realtime, only=conversation.id)
    return out, position


async def _opened(db: AsyncSession, agent: Actor, client_id: str) -> Conversation | None:
    query = select(Conversation).where(
        Conversation.agent_id == agent.id, Conversation.client_id == client_id
    )
    return await db.scalar(query)


async def _as_it_stands(
    db: AsyncSession, res: Resources, conversation: Conversation
) -> tuple[ConversationOut, int | None]:
    out = await conversation_out(db, conversation)
    await db.commit()  # on SQLite the read took the write lock: not held across Redis calls
    position = None
    if conversation.status == Status.QUEUED:
        position = await after_commit(res.router.queue_position(conversation.id), "position")
    return out, position
