"""Topics a request or a resolution is filed under."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import Conflict, NotFound
from teamtalk.models import Topic, utcnow


async def list_topics(db: AsyncSession, *, include_archived: bool = False) -> Sequence[Topic]:
    query = select(Topic).order_by(func.lower(Topic.name), Topic.id)
    if not include_archived:
        query = query.where(Topic.archived_at.is_(None))
    return (await db.scalars(query)).all()


async def get_topic(db: AsyncSession, topic_id: int) -> Topic:
    topic = await db.get(Topic, topic_id)
    if topic is None:
        raise NotFound("No such topic.", code="topic_not_found")
    return topic


async def create_topic(db: AsyncSession, name: str) -> Topic:
    await _check_unused(db, name.strip())
    topic = Topic(name=name.strip())
    db.add(topic)
    await _commit_unique(db)
    return topic


async def rename_topic(db: AsyncSession, topic: Topic, name: str) -> Topic:
    await _check_unused(db, name.strip(), but=topic.id)
    topic.name = name.strip()
    await _commit_unique(db)
    return topic


async def restore_topic(db: AsyncSession, topic: Topic) -> Topic:
    """An archived topic back in the lists people choose from."""
    if topic.archived_at is not None:
        topic.archived_at = None
        await db.commit()
    return topic


async def _check_unused(db: AsyncSession, name: str, *, but: int | None = None) -> None:
    """Names are told apart without regard to case: "billing" is "Billing" (archived ones
    too, so restoring one never makes two)."""
    query = select(Topic.name).where(func.lower(Topic.name) == name.lower())
    if but is not None:
        query = query.where(Topic.id != but)
    taken = await db.scalar(query.limit(1))
    if taken is not None:
        raise Conflict(f"There is already a topic named {taken}.", code="topic_exists")


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
