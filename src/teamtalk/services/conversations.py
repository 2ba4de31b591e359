"""Support requests: create, submit as. Events go out only after the commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import Invalid, NotFound
from teamtalk.events import UpdateConversation
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
from teamtalk.schemas import ConversationOut, Names
from teamtalk.services.history import add_message, clean_body, record


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
    position = await router.enqueue([conversation.id])
    if realtime is not None:  # the agent's other tabs
        names = Names(users={agent.id: agent.display_name})
        if topic_id is not None:
            names.topics = {topic_id: (await db.get_one(Topic, topic_id)).name}
        out = ConversationOut.of(conversation, names)
        await UpdateConversation(conversation=out).to_user(realtime, agent.id)
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


@dataclass(frozen=True)
class Actor:
    """Who is acting, from the session (a socket keeps it for its lifetime)."""

    id: int
    role: str
    display_name: str

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user.id, user.role, user.display_name)


class Someone(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def role(self) -> str: ...


class Followed(Protocol):
    """A conversation, or the few facts of it that decide who may see it."""

    @property
    def id(self) -> int: ...
    @property
    def agent_id(self) -> int: ...
    @property
    def assignee_id(self) -> int | None: ...


def takes_part(who: Someone, conversation: Followed) -> bool | None:
    """True or False when who they are decides; None when it depends on whether this
    leader held the conversation before."""
    if who.role == Role.ADMIN or who.id in (conversation.agent_id, conversation.assignee_id):
        return True
    return None if who.role == Role.TEAMLEADER else False


async def follows(db: AsyncSession, who: Someone, conversation: Followed) -> bool:
    """Who takes part, live: its agent, its assignee, leaders who held it (read only), and
    admins. Joining its room, writing, typing, read marks and catch-up need this."""
    part = takes_part(who, conversation)
    if part is not None:
        return part
    return await db.get(ConversationParticipant, (conversation.id, who.id)) is not None


async def can_read(db: AsyncSession, who: Someone, conversation: Followed) -> bool:
    """Who may read its history: its agent, every team leader (the team's history is
    theirs to learn from) and admins."""
    if who.role in (Role.ADMIN, Role.TEAMLEADER):
        return True
    return who.id == conversation.agent_id


async def visible_conversation(
    db: AsyncSession, who: Someone, conversation_id: int
) -> Conversation:
    """The conversation if `who` may read its history; otherwise it does not exist for
    them."""
    conversation = await get_conversation(db, conversation_id)
    if not await can_read(db, who, conversation):
        raise NotFound("No such conversation.", code="conversation_not_found")
    return conversation


async def followed_conversation(
    db: AsyncSession, who: Someone, conversation_id: int, *, lock: bool = False
) -> Conversation:
    """The conversation if `who` takes part in it; otherwise it does not exist for them."""
    conversation = await get_conversation(db, conversation_id, lock=lock)
    if not await follows(db, who, conversation):
        raise NotFound("No such conversation.", code="conversation_not_found")
    return conversation
