"""Chat: send (stored, then delivered), read marks, typing, and catching up after a
reconnect. Shared by the Socket.IO handlers and the HTTP API."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, case, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TeamTalkError,
    TooManyRequests,
)
from teamtalk.events import NewMessage, Read, Typing
from teamtalk.models import (
    Base,
    Conversation,
    ConversationRead,
    Message,
    MessageKind,
    Role,
    Status,
    utcnow,
)
from teamtalk.realtime import Realtime, user_room
from teamtalk.resources import Resources
from teamtalk.schemas import ConversationOut, MessageOut, Names
from teamtalk.services.conversations import Actor, followed_conversation, follows
from teamtalk.services.history import add_message
from teamtalk.services.lifecycle import (
    CLOSED_MESSAGE,
    after_requeue,
    refuse_if_expired,
    requeue,
    rooms_for,
)
from teamtalk.services.views import conversations_out, messages_out

MAX_BODY = 5000
SYNC_LIMIT = 500  # messages per conversation in one catch-up answer
# Control characters other than tab and newline have no place in a chat message (and the
# search snippets use two of them as markers).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_body(body: str) -> str:
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


async def check_rate(res: Resources, user_id: int) -> None:
    """At most `messages_per_minute` per user, counted across every process."""
    wait = await res.message_limit.wait_seconds(res.keys.messages_sent(user_id))
    if wait:
        raise TooManyRequests(
            "You are sending messages too fast; wait a moment.",
            code="rate_limited",
            retry_after=wait,
        )


def check_can_write(actor: Actor, conversation: Conversation | Facts) -> None:
    """Its agent, its assignee while assigned, and admins write; leaders who held it
    before read only. (Readability is checked before.)"""
    status = conversation.status
    if status in (Status.CLOSED, Status.CANCELLED):
        raise Conflict(CLOSED_MESSAGE, code="conversation_closed")
    if actor.role == Role.ADMIN or actor.id == conversation.agent_id:
        return
    if actor.id == conversation.assignee_id:
        if status == Status.ASSIGNED:
            return
        raise Conflict(
            f"This conversation is {status}; the agent's next message brings it back.",
            code="not_assigned",
        )
    raise Forbidden("You can read this conversation but no longer write in it.", code="read_only")


# Core tables for the hot path (the ORM's unit of work costs more than the SQL here).
CONVERSATIONS = Base.metadata.tables["conversations"]
MESSAGES = Base.metadata.tables["messages"]


@dataclass(frozen=True)
class Facts:
    """What sending needs to know about a conversation, read without the ORM (the hot
    path: every chat message)."""

    id: int
    agent_id: int
    assignee_id: int | None
    status: str


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
    c = CONVERSATIONS.c
    now = utcnow()
    # Take the next number first, in one statement that also reads what the checks need
    # (and locks the row); a refusal rolls it back.
    answered = case(
        (
            and_(c.assignee_id == actor.id, c.first_response_at.is_(None)),
            literal(now, c.first_response_at.type),
        ),
        else_=c.first_response_at,
    )
    row = (
        await db.execute(
            update(CONVERSATIONS)
            .where(c.id == conversation_id)
            .values(last_seq=c.last_seq + 1, updated_at=now, first_response_at=answered)
            .returning(c.id, c.agent_id, c.assignee_id, c.status, c.last_seq)
        )
    ).first()
    try:
        if row is None:
            raise NotFound("No such conversation.", code="conversation_not_found")
        facts, seq = Facts(*row[:4]), int(row[4])
        if not await follows(db, actor, facts):
            raise NotFound("No such conversation.", code="conversation_not_found")
        check_can_write(actor, facts)
    except TeamTalkError:
        await db.rollback()
        raise
    if actor.id == facts.agent_id and facts.status in (Status.PENDING, Status.SOLVED):
        await db.rollback()
        return await _reply(db, res, realtime, actor, conversation_id, client_id, text)
    try:
        message_id = await db.scalar(
            insert(MESSAGES)
            .values(
                conversation_id=facts.id,
                seq=seq,
                sender_id=actor.id,
                kind=MessageKind.USER,
                body=text,
                client_id=client_id,
                created_at=now,
            )
            .returning(MESSAGES.c.id)
        )
    except IntegrityError:
        await db.rollback()
        return await _stored(db, actor, conversation_id, client_id)
    await db.commit()
    assert message_id is not None
    out = MessageOut(
        id=message_id,
        conversation_id=facts.id,
        seq=seq,
        sender_id=actor.id,
        sender_name=actor.display_name,
        kind=MessageKind.USER,
        body=text,
        client_id=client_id,
        created_at=now,
    )
    if realtime is not None:
        event = NewMessage(conversation_id=facts.id, message=out)
        await event.to_rooms(realtime, rooms_for(facts))
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
        return await _stored(db, actor, conversation_id, client_id)
    # The agent's words first, then "back in the queue".
    change = await requeue(db, actor, conversation, reason="agent replied")
    change.messages.insert(0, message)
    await db.commit()
    await after_requeue(db, res, realtime, change)
    return MessageOut.of(message, Names(users={actor.id: actor.display_name}))


async def _stored(
    db: AsyncSession, actor: Actor, conversation_id: int, client_id: str
) -> MessageOut:
    stored = await db.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id,
            Message.sender_id == actor.id,
            Message.client_id == client_id,
        )
    )
    if stored is None:  # the conflict was something else: let it surface
        raise Conflict("The message could not be stored; send it again.", code="retry")
    return MessageOut.of(stored, Names(users={actor.id: actor.display_name}))


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
    await db.commit()
    last = int(current or 0)
    if realtime is not None:
        event = Read(conversation_id=conversation.id, user_id=actor.id, last_read_seq=last)
        await event.to_rooms(realtime, [*rooms_for(conversation), user_room(actor.id)])
    return last


async def typing(
    db: AsyncSession, realtime: Realtime, actor: Actor, conversation_id: int, sid: str
) -> None:
    conversation = await followed_conversation(db, actor, conversation_id)
    check_can_write(actor, conversation)
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
