"""Opening a request on SQLite: the conversation, its first message, its "created" event
and its delivery (an outbox entry) in one transaction, run as one call in aiosqlite's
thread (`teamtalk.sqlite_direct`), as a chat message is. The statements are those of
services/conversations.py's ORM path, which other databases run."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import make_transient_to_detached

from teamtalk.errors import Invalid
from teamtalk.models import Base, Conversation, MessageKind, Status
from teamtalk.schemas import ConversationOut, Names
from teamtalk.services.access import Actor
from teamtalk.services.announce import Change, Staged, events_of, outbox_text
from teamtalk.services.message_store import (
    MESSAGE_COLUMNS,
    OUTBOX_COLUMNS,
    SQLITE_INSERT_MESSAGE,
    SQLITE_INSERT_OUTBOX,
)
from teamtalk.sqlite_direct import Compiled, Query, bound, in_thread, transaction

CONVERSATIONS = Base.metadata.tables["conversations"]
EVENTS = Base.metadata.tables["conversation_events"]
TOPICS = Base.metadata.tables["topics"]
_c = CONVERSATIONS.c

# Every column but the id, so that no default is left to the ORM.
CONVERSATION_COLUMNS = tuple(c.key for c in CONVERSATIONS.c if c.key != "id")
EVENT_COLUMNS = tuple(c.key for c in EVENTS.c if c.key != "id")
SQLITE_OPENED = Query(
    select(_c.id).where(
        _c.agent_id == bindparam("agent_id"), _c.client_id == bindparam("client_id")
    )
)
SQLITE_TOPIC = Query(
    select(TOPICS.c.name, TOPICS.c.archived_at).where(TOPICS.c.id == bindparam("topic_id"))
)
SQLITE_INSERT_CONVERSATION = Compiled(insert(CONVERSATIONS).returning(_c.id), CONVERSATION_COLUMNS)
SQLITE_INSERT_EVENT = Compiled(insert(EVENTS).returning(EVENTS.c.id), EVENT_COLUMNS)


def no_such_topic() -> Invalid:
    detail = [{"field": "topic_id", "message": "no such topic", "type": "topic"}]
    return Invalid("No such topic.", code="invalid", details=detail)


@dataclass(frozen=True)
class Opening:
    """A request to open: who asks what, under which topic and client id."""

    agent: Actor
    text: str
    topic_id: int | None
    ticket_link: str | None
    client_id: str | None
    tell: bool  # write its delivery to the outbox (False with no realtime to tell)


@dataclass(frozen=True)
class Opened:
    """The same agent opened a request with this client id before."""

    conversation_id: int


async def open_on_sqlite(
    engine: AsyncEngine, opening: Opening, now: datetime
) -> tuple[ConversationOut, Staged] | Opened:
    stamp = bound(engine, _c.updated_at.type, now)
    return await in_thread(engine, transaction, _statements, opening, now, stamp)


def _statements(
    conn: sqlite3.Connection, opening: Opening, now: datetime, stamp: Any
) -> tuple[ConversationOut, Staged] | Opened:
    agent = opening.agent
    if opening.client_id is not None:
        known = {"agent_id": agent.id, "client_id": opening.client_id}
        before = SQLITE_OPENED.first(conn, known)
        if before is not None:
            return Opened(int(before[0]))
    names = Names(users={agent.id: agent.display_name})
    if opening.topic_id is not None:
        topic = SQLITE_TOPIC.first(conn, {"topic_id": opening.topic_id})
        if topic is None or topic[1] is not None:
            raise no_such_topic()
        names.topics = {opening.topic_id: topic[0]}
    conversation = Conversation(
        agent_id=agent.id,
        assignee_id=None,
        topic_id=opening.topic_id,
        status=Status.QUEUED.value,
        ticket_link=opening.ticket_link,
        client_id=opening.client_id,
        last_seq=1,  # the first message's number
        created_at=now,
        queued_at=now,
        assigned_at=None,
        first_response_at=None,
        resolved_at=None,
        closed_at=None,
        updated_at=now,
    )
    row = {key: getattr(conversation, key) for key in CONVERSATION_COLUMNS}
    row.update(created_at=stamp, queued_at=stamp, updated_at=stamp)
    (conversation.id,) = SQLITE_INSERT_CONVERSATION.run(conn, row)
    make_transient_to_detached(conversation)
    message = {
        "conversation_id": conversation.id,
        "seq": 1,
        "sender_id": agent.id,
        "kind": MessageKind.USER.value,
        "body": opening.text,
        "client_id": None,
        "created_at": stamp,
    }
    assert set(message) == set(MESSAGE_COLUMNS)
    SQLITE_INSERT_MESSAGE.run(conn, message)
    event = dict.fromkeys(EVENT_COLUMNS)
    event.update(conversation_id=conversation.id, type="created", actor_id=agent.id)
    event["created_at"] = stamp
    SQLITE_INSERT_EVENT.run(conn, event)
    out = ConversationOut.of(conversation, names)
    staged = Staged([out], [])
    if opening.tell:
        staged.events = events_of([Change(conversation)], {conversation.id: out}, names)
        values = dict(zip(OUTBOX_COLUMNS, (outbox_text(staged.events), stamp), strict=True))
        (staged.entry_id,) = SQLITE_INSERT_OUTBOX.run(conn, values)
    return out, staged
