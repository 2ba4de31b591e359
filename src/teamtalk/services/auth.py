"""Passwords, sign-in sessions and login throttling."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Executable, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from teamtalk.errors import NotAuthenticated
from teamtalk.models import Session, User, utcnow
from teamtalk.resources import Resources
from teamtalk.services import login_throttle
from teamtalk.services.accounts import normalize_email
from teamtalk.services.passwords import hash_password, needs_rehash, verify_password
from teamtalk.settings import Settings
from teamtalk.sqlite_direct import Query, in_thread, is_sqlite

COOKIE_NAME = "teamtalk_session"
# Writing last_seen on every request would make every read a write; a minute is precise enough.
TOUCH_INTERVAL = timedelta(seconds=60)


def hash_token(token: str, secret: str) -> str:
    """Keyed with the server secret: a copy of the database alone matches no cookie, and
    changing the secret signs everyone out."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SignIn:
    user: User
    session: Session
    token: str
    device: str  # the browser's device cookie, now vouching for this account too


async def login(
    db: AsyncSession,
    res: Resources,
    *,
    email: str,
    password: str,
    address: str,
    user_agent: str | None,
    previous_token: str | None,
    devices: str | None,
) -> SignIn:
    email = normalize_email(email)
    # Counted before the password is checked, for an unknown email just the same.
    attempt = await login_throttle.begin(res, email=email, address=address, devices=devices)

    user = await db.scalar(select(User).where(User.email == email))
    # Ended before the hash, which takes a while (seconds on a busy machine): PostgreSQL
    # ends transactions left idle that long, and SQLite's readers would hold their snapshot.
    await db.commit()
    ok = await verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        # One answer for unknown email, wrong password and deactivated account.
        raise NotAuthenticated("Wrong email or password.", code="invalid_credentials")

    await login_throttle.succeeded(res, attempt)
    settings = res.settings
    secret = settings.resolved_secret_key()
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    # Rotation: whatever session this browser had before is ended, a fresh token is issued.
    if previous_token:
        await db.execute(
            delete(Session).where(Session.token_hash == hash_token(previous_token, secret))
        )
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session = Session(
        token_hash=hash_token(token, secret),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
        ip=address[:64],
        user_agent=(user_agent or "")[:256] or None,
    )
    db.add(session)
    await db.commit()
    device = login_throttle.device_cookie(settings, email, devices)
    return SignIn(user=user, session=session, token=token, device=device)


def session_deadline(settings: Settings, last_seen_at: datetime, expires_at: datetime) -> datetime:
    """When a session ends unless it is used again: its idle limit or its maximum age."""
    return min(last_seen_at + timedelta(minutes=settings.session_idle_minutes), expires_at)


# The session lookup of every request and socket connect: one Core statement on the
# readers (on SQLite a connection of their own, in one trip to its thread), no ORM session,
# and a write only when the idle mark moves or the session has ended. Still one read of
# the database per request, so a logout or deactivation in any process counts at once.
_s, _u = Session.__table__.c, User.__table__.c
LOOKUP = (
    select(_s.id, _s.last_seen_at, _s.expires_at, *_u)
    .join_from(Session.__table__, User.__table__, _u.id == _s.user_id)
    .where(_s.token_hash == bindparam("token_hash"))
)
SQLITE_LOOKUP = Query(LOOKUP)
USER_KEYS = tuple(column.key for column in _u)


@dataclass(frozen=True)
class Signed:
    """Who a cookie signs in: the user (detached from any session: read it, load it again
    to change it) and their session."""

    user: User
    session_id: int
    last_seen_at: datetime


async def authenticate(res: Resources, token: str | None) -> Signed | None:
    """The active user and session behind a cookie token, or None. Ends expired sessions."""
    if not token or len(token) > 128:
        return None
    settings = res.settings
    row = await _look_up(res, hash_token(token, settings.resolved_secret_key()))
    if row is None:
        return None
    session_id, last_seen_at, expires_at = row[:3]
    user = User(**dict(zip(USER_KEYS, row[3:], strict=True)))
    make_transient_to_detached(user)
    now = utcnow()
    if not user.is_active or now >= session_deadline(settings, last_seen_at, expires_at):
        await _write(res, delete(Session).where(Session.id == session_id))
        return None
    if now - last_seen_at >= TOUCH_INTERVAL:
        await _write(res, update(Session).where(Session.id == session_id).values(last_seen_at=now))
        last_seen_at = now
    return Signed(user, session_id, last_seen_at)


async def _look_up(res: Resources, token_hash: str) -> tuple[Any, ...] | None:
    values = {"token_hash": token_hash}
    if is_sqlite(res.reader):
        return await in_thread(res.reader, SQLITE_LOOKUP.first, values)
    async with res.reader.connect() as connection:
        row = (await connection.execute(LOOKUP, values)).first()
    return None if row is None else tuple(row)


async def _write(res: Resources, statement: Executable) -> None:
    async with res.engine.begin() as connection:
        await connection.execute(statement)


async def logout(db: AsyncSession, res: Resources, token: str | None) -> Session | None:
    """End the session behind a token; returns it, if there was one."""
    if not token:
        return None
    token_hash = hash_token(token, res.settings.resolved_secret_key())
    session = await db.scalar(select(Session).where(Session.token_hash == token_hash))
    if session is None:
        return None
    await db.delete(session)
    await db.commit()
    return session


async def end_sessions(db: AsyncSession, user_id: int) -> None:
    await db.execute(delete(Session).where(Session.user_id == user_id))
