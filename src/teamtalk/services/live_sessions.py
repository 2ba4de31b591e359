"""The sign-in sessions behind this process's open sockets, read again every second.

Every socket event is checked against this table, so the hot path costs no query; the
refresh sees logout, deactivation, a role change and expiry done by any process within a
second, even when the disconnect that normally follows them never arrived. Socket events
count as use of the session, as requests do: its idle mark moves, at most once a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from teamtalk.failures import Backoff
from teamtalk.models import Session, User, utcnow
from teamtalk.resources import Resources
from teamtalk.services.auth import TOUCH_INTERVAL, session_deadline

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0
# An entry this old (the refresh is failing: database down) is read again on its own
# before an event may use it; if that fails too, the event is refused.
STALE_SECONDS = 5.0
CHUNK = 500  # session ids per query


@dataclass(frozen=True)
class LiveSession:
    user_id: int
    role: str
    name: str
    last_seen_at: datetime
    checked: float  # time.monotonic() of the read


class LiveSessions:
    def __init__(self, res: Resources) -> None:
        self.res = res
        self.known: dict[int, LiveSession] = {}
        self._used: set[int] = set()  # sessions that sent an event since their last touch
        self.sockets: dict[str, tuple[int, str]] = {}  # sid -> session id, role at connect

    def opened(self, sid: str, session_id: int, user: User, last_seen_at: datetime) -> None:
        """A socket of this session connected, just authenticated as `user`."""
        self.sockets[sid] = (session_id, user.role)
        self.known[session_id] = LiveSession(
            user.id, user.role, user.display_name, last_seen_at, time.monotonic()
        )

    def closed(self, sid: str) -> None:
        self.sockets.pop(sid, None)

    async def run(self, stop: asyncio.Event, end: Callable[[str], Awaitable[None]]) -> None:
        """Sweep every second until `stop`; `end` disconnects a socket."""
        backoff = Backoff(log, "reading the sessions of open sockets")
        while not stop.is_set():
            try:
                await self.sweep(end)
                backoff.succeeded()
            except Exception as exc:
                backoff.failed(exc)  # logs once per outage, not every second
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), REFRESH_SECONDS)

    async def sweep(self, end: Callable[[str], Awaitable[None]]) -> None:
        """Read the session of every open socket again; end the sockets whose session has
        ended or whose user now has another role (they reconnect and start afresh)."""
        sockets = dict(self.sockets)
        wanted = {session_id for session_id, _ in sockets.values()}
        self.forget(set(self.known) - wanted)
        fresh = await self.refresh(wanted)
        for sid, (session_id, role) in sockets.items():
            state = fresh.get(session_id)
            if state is None or state.role != role:
                self.closed(sid)
                try:
                    await end(sid)
                except Exception:
                    log.exception("ending a socket failed", extra={"sid": sid})

    async def check(self, session_id: int) -> LiveSession | None:
        """The session as last read (at most a second ago), or None if it has ended."""
        self._used.add(session_id)
        state = self.known.get(session_id)
        if state is None or time.monotonic() - state.checked > STALE_SECONDS:
            state = (await self.refresh([session_id])).get(session_id)
        return state

    def forget(self, session_ids: Collection[int]) -> None:
        for session_id in session_ids:
            self.known.pop(session_id, None)
            self._used.discard(session_id)

    async def refresh(self, session_ids: Collection[int]) -> dict[int, LiveSession]:
        """Read these sessions again: ended, expired and deactivated ones are dropped (an
        expired one is deleted, as a request would), used ones have their idle mark moved."""
        now, clock = utcnow(), time.monotonic()
        settings = self.res.settings
        fresh: dict[int, LiveSession] = {}
        expired: list[int] = []
        for chunk in _chunks(sorted(session_ids)):
            query = (
                select(
                    Session.id,
                    Session.user_id,
                    Session.last_seen_at,
                    Session.expires_at,
                    User.role,
                    User.is_active,
                    User.display_name,
                )
                .join(User, User.id == Session.user_id)
                .where(Session.id.in_(chunk))
            )
            async with self.res.reads() as db:
                rows = (await db.execute(query)).all()
            for sid, user_id, last_seen, expires, role, active, name in rows:
                if not active or now >= session_deadline(settings, last_seen, expires):
                    expired.append(sid)
                else:
                    fresh[sid] = LiveSession(user_id, role, name, last_seen, clock)
        touch = [
            s for s in fresh if s in self._used and now - fresh[s].last_seen_at >= TOUCH_INTERVAL
        ]
        if expired or touch:
            async with self.res.sessions() as db:
                if expired:
                    await db.execute(delete(Session).where(Session.id.in_(expired)))
                if touch:
                    await db.execute(
                        update(Session).where(Session.id.in_(touch)).values(last_seen_at=now)
                    )
                await db.commit()
        self._used.difference_update(touch)
        self.forget([s for s in session_ids if s not in fresh])
        self.known.update(fresh)
        return fresh


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
