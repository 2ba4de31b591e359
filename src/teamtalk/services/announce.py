"""A committed change, told to everyone concerned: the one way events about conversations
leave the services, after the commit and in one Redis round trip."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.events import AssignConversation, NewMessage, RemoveFromBasket, UpdateConversation
from teamtalk.models import Conversation, Message
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

    def add(self, message: Message | None) -> None:
        if message is not None:
            self.messages.append(message)


def rooms_for(conversation: Followed, *others: int | None) -> list[str]:
    """Everyone who follows the conversation: its room, its agent and its assignee."""
    users = {conversation.agent_id, conversation.assignee_id, *others}
    return [conversation_room(conversation.id)] + [user_room(u) for u in users if u is not None]


async def announce(
    db: AsyncSession,
    realtime: Realtime | None,
    changes: Sequence[Change],
    *,
    also: Sequence[Emission] = (),
) -> list[ConversationOut]:
    """Tell everyone concerned (then whatever `also` holds); returns the changed
    conversations as clients see them, for the caller's answer. After the commit only."""
    changed = [ch.conversation for ch in changes if isinstance(ch.conversation, Conversation)]
    stored = [m for ch in changes for m in ch.messages if isinstance(m, Message)]
    names, outs = Names(), dict[int, ConversationOut]()
    if changed or stored:  # names in one query whatever the number of changes
        began = not db.in_transaction()
        names = await names_for(
            db,
            [i for c in changed for i in (c.agent_id, c.assignee_id)]
            + [m.sender_id for m in stored],
            [c.topic_id for c in changed],
        )
        if began:  # on SQLite that read took the write lock: not held across Redis calls
            await db.commit()
        outs = {c.id: ConversationOut.of(c, names) for c in changed}
    if realtime is None:
        return list(outs.values())
    events: list[Emission] = []
    for ch in changes:
        c = ch.conversation
        out = outs.get(c.id)
        if ch.removed_from is not None:
            events.append(RemoveFromBasket(conversation_id=c.id).for_user(ch.removed_from))
        if ch.assigned_to is not None and out is not None:
            events.append(AssignConversation(conversation=out).for_user(ch.assigned_to))
        rooms = rooms_for(c, ch.removed_from, *ch.also_tell)
        if out is not None:
            events.append(UpdateConversation(conversation=out).for_rooms(rooms))
        for m in ch.messages:
            message = m if isinstance(m, MessageOut) else MessageOut.of(m, names)
            events.append(NewMessage(conversation_id=c.id, message=message).for_rooms(rooms))
    events.extend(also)
    if len(events) == 1:
        await realtime.emit(*events[0])
    elif events:
        await realtime.emit_many(events)
    return list(outs.values())


async def after_commit(step: Awaitable[T], what: str) -> T | None:
    """A Redis step that follows a commit. The change stands whatever happens here, so its
    failure is logged and never answered as an error: the worker's drift repair mends
    routing state from the database, and the outbox redelivers the events."""
    try:
        return await step
    except Exception:
        log.warning(
            "step after a commit failed; routing state will be mended",
            exc_info=True,
            extra={"step": what},
        )
        return None
