"""Creating an account: the database and a password hash, no Redis or real time, so the
command line's `users create` loads only this."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import Conflict
from teamtalk.models import Role, User
from teamtalk.services.passwords import hash_password


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def create_user(
    db: AsyncSession,
    *,
    email: str,
    display_name: str,
    role: Role,
    password: str,
    capacity: int,
) -> User:
    user = User(
        email=normalize_email(email),
        display_name=display_name.strip(),
        role=role.value,
        password_hash=await hash_password(password),
        capacity=capacity,
        is_active=True,
    )
    db.add(user)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise Conflict("A user with that email already exists.", code="email_taken") from None
    return user
