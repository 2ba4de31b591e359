"""Storing one chat message: the hot path of the product, run for every message sent.

It takes the conversation's next number, checks who is writing, and inserts the message,
in one transaction. On PostgreSQL that is three statements through SQLAlchemy Core. On
SQLite, aiosqlite hands every call (cursor, execute, fetch, close, ...) to its thread and
back, some 25 trips per message that cost far more than the SQL; there the whole
transaction runs as one function in that thread (a send went from about 5.0 to 1.5 ms of
CPU on the 2-core test machine).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from teamtalk.errors import Conflict, Forbidden, NotFound
from teamtalk.models import Base, Message, MessageKind, Role, Status
from teamtalk.schemas import MessageOut
from teamtalk.services.conversations import Actor, follows, takes_part
from teamtalk.services.lifecycle import CLOSED_MESSAGE

CONVERSATIONS = Base.metadata.tables["conversations"]
MESSAGES = Base.metadata.tables["messages"]


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


async def store(
    db: AsyncSession,
    actor: Actor,
    conversation_id: int,
    *,
    client_id: str,
    text: str,
    now: datetime,
) -> tuple[MessageOut, Facts | None]:
    """The stored message, and the conversation's facts when it is new (None when the same
    client id had stored it already). Raises the refusal, or Reply."""
    if db.get_bind().dialect.name == "sqlite" and not db.in_transaction():
        return await _store_sqlite(db, actor, conversation_id, client_id, text, now)
    return await _store_core(db, actor, conversation_id, client_id, text, now)


def _out(
    actor: Actor, message_id: int, facts: Facts, seq: int, client_id: str, text: str, now: datetime
) -> MessageOut:
    return MessageOut(
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


async def _store_core(
    db: AsyncSession,
    actor: Actor,
    conversation_id: int,
    client_id: str,
    text: str,
    now: datetime,
) -> tuple[MessageOut, Facts | None]:
    c = CONVERSATIONS.c
    # The next number first, in one statement that also reads what the checks need (and
    # locks the row); a refusal rolls it back.
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
            raise not_found()
        facts, seq = Facts(*row[:4]), int(row[4])
        if not await follows(db, actor, facts):
            raise not_found()
        check_can_write(actor, facts)
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
        return await stored_before(db, actor, conversation_id, client_id), None
    except BaseException:
        await db.rollback()
        raise
    await db.commit()
    assert message_id is not None
    return _out(actor, message_id, facts, seq, client_id, text, now), facts


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
    db: AsyncSession,
    actor: Actor,
    conversation_id: int,
    client_id: str,
    text: str,
    now: datetime,
) -> tuple[MessageOut, Facts | None]:
    engine = db.bind
    assert isinstance(engine, AsyncEngine)
    dialect = engine.dialect
    when = CONVERSATIONS.c.updated_at.type.dialect_impl(dialect).bind_processor(dialect)
    stamp = when(now) if when else now
    try:
        # The session holds no connection (checked by the caller), so the pool's is free.
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection  # aiosqlite.Connection
            message_id, seq, facts = await driver._execute(
                _sqlite_transaction, driver._conn, actor, conversation_id, client_id, text, stamp
            )
    except Duplicate:
        return await stored_before(db, actor, conversation_id, client_id), None
    return _out(actor, message_id, facts, seq, client_id, text, now), facts


def _sqlite_transaction(
    conn: sqlite3.Connection,
    actor: Actor,
    conversation_id: int,
    client_id: str,
    text: str,
    stamp: Any,
) -> tuple[int, int, Facts]:
    """In aiosqlite's thread, one whole transaction: the same statements as
    `_store_core`."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = _sqlite_statements(conn, actor, conversation_id, client_id, text, stamp)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return found


def _sqlite_statements(
    conn: sqlite3.Connection,
    actor: Actor,
    conversation_id: int,
    client_id: str,
    text: str,
    stamp: Any,
) -> tuple[int, int, Facts]:
    row = conn.execute(
        "UPDATE conversations SET last_seq = last_seq + 1, updated_at = ?, first_response_at ="
        " CASE WHEN assignee_id = ? AND first_response_at IS NULL THEN ? ELSE first_response_at"
        " END WHERE id = ? RETURNING id, agent_id, assignee_id, status, last_seq",
        (stamp, actor.id, stamp, conversation_id),
    ).fetchone()
    if row is None:
        raise not_found()
    facts, seq = Facts(*row[:4]), int(row[4])
    part = takes_part(actor, facts)
    if part is None:
        held = conn.execute(
            "SELECT 1 FROM conversation_participants WHERE conversation_id = ? AND user_id = ?",
            (facts.id, actor.id),
        ).fetchone()
        part = held is not None
    if not part:
        raise not_found()
    check_can_write(actor, facts)
    try:
        (message_id,) = conn.execute(
            "INSERT INTO messages (conversation_id, seq, sender_id, kind, body, client_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (facts.id, seq, actor.id, MessageKind.USER.value, text, client_id, stamp),
        ).fetchone()
    except sqlite3.IntegrityError as exc:
        raise Duplicate() from exc
    return int(message_id), seq, facts
