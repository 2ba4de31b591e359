"""Topics: every signed-in user lists them; admins manage them."""

from __future__ import annotations

from fastapi import APIRouter

from teamtalk.api.deps import DB, Admin, CurrentUser
from teamtalk.api.params import PathId
from teamtalk.models import Role
from teamtalk.schemas import TopicEnvelope, TopicIn, TopicList, TopicOut
from teamtalk.services import topics

router = APIRouter(prefix="/topics", tags=["topics"])


@router.get("", response_model=TopicList)
async def list_topics(user: CurrentUser, db: DB, include_archived: bool = False) -> TopicList:
    archived = include_archived and user.role == Role.ADMIN
    found = await topics.list_topics(db, include_archived=archived)
    return TopicList(topics=[TopicOut.of(t) for t in found])


@router.post("", response_model=TopicEnvelope, status_code=201)
async def create_topic(body: TopicIn, admin: Admin, db: DB) -> TopicEnvelope:
    return TopicEnvelope(topic=TopicOut.of(await topics.create_topic(db, body.name)))


@router.patch("/{topic_id}", response_model=TopicEnvelope)
async def rename_topic(topic_id: PathId, body: TopicIn, admin: Admin, db: DB) -> TopicEnvelope:
    topic = await topics.get_topic(db, topic_id)
    return TopicEnvelope(topic=TopicOut.of(await topics.rename_topic(db, topic, body.name)))


@router.post("/{topic_id}/archive", response_model=TopicEnvelope)
async def archive_topic(topic_id: PathId, admin: Admin, db: DB) -> TopicEnvelope:
    topic = await topics.get_topic(db, topic_id)
    return TopicEnvelope(topic=TopicOut.of(await topics.archive_topic(db, topic)))


@router.post("/{topic_id}/restore", response_model=TopicEnvelope)
async def restore_topic(topic_id: PathId, admin: Admin, db: DB) -> TopicEnvelope:
    """An archived topic offered again."""
    topic = await topics.get_topic(db, topic_id)
    return TopicEnvelope(topic=TopicOut.of(await topics.restore_topic(db, topic)))
