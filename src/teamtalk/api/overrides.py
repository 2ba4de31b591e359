"""Supervisor overrides (admins only): queue order, assignments and stuck leaders."""

from __future__ import annotations

from fastapi import APIRouter

from teamtalk.api.deps import DB, RT, Admin, Res
from teamtalk.api.params import PathId
from teamtalk.models import Presence
from teamtalk.resources import Resources
from teamtalk.schemas import (
    ConversationOut,
    OverrideAssignIn,
    OverrideLeader,
    OverrideResult,
    OverrideStatusIn,
    OverrideTakeIn,
)
from teamtalk.services import overrides
from teamtalk.services.access import Actor

router = APIRouter(prefix="/overrides", tags=["overrides"])


async def _result(res: Resources, conversation: ConversationOut) -> OverrideResult:
    position = await overrides.queue_position(res, conversation)
    return OverrideResult(conversation=conversation, queue_position=position)


@router.post("/conversations/{conversation_id}/front", response_model=OverrideResult)
async def move_to_front(
    conversation_id: PathId, admin: Admin, db: DB, res: Res, realtime: RT
) -> OverrideResult:
    """A queued request goes ahead of everything waiting (the latest move first). 409
    `conversation_not_queued` when it is not waiting in the queue."""
    out = await overrides.move_to_front(db, res, realtime, Actor.of(admin), conversation_id)
    return await _result(res, out)


@router.post("/conversations/{conversation_id}/assign", response_model=OverrideResult)
async def assign(
    conversation_id: PathId, body: OverrideAssignIn, admin: Admin, db: DB, res: Res, realtime: RT
) -> OverrideResult:
    """A queued request to a named leader. 409 `leader_unavailable` (not online),
    `leader_full` (no free slot), `conversation_not_queued`; 404 `leader_not_found`."""
    out = await overrides.assign(
        db, res, realtime, Actor.of(admin), conversation_id, leader_id=body.leader_id
    )
    return await _result(res, out)


@router.post("/conversations/{conversation_id}/take", response_model=OverrideResult)
async def take(
    conversation_id: PathId, body: OverrideTakeIn, admin: Admin, db: DB, res: Res, realtime: RT
) -> OverrideResult:
    """From its leader to the head of the queue (`leader_id: null`) or to another leader.
    409 `conversation_not_assigned`, `leader_unavailable`, `leader_full`; 404
    `leader_not_found`."""
    out = await overrides.take(
        db,
        res,
        realtime,
        Actor.of(admin),
        conversation_id,
        to_leader_id=body.leader_id,
        reason=body.reason,
    )
    return await _result(res, out)


@router.post("/leaders/{leader_id}/status", response_model=OverrideLeader)
async def set_status(
    leader_id: PathId, body: OverrideStatusIn, admin: Admin, db: DB, res: Res, realtime: RT
) -> OverrideLeader:
    """A stuck leader set away or offline (their basket back to the head of the queue).
    409 `leader_unavailable` for away when they are offline; 404 `leader_not_found`."""
    status = Presence(body.status)
    leader = await overrides.set_leader_status(
        db, res, realtime, Actor.of(admin), leader_id, status
    )
    return OverrideLeader(id=leader.id, display_name=leader.display_name, status=body.status)
