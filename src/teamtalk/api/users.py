"""User management (admins only), and a directory of names for leaders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from teamtalk.api.deps import DB, RT, Admin, Res, require_role
from teamtalk.api.params import PathId
from teamtalk.errors import Conflict
from teamtalk.models import Role, User
from teamtalk.schemas import (
    Directory,
    DirectoryEntry,
    UserCreate,
    UserEnvelope,
    UserList,
    UserOut,
    UserUpdate,
)
from teamtalk.services import login_throttle, users

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=UserList)
async def list_users(admin: Admin, db: DB, role: Role | None = None) -> UserList:
    return UserList(users=[UserOut.of(u) for u in await users.list_users(db, role)])


@router.post("", response_model=UserEnvelope, status_code=201)
async def create_user(body: UserCreate, admin: Admin, db: DB, res: Res) -> UserEnvelope:
    user = await users.create_user(
        db,
        email=body.email,
        display_name=body.display_name,
        role=body.role,
        password=body.password,
        capacity=body.capacity or res.settings.default_capacity,
    )
    return UserEnvelope(user=UserOut.of(user))


@router.get("/directory", response_model=Directory)
async def directory(
    user: Annotated[User, Depends(require_role(Role.TEAMLEADER, Role.ADMIN))],
    db: DB,
    role: Role | None = None,
) -> Directory:
    """Names of everyone, for leaders' and admins' history filters."""
    found = await users.list_users(db, role)
    return Directory(users=[DirectoryEntry.model_validate(u) for u in found])


@router.get("/{user_id}", response_model=UserEnvelope)
async def get_user(user_id: PathId, admin: Admin, db: DB) -> UserEnvelope:
    return UserEnvelope(user=UserOut.of(await users.get_user(db, user_id)))


@router.patch("/{user_id}", response_model=UserEnvelope)
async def update_user(
    user_id: PathId, body: UserUpdate, admin: Admin, db: DB, res: Res, realtime: RT
) -> UserEnvelope:
    user = await users.get_user(db, user_id)
    if user.id == admin.id and body.role not in (None, Role.ADMIN):
        raise Conflict("You cannot take away your own admin role.", code="own_role")
    user = await users.update_user(
        db,
        res,
        realtime,
        user,
        display_name=body.display_name,
        role=body.role,
        capacity=body.capacity,
    )
    return UserEnvelope(user=UserOut.of(user))


@router.post("/{user_id}/deactivate", response_model=UserEnvelope)
async def deactivate_user(
    user_id: PathId, admin: Admin, db: DB, res: Res, realtime: RT
) -> UserEnvelope:
    user = await users.get_user(db, user_id)
    if user.id == admin.id:
        raise Conflict("You cannot deactivate your own account.", code="own_account")
    user = await users.deactivate_user(db, res, realtime, user)
    return UserEnvelope(user=UserOut.of(user))


@router.post("/{user_id}/reactivate", response_model=UserEnvelope)
async def reactivate_user(user_id: PathId, admin: Admin, db: DB) -> UserEnvelope:
    """A deactivated account may sign in again."""
    user = await users.get_user(db, user_id)
    return UserEnvelope(user=UserOut.of(await users.reactivate_user(db, user)))


@router.post("/{user_id}/unlock", response_model=UserEnvelope)
async def unlock_user(user_id: PathId, admin: Admin, db: DB, res: Res) -> UserEnvelope:
    """End the sign-in backoff strangers' wrong passwords put on this account."""
    user = await users.get_user(db, user_id)
    await login_throttle.clear_account(res, user.email)
    return UserEnvelope(user=UserOut.of(user))
