"""Who may see and take part in a conversation: the rules every request and socket event
is checked by, from the session's user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import NotFound
from teamtalk.models import Conversation, ConversationParticipant, Role, User


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
