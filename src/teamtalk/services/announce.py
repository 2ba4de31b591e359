"""A committed change, told to everyone concerned: the one way events about conversations
leave the services. The events are written to the outbox in the change's transaction and
delivered after the commit in one Redis round trip; what that delivery misses, the outbox
drain (services/outbox.py) delivers, so no committed change goes untold."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk import failures
from teamtalk.events import (
    AssignConversation,
    MonitorChanged,
    MonitorFact,
    NewMessage,
    RemoveFromBasket,
    UpdateConversation,
)
from teamtalk.models import Conversation, Message, MessageKind, OutboxEntry, Status, utcnow
from teamtalk.realtime import Emission, Realtime, conversation_room, user_room
from teamtalk.schemas import ConversationOut, MessageOut, Names
from teamtalk.services.access import Followed
from teamtalk.services.presenters import names_for

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Change:
    """What one committed change did to a conversation.

    `conversation` is the row when its state changed (everyone following hears
    `update_conversation`), or only the facts that say who follows it when the change is
    its messages alone.
    """

    conversation: Conversation | Followed
    messages: list[Message | MessageOut] = field(default_factory=list)
    removed_from: int | None = None  # the leader whose basket lost it
    assigned_to: int | None = None  # the leader whose basket gained it
    also_tell: set[int] = field(default_factory=set)  # e.g. the previous leader
    reason: str | None = None  # why it was handed to `assigned_to`, told to them

    def add(self, message: Message | None) -> None:
        if message is not None:
            self.messages.append(message)


def rooms_for(conversation: Followed, *others: int | None) -> list[str]:
    """Everyone who follows the conversation: its room, its agent and its assignee."""
    users = {conversation.agent_id, conversation.assignee_id, *others}
    return [conversation_room(conversation.id)] + [user_room(u) for u in users if u is not None]


@dataclass
class Staged:
    """A change's answer and events, written to the outbox in its transaction."""

    outs: list[ConversationOut]
    events: list[Emission]
    entry_id: int | None = None


async def stage(
    db: AsyncSession,
    realtime: Realtime | None,
    changes: Sequence[Change],
    *,
    also: Sequence[Emission] = (),
    noted: Sequence[MonitorFact] = (),
) -> Staged:
    """In the change's transaction: the changed conversations as clients see them, and the
    events that tell everyone concerned (then whatever `also` holds), written to the outbox
    so that they are delivered even if this process or Redis fails before `deliver`.
    `noted`: routing changes besides the conversations' (a leader's status), for admins."""
    changed = [ch.conversation for ch in changes if isinstance(ch.conversation, Conversation)]
    stored = [m for ch in changes for m in ch.messages if isinstance(m, Message)]
    names, outs = Names(), dict[int, ConversationOut]()
    if changed or stored:  # names in one query whatever the number of changes
        names = await names_for(
            db,
            [i for c in changed for i in (c.agent_id, c.assignee_id)]
            + [m.sender_id for m in stored],
            [c.topic_id for c in changed],
        )
        outs = {c.id: ConversationOut.of(c, names) for c in changed}
    if realtime is None:
        return Staged(list(outs.values()), [])
    assigned = [ch.conversation.id for ch in changes if ch.assigned_to is not None]
    asked = await requests_of(db, assigned)
    events = [*events_of(changes, outs, names, noted, requests=asked), *also]
    return Staged(list(outs.values()), events, await write_outbox(db, events))


def events_of(
    changes: Sequence[Change],
    outs: dict[int, ConversationOut] | None = None,
    names: Names | None = None,
    noted: Sequence[MonitorFact] = (),
    *,
    requests: dict[int, str] | None = None,
) -> list[Emission]:
    """The events that tell everyone concerned; `outs` are the changed conversations as
    clients see them, `names` those of the stored messages' senders, `requests` the first
    words of the assigned ones' requests. Admins hear one `monitor_changed` for the
    conversations whose state changed and what is `noted`."""
    outs, names, requests = outs or {}, names or Names(), requests or {}
    events: list[Emission] = []
    facts = [fact_of(ch) for ch in changes if ch.conversation.id in outs]
    facts += noted
    for ch in changes:
        c = ch.conversation
        out = outs.get(c.id)
        if ch.removed_from is not None:
            events.append(RemoveFromBasket(conversation_id=c.id).for_user(ch.removed_from))
        if ch.assigned_to is not None and out is not None:
            assign = AssignConversation(
                conversation=out, request=requests.get(c.id), reason=ch.reason
            )
            events.append(assign.for_user(ch.assigned_to))
        rooms = rooms_for(c, ch.removed_from, *ch.also_tell)
        if out is not None:
            events.append(UpdateConversation(conversation=out).for_rooms(rooms))
        for m in ch.messages:
            message = m if isinstance(m, MessageOut) else MessageOut.of(m, names)
            events.append(NewMessage(conversation_id=c.id, message=message).for_rooms(rooms))
    if facts:
        events.append(MonitorChanged(changes=facts).for_admins())
    return events


REQUEST_CHARS = 200


async def requests_of(db: AsyncSession, conversation_ids: Sequence[int]) -> dict[int, str]:
    """The first words of each conversation's request (its message 1, the agent's), for
    the notification of the leader who is given it."""
    if not conversation_ids:
        return {}
    rows = await db.execute(
        select(Message.conversation_id, func.substr(Message.body, 1, REQUEST_CHARS)).where(
            Message.conversation_id.in_(conversation_ids),
            Message.seq == 1,
            Message.kind == MessageKind.USER,
        )
    )
    return {cid: body for cid, body in rows}


def fact_of(change: Change) -> MonitorFact:
    """What a conversation's change did to routing, told from its new state."""
    c, taken, given = change.conversation, change.removed_from, change.assigned_to
    status = c.status if isinstance(c, Conversation) else None
    if status == Status.ASSIGNED and given is not None:
        what = "transferred" if taken is not None else "assigned"
        return MonitorFact(what=what, conversation_id=c.id, leader_id=given)
    if status == Status.QUEUED:
        what = "returned" if taken is not None else "queued"
        return MonitorFact(what=what, conversation_id=c.id, leader_id=taken)
    kinds = {
        Status.SOLVED: "submitted",
        Status.PENDING: "submitted",
        Status.CANCELLED: "withdrawn",
        Status.CLOSED: "closed",
    }
    what = kinds.get(Status(status), "updated") if status is not None else "updated"
    return MonitorFact(what=what, conversation_id=c.id, leader_id=taken)


async def write_outbox(db: AsyncSession, events: Sequence[Emission]) -> int | None:
    if not events:
        return None
    entry_id: int | None = await db.scalar(
        insert(OutboxEntry).returning(OutboxEntry.id),
        {"events": outbox_text(events), "created_at": utcnow()},
    )
    return entry_id


def outbox_text(events: Sequence[Emission]) -> str:
    return json.dumps(events, separators=(",", ":"))


async def deliver(realtime: Realtime | None, staged: Staged) -> None:
    """After the commit. A failure is not the caller's: the outbox drain delivers it."""
    if realtime is None or not staged.events:
        return
    try:
        await realtime.emit_many(staged.events, outbox_id=staged.entry_id)
    except Exception as exc:
        _failed_after_commit(exc, "events not delivered; the outbox will deliver them")


async def announce(
    db: AsyncSession,
    realtime: Realtime | None,
    changes: Sequence[Change],
    *,
    also: Sequence[Emission] = (),
    noted: Sequence[MonitorFact] = (),
) -> list[ConversationOut]:
    """Commit the session's transaction with the change's events in the outbox, then tell
    everyone concerned; returns the changed conversations as clients see them, for the
    caller's answer. (Called after the caller's own commit, the events get a transaction
    of their own: a failure between the two loses them, so callers leave the commit here.)"""
    staged = await stage(db, realtime, changes, also=also, noted=noted)
    # Ended before any Redis call: on SQLite the transaction holds the write lock.
    await db.commit()
    await deliver(realtime, staged)
    return staged.outs


async def after_commit(step: Awaitable[T], what: str) -> T | None:
    """A Redis step that follows a commit. The change stands whatever happens here, so its
    failure is logged and never answered as an error: the worker's drift repair mends
    routing state from the database, and the outbox redelivers the events."""
    try:
        return await step
    except Exception as exc:
        _failed_after_commit(exc, f"{what} after a commit failed; routing state will be mended")
        return None


def _failed_after_commit(exc: Exception, message: str) -> None:
    """An outage is a line in the log; anything else is a bug, with its traceback."""
    store = failures.dependency(exc)
    if store is not None:
        log.warning("%s (%s unavailable: %s)", message, store, exc)
    else:
        log.error(message, exc_info=exc)
