"""The message store: what people write, as stored, and the hot path of the product that
stores one chat message for every message sent.

A send takes the conversation's next number, checks who is writing, and inserts the
message and its delivery (an outbox entry, see services/announce.py), in one transaction of
four Core statements. On SQLite the whole transaction runs as one call in aiosqlite's
thread (`teamtalk.sqlite_direct`; a send went from about 5.0 to 1.5 ms of CPU on the
2-core test machine).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from teamtalk.errors import Conflict, Forbidden, Invalid, NotFound
from teamtalk.models import Base, Conversation, Message, MessageKind, Role, Status
from teamtalk.schemas import MessageOut
from teamtalk.services.access import Actor, takes_part
from teamtalk.services.announce import Change, Staged, events_of, outbox_text
from teamtalk.sqlite_direct import Compiled, bound, in_thread, transaction

CLOSED_MESSAGE = "This conversation is closed. Open a new request to get help again."

CONVERSATIONS = Base.metadata.tables["conversations"]
MESSAGES = Base.metadata.tables["messages"]
OUTBOX = Base.metadata.tables["outbox"]
PARTICIPANTS = Base.metadata.tables["conversation_participants"]

MAX_BODY = 5000
# Control characters other than tab and newline have no place in a chat message (and the
# search snippets use two of them as markers); NUL is one PostgreSQL text cannot hold.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def plain(text: str) -> str:
    """Text as people's text is stored: one kind of line break, no control characters."""
    return CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def clean_note(note: str | None) -> str | None:
    """A note added to a transition (a transfer's reason, a wrap-up note), cleaned as
    messages are; nothing left is no note. Its length is the schema's to check."""
    if note is None:
        return None
    return plain(note) or None


def clean_body(body: str) -> str:
    """What people write, as stored: every message, the first one of a request included."""
    text = plain(body)
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


@dataclass(frozen=True)
class Facts:
    """What deciding on a message needs to know about its conversation."""

    id: int
    agent_id: int
    assignee_id: int | None
    status: str


class Duplicate(Exception):
    """This sender stored a message with this client id already."""


class Reply(Exception):
    """The agent wrote in a pending or solved conversation: nothing was stored; the
    lifecycle's path stores it and brings the conversation back."""


def check_can_write(actor: Actor, facts: Facts) -> None:
    """Its agent, its assignee while assigned, and admins write; leaders who held it before
    read only. (Taking part is checked before.)"""
    status = facts.status
    if status in (Status.CLOSED, Status.CANCELLED):
        raise Conflict(CLOSED_MESSAGE, code="conversation_closed")
    if actor.role == Role.ADMIN or actor.id == facts.agent_id:
        if actor.id == facts.agent_id and status in (Status.PENDING, Status.SOLVED):
            raise Reply()
        return
    if actor.id == facts.assignee_id:
        if status == Status.ASSIGNED:
            return
        raise Conflict(
            f"This conversation is {status}; the agent's next message brings it back.",
            code="not_assigned",
        )
    raise Forbidden("You can read this conversation but no longer write in it.", code="read_only")


def not_found() -> NotFound:
    return NotFound("No such conversation.", code="conversation_not_found")


@dataclass(frozen=True)
class Send:
    """One message to store: who writes what, where, under which client id."""

    actor: Actor
    conversation_id: int
    client_id: str
    text: str
    tell: bool  # write its delivery to the outbox (False when nobody is to hear it)


async def store(
    db: AsyncSession,
    actor: Actor,
    conversation_id: int,
    *,
    client_id: str,
    text: str,
    now: datetime,
    tell: bool = True,
) -> tuple[MessageOut, Staged | None]:
    """The stored message, and its delivery to `announce.deliver` when it is new (None when
    the same client id had stored it already). Raises the refusal, or Reply."""
    send = Send(actor, conversation_id, client_id, text, tell)
    if db.get_bind().dialect.name == "sqlite" and not db.in_transaction():
        return await _store_sqlite(db, send, now)
    return await _store_core(db, send, now)


def _out(send: Send, message_id: int, facts: Facts, seq: int, now: datetime) -> MessageOut:
    return MessageOut(
        id=message_id,
        conversation_id=facts.id,
        seq=seq,
        sender_id=send.actor.id,
        sender_name=send.actor.display_name,
        kind=MessageKind.USER,
        body=send.text,
        client_id=send.client_id,
        created_at=now,
    )


# The three statements of a send. The next number comes first, in one statement that also
# reads what the checks need (and locks the row on PostgreSQL); a refusal rolls it back.
_c = CONVERSATIONS.c
_now = bindparam("now", type_=_c.updated_at.type)
TAKE_SEQ = (
    update(CONVERSATIONS)
    .where(_c.id == bindparam("conversation_id"))
    .values(
        last_seq=_c.last_seq + 1,
        updated_at=_now,
        first_response_at=case(
            (and_(_c.assignee_id == bindparam("actor_id"), _c.first_response_at.is_(None)), _now),
            else_=_c.first_response_at,
        ),
    )
    .returning(_c.id, _c.agent_id, _c.assignee_id, _c.status, _c.last_seq)
)
HELD_BEFORE = select(PARTICIPANTS.c.user_id).where(
    PARTICIPANTS.c.conversation_id == bindparam("conversation_id"),
    PARTICIPANTS.c.user_id == bindparam("user_id"),
)
INSERT_MESSAGE = insert(MESSAGES).returning(MESSAGES.c.id)
MESSAGE_COLUMNS = ("conversation_id", "seq", "sender_id", "kind", "body", "client_id", "created_at")
INSERT_OUTBOX = insert(OUTBOX).returning(OUTBOX.c.id)
OUTBOX_COLUMNS = ("events", "created_at")


def _delivery(send: Send, out: MessageOut, facts: Facts) -> Staged:
    """The new message's events, not yet in the outbox."""
    return Staged([], events_of([Change(facts, messages=[out])]) if send.tell else [])


def _taking(send: Send, now: Any) -> dict[str, Any]:
    return {"conversation_id": send.conversation_id, "actor_id": send.actor.id, "now": now}


def _held(send: Send, facts: Facts) -> dict[str, Any]:
    return {"conversation_id": facts.id, "user_id": send.actor.id}


def _message_row(send: Send, facts: Facts, seq: int, at: Any) -> dict[str, Any]:
    return {
        "conversation_id": facts.id,
        "seq": seq,
        "sender_id": send.actor.id,
        "kind": MessageKind.USER.value,
        "body": send.text,
        "client_id": send.client_id,
        "created_at": at,
    }


async def _store_core(
    db: AsyncSession, send: Send, now: datetime
) -> tuple[MessageOut, Staged | None]:
    actor = send.actor
    row = (await db.execute(TAKE_SEQ, _taking(send, now))).first()
    try:
        if row is None:
            raise not_found()
        facts, seq = Facts(*row[:4]), int(row[4])
        part = takes_part(actor, facts)
        if part is None:
            part = await db.scalar(HELD_BEFORE, _held(send, facts)) is not None
        if not part:
            raise not_found()
        check_can_write(actor, facts)
        message_id = await db.scalar(INSERT_MESSAGE, _message_row(send, facts, seq, now))
        assert message_id is not None
        out = _out(send, message_id, facts, seq, now)
        staged = _delivery(send, out, facts)
        if staged.events:
            staged.entry_id = await db.scalar(
                INSERT_OUTBOX, {"events": outbox_text(staged.events), "created_at": now}
            )
    except IntegrityError:
        await db.rollback()
        return await stored_before(db, actor, send.conversation_id, send.client_id), None
    except BaseException:
        await db.rollback()
        raise
    await db.commit()
    return out, staged


async def stored_before(
    db: AsyncSession, actor: Actor, conversation_id: int, client_id: str
) -> MessageOut:
    """The message this sender stored with this client id."""
    stored = await db.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id,
            Message.sender_id == actor.id,
            Message.client_id == client_id,
        )
    )
    if stored is None:  # the conflict was something else: let it surface
        raise Conflict("The message could not be stored; send it again.", code="retry")
    out = MessageOut.model_validate(stored)
    out.sender_name = actor.display_name
    return out


async def _store_sqlite(
    db: AsyncSession, send: Send, now: datetime
) -> tuple[MessageOut, Staged | None]:
    engine = db.bind
    assert isinstance(engine, AsyncEngine)
    stamp = bound(engine, CONVERSATIONS.c.updated_at.type, now)
    try:
        # The session holds no connection (checked by the caller), so the pool's is free.
        return await in_thread(engine, transaction, _sqlite_statements, send, now, stamp)
    except Duplicate:
        return await stored_before(db, send.actor, send.conversation_id, send.client_id), None


SQLITE_TAKE_SEQ = Compiled(TAKE_SEQ)
SQLITE_HELD_BEFORE = Compiled(HELD_BEFORE)
SQLITE_INSERT_MESSAGE = Compiled(INSERT_MESSAGE, MESSAGE_COLUMNS)
SQLITE_INSERT_OUTBOX = Compiled(INSERT_OUTBOX, OUTBOX_COLUMNS)


def _sqlite_statements(
    conn: sqlite3.Connection, send: Send, now: datetime, stamp: Any
) -> tuple[MessageOut, Staged]:
    """In aiosqlite's thread, in one transaction: the same statements as `_store_core`."""
    actor = send.actor
    row = SQLITE_TAKE_SEQ.run(conn, _taking(send, stamp))
    if row is None:
        raise not_found()
    facts, seq = Facts(*row[:4]), int(row[4])
    part = takes_part(actor, facts)
    if part is None:
        part = SQLITE_HELD_BEFORE.run(conn, _held(send, facts)) is not None
    if not part:
        raise not_found()
    check_can_write(actor, facts)
    try:
        (message_id,) = SQLITE_INSERT_MESSAGE.run(conn, _message_row(send, facts, seq, stamp))
    except sqlite3.IntegrityError as exc:
        raise Duplicate() from exc
    out = _out(send, int(message_id), facts, seq, now)
    staged = _delivery(send, out, facts)
    if staged.events:
        values = {"events": outbox_text(staged.events), "created_at": stamp}
        (staged.entry_id,) = SQLITE_INSERT_OUTBOX.run(conn, values)
    return out, staged
