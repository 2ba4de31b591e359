"""Accounts: list, change, deactivate (creating one is `accounts.py`, all the CLI loads for it)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import NotFound
from teamtalk.models import Presence, PresenceCause, Role, User, utcnow
from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.services import presence
from teamtalk.services.accounts import create_user as create_user
from teamtalk.services.accounts import normalize_email
from teamtalk.services.auth import end_sessions


async def list_users(db: AsyncSession, role: Role | None = None) -> Sequence[User]:
    query = select(User).order_by(User.id)
    if role is not None:
        query = query.where(User.role == role.value)
    return (await db.scalars(query)).all()


async def get_user(db: AsyncSession, user_id: int) -> User:
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    return user


async def get_user_by_email(db: AsyncSession, email: str) -> User:
    user = await db.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    return user


async def update_user(
    db: AsyncSession,
    res: Resources | None,
    realtime: Realtime | None,
    user: User,
    *,
    display_name: str | None = None,
    role: Role | None = None,
    capacity: int | None = None,
) -> User:
    """A leader who stops being one goes offline first (their basket back to the queue);
    a capacity change reaches routing at once."""
    if role not in (None, Role.TEAMLEADER) and user.role == Role.TEAMLEADER and res is not None:
        await presence.set_status(
            db,
            res,
            realtime,
            user.id,
            Presence.OFFLINE,
            cause=PresenceCause.ROLE_CHANGED,
            reason="role changed",
        )
    if display_name is not None:
        user.display_name = display_name.strip()
    role_changed = role is not None and role.value != user.role
    if role is not None:
        user.role = role.value
    if capacity is not None:
        user.capacity = capacity
    await db.commit()
    if role_changed and realtime is not None:
        # Open sockets were admitted to rooms under the old role: they start afresh.
        await realtime.disconnect_user(user.id)
    if res is not None and capacity is not None:
        await presence.capacity_changed(res, user)
    return user


async def deactivate_user(
    db: AsyncSession, res: Resources | None, realtime: Realtime | None, user: User
) -> User:
    """Deactivate and sign out everywhere at once: sessions deleted, sockets disconnected,
    and a leader's basket back to the queue."""
    if user.role == Role.TEAMLEADER and res is not None:
        await presence.set_status(
            db,
            res,
            realtime,
            user.id,
            Presence.OFFLINE,
            cause=PresenceCause.DEACTIVATED,
            reason="leader deactivated",
        )
    if user.is_active:
        user.is_active = False
        user.deactivated_at = utcnow()
    await end_sessions(db, user.id)
    await db.commit()
    if realtime is not None:
        await realtime.disconnect_user(user.id)
    return user


async def reactivate_user(db: AsyncSession, user: User) -> User:
    """A deactivated account may sign in again (offline, as after any sign-in)."""
    if not user.is_active:
        user.is_active = True
        user.deactivated_at = None
        await db.commit()
    return user
