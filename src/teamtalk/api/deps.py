"""Request-scoped dependencies: the database session, the signed-in user, role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import Forbidden, NotAuthenticated
from teamtalk.models import Role, User
from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.services import auth


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


def get_realtime(request: Request) -> Realtime:
    realtime: Realtime = request.app.state.realtime
    return realtime


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_resources(request).sessions() as session:
        yield session


DB = Annotated[AsyncSession, Depends(get_db)]
Res = Annotated[Resources, Depends(get_resources)]
RT = Annotated[Realtime, Depends(get_realtime)]


async def current_user(request: Request) -> User:
    found = await auth.authenticate(get_resources(request), request.cookies.get(auth.COOKIE_NAME))
    if found is None:
        raise NotAuthenticated()
    request.state.session_id = found.session_id
    return found.user


def require_role(*roles: Role) -> Callable[..., Awaitable[User]]:
    allowed = {r.value for r in roles}

    async def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in allowed:
            raise Forbidden()
        return user

    return check


CurrentUser = Annotated[User, Depends(current_user)]


async def costly_reader(request: Request, user: CurrentUser) -> User:
    """The signed-in user, for the reads that cost the database most (history lists,
    message pages, search): each spends from the user's reads budget, shared with `sync`."""
    await get_resources(request).read_budget.spend(user.id)
    return user


CostlyReader = Annotated[User, Depends(costly_reader)]
require_admin = require_role(Role.ADMIN)
Admin = Annotated[User, Depends(require_admin)]
