"""Support requests over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from teamtalk.api.deps import DB, RT, CurrentUser, Res, require_role
from teamtalk.api.params import PathId
from teamtalk.models import ConversationRead, Role, Status, User
from teamtalk.schemas import (
    ConversationCreate,
    ConversationCreated,
    ConversationDetail,
    ConversationEnvelope,
    ConversationPage,
    MessageEnvelope,
    MessageIn,
    ReadIn,
    ReadOut,
    SubmitAs,
    TransferIn,
    TransferTarget,
    TransferTargets,
)
from teamtalk.services import (
    access,
    conversations,
    lifecycle,
    listing,
    messages,
    presence,
    presenters,
    queue_places,
)
from teamtalk.services.access import Actor

router = APIRouter(prefix="/conversations", tags=["conversations"])
Agent = Annotated[User, Depends(require_role(Role.AGENT))]
Leader = Annotated[User, Depends(require_role(Role.TEAMLEADER))]


@router.post("", response_model=ConversationCreated, status_code=201)
async def create(
    body: ConversationCreate, agent: Agent, db: DB, res: Res, realtime: RT
) -> ConversationCreated:
    """Opens a request, queued. Safe to retry with a `client_id`: the same agent sending
    the same one again (its answer lost, say) gets 201 with the request opened first, as
    it stands now (status, queue position), and nothing new is opened, whatever the rest
    of the body says. `queue_position` is null when it is not queued, or not known just
    now (the request is kept and is queued all the same)."""
    conversation, position = await conversations.create_conversation(
        db,
        res,
        realtime,
        Actor.of(agent),
        message=body.message,
        topic_id=body.topic_id,
        ticket_link=body.ticket_link,
        client_id=body.client_id,
    )
    return ConversationCreated(conversation=conversation, queue_position=position)


@router.get("/basket", response_model=ConversationPage)
async def basket(leader: Leader, db: DB) -> ConversationPage:
    """The leader's conversations, oldest first, with last message and unread count."""
    held = await presence.basket_of(db, leader.id)
    items = await listing.conversation_items(db, leader, held)
    return ConversationPage(conversations=items, next_cursor=None)


@router.get("/{conversation_id}", response_model=ConversationDetail)
async def get(conversation_id: PathId, user: CurrentUser, db: DB, res: Res) -> ConversationDetail:
    conversation = await access.visible_conversation(db, user, conversation_id)
    standing = None
    if conversation.status == Status.QUEUED:
        standing = await queue_places.standing_of(db, res, conversation.id)
    read = await db.get(ConversationRead, (conversation.id, user.id))
    return ConversationDetail(
        conversation=await presenters.conversation_out(db, conversation),
        queue_position=standing.position if standing else None,
        last_read_seq=read.last_read_seq if read else 0,
        standing=standing,
    )


@router.post("/{conversation_id}/messages", response_model=MessageEnvelope, status_code=201)
async def send_message(
    conversation_id: PathId, body: MessageIn, user: CurrentUser, db: DB, res: Res, realtime: RT
) -> MessageEnvelope:
    """Stored, then delivered; the same `client_id` again returns the stored message."""
    message = await messages.send(
        db,
        res,
        realtime,
        Actor.of(user),
        conversation_id,
        client_id=body.client_id,
        body=body.body,
    )
    return MessageEnvelope(message=message)


@router.post("/{conversation_id}/read", response_model=ReadOut)
async def mark_read(
    conversation_id: PathId, body: ReadIn, user: CurrentUser, db: DB, realtime: RT
) -> ReadOut:
    last = await messages.mark_read(db, realtime, Actor.of(user), conversation_id, body.seq)
    return ReadOut(last_read_seq=last)


@router.post("/{conversation_id}/submit", response_model=ConversationEnvelope)
async def submit_as(
    conversation_id: PathId, body: SubmitAs, leader: Leader, db: DB, res: Res, realtime: RT
) -> ConversationEnvelope:
    conversation = await lifecycle.submit_as(
        db,
        res,
        realtime,
        Actor.of(leader),
        conversation_id,
        status=Status(body.status),
        topic_id=body.topic_id,
        note=body.note,
    )
    return ConversationEnvelope(conversation=conversation)


@router.post("/{conversation_id}/transfer", response_model=ConversationEnvelope)
async def transfer(
    conversation_id: PathId, body: TransferIn, leader: Leader, db: DB, res: Res, realtime: RT
) -> ConversationEnvelope:
    """To an online leader with a free slot, or (`leader_id: null`) back to the queue."""
    conversation = await lifecycle.transfer(
        db,
        res,
        realtime,
        Actor.of(leader),
        conversation_id,
        to_leader_id=body.leader_id,
        reason=body.reason,
    )
    return ConversationEnvelope(conversation=conversation)


@router.get("/{conversation_id}/transfer-targets", response_model=TransferTargets)
async def transfer_targets(
    conversation_id: PathId, leader: Leader, db: DB, res: Res
) -> TransferTargets:
    """Online leaders with a free slot, most free first."""
    await access.followed_conversation(db, leader, conversation_id)
    available = [(i, free) for i, free in await res.router.available_leaders() if i != leader.id]
    names = await presenters.names_for(db, [i for i, _ in available])
    return TransferTargets(
        leaders=[
            TransferTarget(id=i, display_name=names.users[i], free_slots=free)
            for i, free in available
            if i in names.users
        ]
    )


@router.post("/{conversation_id}/withdraw", response_model=ConversationEnvelope)
async def withdraw(
    conversation_id: PathId, agent: Agent, db: DB, res: Res, realtime: RT
) -> ConversationEnvelope:
    conversation = await lifecycle.withdraw(db, res, realtime, Actor.of(agent), conversation_id)
    return ConversationEnvelope(conversation=conversation)


@router.post("/{conversation_id}/reopen", response_model=ConversationEnvelope)
async def reopen(
    conversation_id: PathId, agent: Agent, db: DB, res: Res, realtime: RT
) -> ConversationEnvelope:
    conversation = await lifecycle.reopen(db, res, realtime, Actor.of(agent), conversation_id)
    return ConversationEnvelope(conversation=conversation)
