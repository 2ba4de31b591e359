"""Support requests over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from teamtalk.api.deps import DB, RT, CurrentUser, Res, require_role
from teamtalk.errors import NotFound
from teamtalk.models import Role, Status, User
from teamtalk.schemas import (
    ConversationCreate,
    ConversationCreated,
    ConversationDetail,
    ConversationEnvelope,
    ConversationList,
    ConversationOut,
    SubmitAs,
)
from teamtalk.services import conversations, presence, views

router = APIRouter(prefix="/conversations", tags=["conversations"])
Agent = Annotated[User, Depends(require_role(Role.AGENT))]
Leader = Annotated[User, Depends(require_role(Role.TEAMLEADER))]


@router.post("", response_model=ConversationCreated, status_code=201)
async def create(
    body: ConversationCreate, agent: Agent, db: DB, res: Res, realtime: RT
) -> ConversationCreated:
    conversation, position = await conversations.create_conversation(
        db,
        res.router,
        realtime,
        agent,
        message=body.message,
        topic_id=body.topic_id,
        ticket_link=body.ticket_link,
    )
    return ConversationCreated(
        conversation=ConversationOut.of(conversation), queue_position=position
    )


@router.get("/basket", response_model=ConversationList)
async def basket(leader: Leader, db: DB) -> ConversationList:
    held = await presence.basket_of(db, leader.id)
    return ConversationList(conversations=await views.conversations_out(db, held))


@router.get("/{conversation_id}", response_model=ConversationDetail)
async def get(conversation_id: int, user: CurrentUser, db: DB, res: Res) -> ConversationDetail:
    conversation = await conversations.get_conversation(db, conversation_id)
    if not await conversations.can_read(db, user, conversation):
        raise NotFound("No such conversation.", code="conversation_not_found")
    position = None
    if conversation.status == Status.QUEUED:
        position = await res.router.queue_position(conversation.id)
    return ConversationDetail(
        conversation=ConversationOut.of(conversation), queue_position=position
    )


@router.post("/{conversation_id}/submit", response_model=ConversationEnvelope)
async def submit_as(
    conversation_id: int, body: SubmitAs, leader: Leader, db: DB, res: Res, realtime: RT
) -> ConversationEnvelope:
    conversation = await conversations.submit_as(
        db,
        res.router,
        realtime,
        leader,
        conversation_id,
        status=Status(body.status),
        topic_id=body.topic_id,
    )
    return ConversationEnvelope(conversation=ConversationOut.of(conversation))
