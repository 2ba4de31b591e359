"""Topics a request or a resolution is filed under."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import Conflict, NotFound
from teamtalk.models import Topic, utcnow


async def list_topics(db: AsyncSession, *, include_archived: bool = False) -> Sequence[Topic]:
    query = select(Topic).order_by(Topic.name)
    if not include_archived:
        query = query.where(Topic.archived_at.is_(None))
    return (await db.scalars(query)).all()


async def get_topic(db: AsyncSession, topic_id: int) -> Topic:
    topic = await db.get(Topic, topic_id)
    if topic is None:
        raise NotFound("No such topic.", code="topic_not_found")
    return topic


async def create_topic(db: AsyncSession, name: str) -> Topic:
    topic = Topic(name=name.strip())
    db.add(topic)
    await _commit_unique(db)
    return topic


async def rename_topic(db: AsyncSession, topic: Topic, name: str) -> Topic:
    topic.name = name.strip()
    await _commit_unique(db)
    return topic


async def archive_topic(db: AsyncSession, topic: Topic) -> Topic:
    if topic.archived_at is None:
        topic.archived_at = utcnow()
        await db.commit()
    return topic


async def _commit_unique(db: AsyncSession) -> None:
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise Conflict("A topic with that name already exists.", code="topic_exists") from None
