"""Conversations and messages as clients see them: with the names of the people and topics
they mention, looked up in one query per kind whatever the number of rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.models import Conversation, Message, Topic, User
from teamtalk.schemas import ConversationOut, MessageOut, Names


async def names_for(
    db: AsyncSession, user_ids: Iterable[int | None], topic_ids: Iterable[int | None] = ()
) -> Names:
    users = {i for i in user_ids if i is not None}
    topics = {i for i in topic_ids if i is not None}
    names = Names()
    if users:
        rows = await db.execute(select(User.id, User.display_name).where(User.id.in_(users)))
        names.users = {uid: name for uid, name in rows}
    if topics:
        rows = await db.execute(select(Topic.id, Topic.name).where(Topic.id.in_(topics)))
        names.topics = {tid: name for tid, name in rows}
    return names


async def conversations_out(
    db: AsyncSession, conversations: Sequence[Conversation], names: Names | None = None
) -> list[ConversationOut]:
    if names is None:
        names = await names_for(
            db,
            [i for c in conversations for i in (c.agent_id, c.assignee_id)],
            [c.topic_id for c in conversations],
        )
    return [ConversationOut.of(c, names) for c in conversations]


async def conversation_out(db: AsyncSession, conversation: Conversation) -> ConversationOut:
    (out,) = await conversations_out(db, [conversation])
    return out


async def messages_out(db: AsyncSession, messages: Sequence[Message]) -> list[MessageOut]:
    names = await names_for(db, [m.sender_id for m in messages])
    return [MessageOut.of(m, names) for m in messages]
