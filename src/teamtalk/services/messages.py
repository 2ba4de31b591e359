"""Chat: send (stored, then delivered), read marks, typing, and catching up after a
reconnect. Shared by the Socket.IO handlers and the HTTP API."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import TooManyRequests
from teamtalk.events import Read, Typing
from teamtalk.models import (
    Conversation,
    ConversationRead,
    Message,
    utcnow,
)
from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.schemas import ConversationOut, MessageOut, Names
from teamtalk.services.access import Actor, followed_conversation, follows
from teamtalk.services.announce import announce, deliver, rooms_for
from teamtalk.services.lifecycle import after_requeue, refuse_if_expired, requeue
from teamtalk.services.message_store import (
    Facts,
    Reply,
    add_message,
    check_can_write,
    clean_body,
    store,
    stored_before,
)
from teamtalk.services.presenters import conversations_out, messages_out

SYNC_LIMIT = 500  # messages per conversation in one catch-up answer


async def check_rate(res: Resources, user_id: int) -> None:
    """At most `messages_per_minute` per user, counted across every process."""
    wait = await res.message_limit.wait_seconds(res.keys.messages_sent(user_id))
    if wait:
        raise TooManyRequests(
            "You are sending messages too fast; wait a moment.",
            code="rate_limited",
            retry_after=wait,
        )


async def send(
    db: AsyncSession,
    res: Resources,
    realtime: Realtime | None,
    actor: Actor,
    conversation_id: int,
    *,
    client_id: str,
    body: str,
) -> MessageOut:
    """Store the message, then deliver it. The same client id again returns the stored
    message without storing or delivering it twice. An agent writing in a pending or
    solved conversation brings it back to the queue."""
    text = clean_body(body)
    await check_rate(res, actor.id)
    try:
        out, staged = await store(
            db,
            actor,
            conversation_id,
            client_id=client_id,
            text=text,
            now=utcnow(),
            tell=realtime is not None,
        )
    except Reply:
        return await _reply(db, res, realtime, actor, conversation_id, client_id, text)
    if staged is not None:  # stored now, not before
        await deliver(realtime, staged)
    return out


async def _reply(
    db: AsyncSession,
    res: Resources,
    realtime: Realtime | None,
    actor: Actor,
    conversation_id: int,
    client_id: str,
    text: str,
) -> MessageOut:
    """The agent wrote in a pending or solved conversation: store it, then back to the
    queue (or, past the reopen window, closed and refused)."""
    conversation = await followed_conversation(db, actor, conversation_id, lock=True)
    await refuse_if_expired(db, res, realtime, conversation)
    message = await add_message(
        db, conversation, text, utcnow(), sender_id=actor.id, client_id=client_id
    )
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        return await stored_before(db, actor, conversation_id, client_id)
    # The agent's words first, then "back in the queue".
    change = await requeue(db, actor, conversation, reason="agent replied")
    change.messages.insert(0, message)
    await after_requeue(db, res, realtime, change)
    return MessageOut.of(message, Names(users={actor.id: actor.display_name}))


async def mark_read(
    db: AsyncSession, realtime: Realtime | None, actor: Actor, conversation_id: int, seq: int
) -> int:
    """Move the user's read mark forward (never back); returns where it is."""
    conversation = await followed_conversation(db, actor, conversation_id)
    seq = max(0, min(seq, conversation.last_seq))
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(ConversationRead).values(
        conversation_id=conversation.id, user_id=actor.id, last_read_seq=seq, updated_at=utcnow()
    )
    mark = ConversationRead.__table__.c.last_read_seq
    upsert = insert.on_conflict_do_update(
        index_elements=["conversation_id", "user_id"],
        set_={"last_read_seq": insert.excluded.last_read_seq, "updated_at": utcnow()},
        where=mark < insert.excluded.last_read_seq,
    )
    await db.execute(upsert)
    current = await db.scalar(
        select(ConversationRead.last_read_seq).where(
            ConversationRead.conversation_id == conversation.id,
            ConversationRead.user_id == actor.id,
        )
    )
    last = int(current or 0)
    read = Read(conversation_id=conversation.id, user_id=actor.id, last_read_seq=last)
    await announce(db, realtime, [], also=[read.for_rooms(rooms_for(conversation, actor.id))])
    return last


async def typing(
    db: AsyncSession, realtime: Realtime, actor: Actor, conversation_id: int, sid: str
) -> None:
    conversation = await followed_conversation(db, actor, conversation_id)
    c = conversation
    with contextlib.suppress(Reply):  # an agent writing again is writing
        check_can_write(actor, Facts(c.id, c.agent_id, c.assignee_id, c.status))
    event = Typing(
        conversation_id=conversation.id, user_id=actor.id, display_name=actor.display_name
    )
    await event.to_rooms(realtime, rooms_for(conversation), skip_sid=sid)


async def catch_up(
    db: AsyncSession, actor: Actor, since: Sequence[tuple[int, int]]
) -> tuple[list[ConversationOut], list[MessageOut], list[int]]:
    """For each (conversation, last seq the client has): its current state and the
    messages after that seq. Conversations the actor cannot read are left out."""
    wanted = dict(since)
    found = list(await db.scalars(select(Conversation).where(Conversation.id.in_(wanted))))
    visible = [c for c in found if await follows(db, actor, c)]
    messages: list[Message] = []
    truncated = []
    for c in visible:
        page = list(
            await db.scalars(
                select(Message)
                .where(Message.conversation_id == c.id, Message.seq > wanted[c.id])
                .order_by(Message.seq)
                .limit(SYNC_LIMIT + 1)
            )
        )
        if len(page) > SYNC_LIMIT:
            truncated.append(c.id)
            page = page[:SYNC_LIMIT]
        messages += page
    return await conversations_out(db, visible), await messages_out(db, messages), truncated
