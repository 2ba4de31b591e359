"""What supervisors watch live: the queue, the leaders' load, the workers, real time.

The database says what is queued and held (it is the source of truth); Redis says where
each request stands in routing, who is connected and what the workers and servers report.
Durations over windows come from `conversation_events`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from teamtalk import metrics
from teamtalk.models import (
    Conversation,
    ConversationEvent,
    PresenceChange,
    Role,
    Status,
    Topic,
    User,
    utcnow,
)
from teamtalk.resources import Resources
from teamtalk.routing.engine import Snapshot
from teamtalk.schemas import (
    AssignmentWindow,
    HeldConversation,
    LeaderOverview,
    MonitoringOverview,
    MonitoringTotals,
    MonitoringWarning,
    QueuedRequest,
    QueueOverview,
    RealtimeOverview,
    RoomCount,
    SeriesPoint,
    ServiceLevelSplit,
    ServiceLevelWindow,
    WorkerHealth,
)

QUEUE_SHOWN = 200
LAST_ASSIGNED_WITHIN = timedelta(hours=24)
ASSIGNMENT_WINDOWS: tuple[tuple[Literal["15m", "4h", "8h"], int], ...] = (
    ("15m", 15 * 60),
    ("4h", 4 * 3600),
    ("8h", 8 * 3600),
)
SERIES_MINUTES = 60


async def routing_overview(res: Resources) -> dict[str, Any]:
    snap = await res.router.snapshot()
    async with res.sessions() as db:
        names = (
            dict(
                (
                    await db.execute(
                        select(User.id, User.display_name).where(User.id.in_(snap.leaders))
                    )
                ).all()
            )
            if snap.leaders
            else {}
        )
    stats = []
    async for key in res.redis.scan_iter(match=res.keys.worker_stats("*"), count=100):
        raw = await res.redis.get(key)
        if raw:
            stats.append(json.loads(raw))
    return {
        "queue": {"length": len(snap.queue), "conversation_ids": snap.queue[:100]},
        "leaders": [
            {
                "id": leader_id,
                "display_name": names.get(leader_id, ""),
                "status": leader.status,
                "capacity": leader.capacity,
                "free": leader.free,
                "basket": sorted(leader.basket),
            }
            for leader_id, leader in sorted(snap.leaders.items())
        ],
        "in_flight": len(snap.inflight),
        "parked": sorted(snap.parked),
        "workers": {
            "alive": bool(await res.redis.exists(res.keys.worker_heartbeat)),
            "stats": stats,
        },
    }


async def overview(res: Resources, *, tz: ZoneInfo | None = None) -> MonitoringOverview:
    """Everything the dashboard shows. `tz` says when "today" began (UTC by default)."""
    now = utcnow()
    snap = await res.router.snapshot()
    async with res.reads() as db:
        queued = await _queued(db)
        leaders = await _leaders(db, now)
        day_start = _day_start(now, tz or ZoneInfo("UTC"))
        hour_start = _minute(now) - timedelta(minutes=SERIES_MINUTES - 1)
        assigned = await _assigned_since(db, now - timedelta(seconds=ASSIGNMENT_WINDOWS[-1][1]))
        failed = await _failed_since(db, now - timedelta(seconds=ASSIGNMENT_WINDOWS[-1][1]))
        requests = await _requests_since(db, min(day_start, now - timedelta(hours=4), hour_start))
        shown = await _queue_items(db, snap, queued, now)
    grace = await _disconnected(res)
    for leader in leaders:
        leader.disconnected_since = grace.get(leader.id)
    queue = QueueOverview(
        length=len(queued),
        oldest_wait_seconds=_oldest_wait(queued, now),
        requests=shown,
        truncated=len(queued) > len(shown),
        in_flight=sum(1 for q in shown if q.routing == "in_flight"),
        parked=sum(1 for q in shown if q.routing == "parked"),
    )
    if queue.truncated:  # counted over the whole queue, not the part shown
        ids = {q.id for q in queued}
        queue.in_flight = len(ids & set(snap.inflight))
        queue.parked = len(ids & snap.parked)
    totals = _totals(leaders, await res.redis.scard(res.keys.online_agents))
    return MonitoringOverview(
        at=now,
        workers=await workers(res, now),
        queue=queue,
        leaders=leaders,
        totals=totals,
        assignments=[
            _assignment_window(name, seconds, now, assigned, failed)
            for name, seconds in ASSIGNMENT_WINDOWS
        ],
        service_level=[
            _service_level("15m", now - timedelta(minutes=15), now, requests, res),
            _service_level("4h", now - timedelta(hours=4), now, requests, res),
            _service_level("today", day_start, now, requests, res),
        ],
        warnings=_warnings(queue, totals, res.settings.wait_warning_seconds),
        realtime=await realtime(res),
        series=_series(hour_start, assigned, requests),
    )


async def shared_metrics(res: Resources) -> metrics.Shared:
    """The gauges every process reports alike, for /metrics: a few cheap reads."""
    now = utcnow()
    async with res.reads() as db:
        length, oldest = (
            await db.execute(
                select(func.count(), func.min(Conversation.queued_at)).where(
                    Conversation.status == Status.QUEUED
                )
            )
        ).one()
        leaders = await _leaders(db, now, details=False)
    totals = _totals(leaders, await res.redis.scard(res.keys.online_agents))
    live = await realtime(res, details=False)
    return metrics.Shared(
        queue_length=int(length),
        oldest_wait_seconds=max((now - _aware(oldest)).total_seconds(), 0.0) if oldest else 0.0,
        leaders={"online": totals.leaders_online, "away": totals.leaders_away},
        agents_online=totals.agents_online,
        free_slots=totals.free_slots,
        socket_connections=live.socket_connections,
        servers=live.servers,
        worker_heartbeat_age={
            w.worker_id: w.heartbeat_age_seconds
            for w in await workers(res, now)
            if w.heartbeat_age_seconds is not None
        },
    )


# The queue.


@dataclass
class _Queued:
    id: int
    agent_id: int
    topic_id: int | None
    created_at: datetime
    queued_at: datetime


async def _queued(db: AsyncSession) -> list[_Queued]:
    rows = await db.execute(
        select(
            Conversation.id,
            Conversation.agent_id,
            Conversation.topic_id,
            Conversation.created_at,
            Conversation.queued_at,
        ).where(Conversation.status == Status.QUEUED)
    )
    return [_Queued(i, a, t, c, q or c) for i, a, t, c, q in rows]


def _oldest_wait(queued: Sequence[_Queued], now: datetime) -> float:
    if not queued:
        return 0.0
    return max((now - min(q.queued_at for q in queued)).total_seconds(), 0.0)


async def _queue_items(
    db: AsyncSession, snap: Snapshot, queued: list[_Queued], now: datetime
) -> list[QueuedRequest]:
    """The first requests in serving order: as Redis serves them, then the ones Redis does
    not hold in its queue (being assigned, set aside, or not yet there), oldest first."""
    position = {cid: i + 1 for i, cid in enumerate(snap.queue)}
    ordered = sorted(
        queued,
        key=lambda q: (position.get(q.id, math.inf), q.queued_at, q.id),
    )[:QUEUE_SHOWN]
    agents = {q.agent_id for q in ordered}
    topics = {q.topic_id for q in ordered if q.topic_id is not None}
    names = (
        dict(
            (await db.execute(select(User.id, User.display_name).where(User.id.in_(agents)))).all()
        )
        if agents
        else {}
    )
    topic_names = (
        dict((await db.execute(select(Topic.id, Topic.name).where(Topic.id.in_(topics)))).all())
        if topics
        else {}
    )

    def routing(cid: int) -> Literal["waiting", "in_flight", "parked", "missing"]:
        if cid in position:
            return "waiting"
        if cid in snap.inflight:
            return "in_flight"
        return "parked" if cid in snap.parked else "missing"

    return [
        QueuedRequest(
            conversation_id=q.id,
            agent_id=q.agent_id,
            agent_name=names.get(q.agent_id, ""),
            topic_id=q.topic_id,
            topic_name=topic_names.get(q.topic_id) if q.topic_id is not None else None,
            created_at=q.created_at,
            queued_at=q.queued_at,
            wait_seconds=max((now - q.queued_at).total_seconds(), 0.0),
            position=position.get(q.id),
            routing=routing(q.id),
        )
        for q in ordered
    ]


# Leaders.


async def _leaders(
    db: AsyncSession, now: datetime, *, details: bool = True
) -> list[LeaderOverview]:
    """Every active leader, and those still online or away after a deactivation."""
    found = list(
        await db.scalars(
            select(User)
            .where(
                User.role == Role.TEAMLEADER,
                User.is_active | (User.presence != "offline"),
            )
            .order_by(User.display_name, User.id)
        )
    )
    ids = [u.id for u in found]
    held = (
        dict(
            (
                await db.execute(
                    select(Conversation.assignee_id, func.count())
                    .where(
                        Conversation.assignee_id.in_(ids), Conversation.status == Status.ASSIGNED
                    )
                    .group_by(Conversation.assignee_id)
                )
            ).all()
        )
        if ids
        else {}
    )
    since: dict[int, datetime] = {}
    last: dict[int, datetime] = {}
    baskets: dict[int, list[HeldConversation]] = {}
    if details and ids:
        baskets = await _baskets(db, ids)
        since = dict(
            (
                await db.execute(
                    select(PresenceChange.user_id, func.max(PresenceChange.created_at))
                    .where(PresenceChange.user_id.in_(ids))
                    .group_by(PresenceChange.user_id)
                )
            ).all()
        )
        last = {
            int(leader_id): at
            for leader_id, at in (
                await db.execute(
                    select(ConversationEvent.to_leader_id, func.max(ConversationEvent.created_at))
                    .where(
                        ConversationEvent.type.in_(("assigned", "transferred")),
                        ConversationEvent.created_at >= now - LAST_ASSIGNED_WITHIN,
                        ConversationEvent.to_leader_id.in_(ids),
                    )
                    .group_by(ConversationEvent.to_leader_id)
                )
            ).all()
            if leader_id is not None
        }
    return [
        LeaderOverview(
            id=u.id,
            display_name=u.display_name,
            status=u.presence,
            status_since=_aware(since[u.id]) if u.id in since else None,
            capacity=u.capacity,
            held=held.get(u.id, 0),
            free=max(u.capacity - held.get(u.id, 0), 0),
            last_assigned_at=_aware(last[u.id]) if u.id in last else None,
            disconnected_since=None,
            conversations=baskets.get(u.id, []),
        )
        for u in found
    ]


async def _baskets(db: AsyncSession, ids: list[int]) -> dict[int, list[HeldConversation]]:
    """What each leader holds, oldest assignment first, so a supervisor can take it back."""
    rows = await db.execute(
        select(
            Conversation.assignee_id,
            Conversation.id,
            User.display_name,
            Topic.name,
            Conversation.assigned_at,
        )
        .join(User, User.id == Conversation.agent_id)
        .outerjoin(Topic, Topic.id == Conversation.topic_id)
        .where(Conversation.assignee_id.in_(ids), Conversation.status == Status.ASSIGNED)
        .order_by(Conversation.assigned_at, Conversation.id)
    )
    baskets: dict[int, list[HeldConversation]] = {}
    for leader_id, cid, agent, topic, at in rows:
        if leader_id is None:  # the filter excludes it; the column type does not know
            continue
        held = HeldConversation(
            conversation_id=cid,
            agent_name=agent,
            topic_name=topic,
            assigned_at=at,
        )
        baskets.setdefault(leader_id, []).append(held)
    return baskets


async def _disconnected(res: Resources) -> dict[int, datetime]:
    entries: list[Any] = await res.redis.zrange(res.keys.disconnected, 0, -1, withscores=True)
    return {int(m): datetime.fromtimestamp(score / 1000, UTC) for m, score in entries}


def _totals(leaders: Sequence[LeaderOverview], agents_online: int) -> MonitoringTotals:
    online = [leader for leader in leaders if leader.status == "online"]
    return MonitoringTotals(
        agents_online=agents_online,
        leaders_online=len(online),
        leaders_away=sum(1 for leader in leaders if leader.status == "away"),
        free_slots=sum(leader.free for leader in online),
    )


# Assignments over windows.


@dataclass
class _Assigned:
    at: datetime
    created_at: datetime
    first: bool  # the conversation's first assignment

    @property
    def latency(self) -> float:
        return (self.at - self.created_at).total_seconds()


async def _assigned_since(db: AsyncSession, since: datetime) -> list[_Assigned]:
    earlier = aliased(ConversationEvent)
    first = ~exists().where(
        and_(
            earlier.conversation_id == ConversationEvent.conversation_id,
            earlier.type == "assigned",
            earlier.id < ConversationEvent.id,
        )
    )
    rows = await db.execute(
        select(ConversationEvent.created_at, Conversation.created_at, first)
        .join(Conversation, Conversation.id == ConversationEvent.conversation_id)
        .where(ConversationEvent.type == "assigned", ConversationEvent.created_at >= since)
    )
    return [_Assigned(_aware(at), _aware(created), bool(f)) for at, created, f in rows]


async def _failed_since(db: AsyncSession, since: datetime) -> list[datetime]:
    rows = await db.scalars(
        select(ConversationEvent.created_at).where(
            ConversationEvent.type == "assignment_failed", ConversationEvent.created_at >= since
        )
    )
    return [_aware(at) for at in rows]


def _assignment_window(
    name: Literal["15m", "4h", "8h"],
    seconds: int,
    now: datetime,
    assigned: Sequence[_Assigned],
    failed: Sequence[datetime],
) -> AssignmentWindow:
    since = now - timedelta(seconds=seconds)
    inside = [a for a in assigned if a.at >= since]
    n_failed = sum(1 for at in failed if at >= since)
    latencies = sorted(a.latency for a in inside if a.first)
    attempts = len(inside) + n_failed
    return AssignmentWindow(
        window=name,
        seconds=seconds,
        assigned=len(inside),
        failed=n_failed,
        success_rate=len(inside) / attempts if attempts else None,
        latency_avg_seconds=sum(latencies) / len(latencies) if latencies else None,
        latency_p50_seconds=percentile(latencies, 0.5),
        latency_p90_seconds=percentile(latencies, 0.9),
    )


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Linear between the closest ranks (as PostgreSQL's percentile_cont); `ordered` sorted."""
    if not ordered:
        return None
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# Service level.


@dataclass
class _Request:
    created_at: datetime
    first_assigned_at: datetime | None


async def _requests_since(db: AsyncSession, since: datetime) -> list[_Request]:
    first = (
        select(func.min(ConversationEvent.created_at))
        .where(
            ConversationEvent.conversation_id == Conversation.id,
            ConversationEvent.type == "assigned",
        )
        .scalar_subquery()
    )
    rows = await db.execute(
        select(Conversation.created_at, first).where(Conversation.created_at >= since)
    )
    return [_Request(_aware(c), _aware(f) if f else None) for c, f in rows]


def _service_level(
    name: Literal["15m", "4h", "today"],
    since: datetime,
    now: datetime,
    requests: Sequence[_Request],
    res: Resources,
) -> ServiceLevelWindow:
    inside = [r for r in requests if r.created_at >= since]
    splits = []
    for threshold in res.settings.service_level_seconds:
        within = total = 0
        for r in inside:
            if r.first_assigned_at is not None:
                total += 1
                within += (r.first_assigned_at - r.created_at).total_seconds() <= threshold
            elif (now - r.created_at).total_seconds() > threshold:
                total += 1  # still waiting, or withdrawn, past the threshold: missed
        splits.append(
            ServiceLevelSplit(
                threshold_seconds=threshold,
                within=within,
                total=total,
                share=within / total if total else None,
            )
        )
    return ServiceLevelWindow(window=name, since=since, splits=splits)


def _day_start(now: datetime, tz: ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    midnight = datetime(local.year, local.month, local.day, tzinfo=tz)
    return midnight.astimezone(UTC)


# Warnings, real time, workers, the last hour.


def _warnings(
    queue: QueueOverview, totals: MonitoringTotals, threshold: float
) -> list[MonitoringWarning]:
    found = []
    if queue.length and queue.oldest_wait_seconds > threshold:
        oldest = max(queue.requests, key=lambda q: q.wait_seconds, default=None)
        found.append(
            MonitoringWarning(
                code="long_wait",
                message=f"A request has waited over {threshold:g} s.",
                conversation_id=oldest.conversation_id if oldest else None,
                wait_seconds=queue.oldest_wait_seconds,
            )
        )
    if queue.length and totals.leaders_online == 0:
        found.append(
            MonitoringWarning(
                code="no_leader_online",
                message=f"{queue.length} waiting and no team leader online.",
            )
        )
    return found


async def realtime(res: Resources, *, details: bool = True) -> RealtimeOverview:
    """Sockets and rooms as the live servers report them (entries of dead ones ignored)."""
    k = res.keys
    async with res.redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(k.server_sockets)
        pipe.hgetall(k.server_rooms)
        pipe.hgetall(k.events_emitted)
        sockets, rooms, emitted = await pipe.execute()
    hosts = sorted(set(sockets) | set(rooms))
    alive: set[str] = set()
    if hosts:
        async with res.redis.pipeline(transaction=False) as pipe:
            for host in hosts:
                pipe.exists(k.server(host))
            alive = {h for h, n in zip(hosts, await pipe.execute(), strict=True) if n}
    by_kind: dict[str, RoomCount] = {}
    if details:
        for host in alive & set(rooms):
            for kind, count in json.loads(rooms[host]).items():
                entry = by_kind.setdefault(kind, RoomCount(rooms=0, members=0))
                entry.rooms += int(count["rooms"])
                entry.members += int(count["members"])
    return RealtimeOverview(
        servers=len(alive),
        socket_connections=sum(max(int(sockets[h]), 0) for h in alive if h in sockets),
        events_emitted={name: int(n) for name, n in sorted(emitted.items())},
        rooms=dict(sorted(by_kind.items())),
    )


async def workers(res: Resources, now: datetime) -> list[WorkerHealth]:
    found = []
    keys = [key async for key in res.redis.scan_iter(match=res.keys.worker_stats("*"), count=100)]
    values: list[Any] = await res.redis.mget(keys) if keys else []
    for raw in values:
        if not raw:
            continue  # expired between the scan and the read
        s = json.loads(raw)
        beat = s.get("heartbeat_at")
        last = s.get("last_processed")
        found.append(
            WorkerHealth(
                worker_id=s["worker_id"],
                heartbeat_age_seconds=max(now.timestamp() - beat, 0.0) if beat else None,
                processed=s["processed"],
                errors=s["errors"],
                parked=s["parked"],
                poll_interval_seconds=s["interval"],
                last_processed_at=datetime.fromtimestamp(last, UTC) if last else None,
                started_at=datetime.fromtimestamp(s["started"], UTC),
                uptime_seconds=s.get("uptime", 0.0),
            )
        )
    return sorted(found, key=lambda w: w.worker_id)


def _series(
    start: datetime, assigned: Sequence[_Assigned], requests: Sequence[_Request]
) -> list[SeriesPoint]:
    created = [0] * SERIES_MINUTES
    done = [0] * SERIES_MINUTES
    waits: list[list[float]] = [[] for _ in range(SERIES_MINUTES)]

    def slot(at: datetime) -> int | None:
        i = int((at - start).total_seconds() // 60)
        return i if 0 <= i < SERIES_MINUTES else None

    for r in requests:
        if (i := slot(r.created_at)) is not None:
            created[i] += 1
    for a in assigned:
        if (i := slot(a.at)) is not None:
            done[i] += 1
            if a.first:
                waits[i].append(a.latency)
    return [
        SeriesPoint(
            minute=start + timedelta(minutes=i),
            created=created[i],
            assigned=done[i],
            avg_wait_seconds=sum(waits[i]) / len(waits[i]) if waits[i] else None,
        )
        for i in range(SERIES_MINUTES)
    ]


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _aware(at: datetime) -> datetime:
    """Aggregates (min, max) skip the column type: SQLite hands them back naive or as text."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
