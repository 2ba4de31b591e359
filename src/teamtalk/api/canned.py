"""Canned responses: leaders and admins list them; admins manage them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from teamtalk.api.deps import DB, Admin, require_role
from teamtalk.api.params import PathId, QueryId
from teamtalk.models import Role, User
from teamtalk.schemas import CannedEnvelope, CannedIn, CannedList, CannedOut, Storable
from teamtalk.services import canned

router = APIRouter(prefix="/canned", tags=["canned"])
Reader = Annotated[User, Depends(require_role(Role.TEAMLEADER, Role.ADMIN))]
Search = Annotated[str, Query(max_length=200), Storable]


@router.get("", response_model=CannedList)
async def list_canned(
    user: Reader, db: DB, q: Search | None = None, topic_id: QueryId | None = None
) -> CannedList:
    """`topic_id` gives that topic's (first) and the general ones; `q` searches title and
    body, ignoring case."""
    found = await canned.list_canned(db, q=q, topic_id=topic_id)
    return CannedList(canned_responses=[CannedOut.of(c) for c in found])


@router.post("", response_model=CannedEnvelope, status_code=201)
async def create_canned(body: CannedIn, admin: Admin, db: DB) -> CannedEnvelope:
    made = await canned.create_canned(
        db, admin.id, title=body.title, body=body.body, topic_id=body.topic_id
    )
    return CannedEnvelope(canned_response=CannedOut.of(made))


@router.put("/{canned_id}", response_model=CannedEnvelope)
async def update_canned(canned_id: PathId, body: CannedIn, admin: Admin, db: DB) -> CannedEnvelope:
    found = await canned.get_canned(db, canned_id)
    changed = await canned.update_canned(
        db, found, title=body.title, body=body.body, topic_id=body.topic_id
    )
    return CannedEnvelope(canned_response=CannedOut.of(changed))


@router.delete("/{canned_id}", status_code=204)
async def delete_canned(canned_id: PathId, admin: Admin, db: DB) -> None:
    await canned.delete_canned(db, await canned.get_canned(db, canned_id))
