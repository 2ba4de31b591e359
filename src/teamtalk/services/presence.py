"""Team leaders' status (online, away, offline) and agents' presence.

The status belongs to the user, not to a tab: it is kept in the database (so routing can be
rebuilt) and mirrored into Redis routing state; every tab hears `ack_status`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import Forbidden, TooManyRequests
from teamtalk.events import AckStatus, MonitorFact, SyncBasket
from teamtalk.models import (
    Conversation,
    Presence,
    PresenceCause,
    PresenceChange,
    Role,
    Status,
    User,
    utcnow,
)
from teamtalk.realtime import Realtime, live_sockets
from teamtalk.resources import Resources
from teamtalk.routing.engine import now_ms
from teamtalk.services import queue_places
from teamtalk.services.announce import Change, after_commit, announce
from teamtalk.services.lifecycle import unassign
from teamtalk.services.presenters import conversations_out


async def basket_of(db: AsyncSession, leader_id: int) -> list[Conversation]:
    query = (
        select(Conversation)
        .where(Conversation.assignee_id == leader_id, Conversation.status == Status.ASSIGNED)
        .order_by(Conversation.created_at, Conversation.id)
    )
    return list(await db.scalars(query))


async def check_rate(res: Resources, user_id: int) -> None:
    key = res.keys.status_changes(user_id)
    async with res.redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, 60, nx=True)
        count, _ = await pipe.execute()
    if int(count) > res.settings.status_changes_per_minute:
        raise TooManyRequests("Too many status changes; wait a minute.", retry_after=60)


async def set_status(
    db: AsyncSession,
    res: Resources,
    realtime: Realtime | None,
    user_id: int,
    status: Presence,
    *,
    cause: PresenceCause = PresenceCause.CHOSEN,
    actor_id: int | None = None,
    reason: str = "leader went offline",
    text: str | None = None,
    at: datetime | None = None,
) -> Presence:
    """Commits `db`, with a row in the presence log when the status changes. The leader's
    row is locked first, so this and an assignment of theirs happen one after the other,
    never interleaved. `text`: the system message of each conversation going offline
    returns to the queue (by default, that the leader went offline). `at`: when the change
    took effect, if earlier than now (a grace period that ended while no server ran)."""
    leader = await db.scalar(select(User).where(User.id == user_id).with_for_update())
    if leader is None or leader.role != Role.TEAMLEADER:
        raise Forbidden("Only team leaders have a status.", code="not_a_teamleader")
    if not leader.is_active and status != Presence.OFFLINE:
        raise Forbidden("This account is deactivated.", code="deactivated")
    noted = []
    at = at or utcnow()
    if leader.presence != status:
        noted.append(MonitorFact(what="leader_status", leader_id=leader.id))
        db.add(
            PresenceChange(
                user_id=leader.id,
                status=status.value,
                previous=leader.presence,
                cause=cause.value,
                actor_id=actor_id,
                created_at=at,
            )
        )
        ack = status_ack(res, status, cause, at)
    else:
        ack = await current_ack(db, res, leader.id, status)
    changes: list[Change] = []
    if status == Presence.OFFLINE:
        changes = await _go_offline(db, leader, reason, text)
    else:
        leader.presence = status
        basket = [c.id for c in await basket_of(db, leader.id)]
    # Every tab of theirs hears it, after what their basket lost. Commits, with the events
    # in the outbox; routing follows.
    await announce(db, realtime, changes, also=[ack.for_user(user_id)], noted=noted)
    if status == Presence.OFFLINE:
        returned = [ch.conversation.id for ch in changes]
        await after_commit(res.router.leader_offline(leader.id, returned), "leader_offline")
    else:
        await after_commit(
            res.router.leader_set(leader.id, status.value, leader.capacity, basket), "leader_set"
        )
    await queue_places.tell(res, realtime)
    return status


async def _go_offline(
    db: AsyncSession, leader: User, reason: str, text: str | None
) -> list[Change]:
    """Offline returns the basket to the head of the queue, oldest first, at once."""
    leader.presence = Presence.OFFLINE
    returned = await basket_of(db, leader.id)
    now = utcnow()
    text = text or f"{leader.display_name} went offline; back in the queue."
    return [
        await unassign(
            db, c, now, "returned", leader_id=leader.id, actor_id=None, reason=reason, text=text
        )
        for c in returned
    ]


def status_ack(res: Resources, status: str, cause: str, since: datetime) -> AckStatus:
    """The status as the leader's tabs hear it: when the system set them offline, why."""
    if status != Presence.OFFLINE or cause == PresenceCause.CHOSEN:
        return AckStatus.model_validate({"status": status})
    return AckStatus.model_validate(
        {
            "status": status,
            "offline_reason": cause,
            "offline_since": since,
            "grace_seconds": res.settings.presence_grace_seconds,
        }
    )


async def current_ack(db: AsyncSession, res: Resources, user_id: int, status: str) -> AckStatus:
    """The status with the cause of the presence log's latest change, if it led here."""
    if status != Presence.OFFLINE:
        return status_ack(res, status, PresenceCause.CHOSEN, utcnow())
    latest = await db.scalar(
        select(PresenceChange)
        .where(PresenceChange.user_id == user_id)
        .order_by(PresenceChange.id.desc())
        .limit(1)
    )
    if latest is None or latest.status != Presence.OFFLINE:
        return status_ack(res, status, PresenceCause.CHOSEN, utcnow())
    return status_ack(res, status, latest.cause, latest.created_at)


async def capacity_changed(res: Resources, leader: User) -> None:
    """Lowering capacity takes nothing away; it only stops new work until there is room."""
    if leader.role == Role.TEAMLEADER and leader.presence != Presence.OFFLINE:
        await res.router.leader_set(leader.id, leader.presence, leader.capacity)


async def connected(res: Resources, realtime: Realtime, user: User, sid: str) -> None:
    """A socket of this user connected: the grace period (if any) ends; leaders get their
    basket and status (with why, when the system set them offline)."""
    if user.role == Role.AGENT:
        await res.redis.sadd(res.keys.online_agents, str(user.id))
        return
    if user.role != Role.TEAMLEADER:
        return
    await _end_grace(res, realtime, user)
    async with res.sessions() as db:
        status = await db.scalar(select(User.presence).where(User.id == user.id))
        ack = await current_ack(db, res, user.id, status or Presence.OFFLINE)
        basket = await basket_of(db, user.id)
        conversations = await conversations_out(db, basket)
    await realtime.emit(
        SyncBasket.name, SyncBasket(conversations=conversations).model_dump(mode="json"), sid
    )
    await realtime.emit(AckStatus.name, ack.model_dump(mode="json"), sid)


async def _end_grace(res: Resources, realtime: Realtime, user: User) -> None:
    """Back inside the grace period: status and basket stay. Back after it ended unseen
    (every server was down, so no worker ended it): offline now, from when it ended, as the
    worker would have done."""
    async with res.redis.pipeline(transaction=True) as pipe:
        pipe.zscore(res.keys.disconnected, str(user.id))
        pipe.zrem(res.keys.disconnected, str(user.id))
        pipe.srem(res.keys.server_lost, str(user.id))
        started, _, lost = await pipe.execute()
    if started is None or user.presence == Presence.OFFLINE:
        return
    ended = float(started) + res.settings.presence_grace_seconds * 1000
    if ended > now_ms():
        return
    async with res.sessions() as db:
        await set_status(
            db,
            res,
            realtime,
            user.id,
            Presence.OFFLINE,
            cause=PresenceCause.SERVER_LOST if lost else PresenceCause.GRACE_ENDED,
            reason="leader disconnected",
            at=datetime.fromtimestamp(ended / 1000, UTC),
        )


async def disconnected(res: Resources, realtime: Realtime, user_id: int, role: str) -> None:
    """The last socket of a user went away: agents go offline, leaders start the grace."""
    if await live_sockets(res.redis, res.keys, user_id):
        return
    if role == Role.AGENT:
        await res.redis.srem(res.keys.online_agents, str(user_id))
    elif role == Role.TEAMLEADER:
        async with res.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(res.keys.disconnected, {str(user_id): now_ms()}, nx=True)
            if realtime.stopping:  # the server went away under them; they did not leave
                pipe.sadd(res.keys.server_lost, str(user_id))
            await pipe.execute()
        await res.router.wake()  # a worker's wait must now end when this grace does


async def sweep_absent(res: Resources) -> None:
    """Leaders in routing with no live socket and no grace period running (their server
    died, or Redis lost the socket registry) start one now."""
    leaders: list[Any] = await res.redis.hkeys(res.keys.leader_status)
    for raw in leaders:
        if await live_sockets(res.redis, res.keys, int(raw)):
            continue
        if await res.redis.zadd(res.keys.disconnected, {str(raw): now_ms()}, nx=True):
            await res.redis.sadd(res.keys.server_lost, str(raw))


async def grace_left(res: Resources) -> float | None:
    """Seconds until the earliest running grace period ends (0 if it has), None if none
    runs."""
    first: list[Any] = await res.redis.zrange(res.keys.disconnected, 0, 0, withscores=True)
    if not first:
        return None
    ends = float(first[0][1]) + res.settings.presence_grace_seconds * 1000
    return max(0.0, (ends - now_ms()) / 1000)


async def expire_grace(res: Resources, realtime: Realtime | None) -> list[int]:
    """Leaders whose grace period ran out with no socket back go offline."""
    cutoff = now_ms() - int(res.settings.presence_grace_seconds * 1000)
    due: list[Any] = await res.redis.zrangebyscore(res.keys.disconnected, "-inf", cutoff)
    gone = []
    for raw in due:
        user_id = int(raw)
        # Whoever removes the entry does the work, so two workers never both do it.
        if not await res.redis.zrem(res.keys.disconnected, raw):
            continue
        lost = await res.redis.srem(res.keys.server_lost, raw)
        if await live_sockets(res.redis, res.keys, user_id):
            continue
        cause = PresenceCause.SERVER_LOST if lost else PresenceCause.GRACE_ENDED
        async with res.sessions() as db:
            user = await db.get(User, user_id)
            if user is not None and user.presence != Presence.OFFLINE:
                await set_status(
                    db,
                    res,
                    realtime,
                    user_id,
                    Presence.OFFLINE,
                    cause=cause,
                    reason="leader disconnected",
                )
                gone.append(user_id)
    return gone
