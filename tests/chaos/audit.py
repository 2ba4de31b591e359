"""After the traffic and the drain: what the database, Redis and the clients say, checked
against what the system promises. Each broken promise is a line saying what differs."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from teamtalk import db
from teamtalk.models import Conversation, ConversationEvent, Message, MessageKind, Status
from teamtalk.routing.keys import Keys
from teamtalk.settings import normalize_database_url
from tests.chaos.people import Ledger

# The answers an outage may give: the product says so, and nothing happened.
OUTAGE_CODES = frozenset({"database_unavailable", "redis_unavailable", "busy", "unavailable"})
MAX_LISTED = 8  # differences printed per promise


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def broken(self, promise: str, items: list[Any]) -> None:
        if items:
            shown = "; ".join(str(i) for i in items[:MAX_LISTED])
            more = f" (and {len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
            self.problems.append(f"{promise}: {len(items)}: {shown}{more}")


@dataclass
class State:
    """The database's view, read once."""

    conversations: dict[int, Conversation]
    markers: dict[str, list[int]]  # first message body -> conversation ids
    events: list[ConversationEvent]

    def baskets(self) -> dict[int, set[int]]:
        held: dict[int, set[int]] = defaultdict(set)
        for c in self.conversations.values():
            if c.status == Status.ASSIGNED and c.assignee_id is not None:
                held[c.assignee_id].add(c.id)
        return held


def engine_for(database_url: str) -> AsyncEngine:
    return db.create_engine(normalize_database_url(database_url))


async def read_state(engine: AsyncEngine) -> State:
    async with db.sessionmaker(engine)() as session:
        conversations = {c.id: c for c in await session.scalars(select(Conversation))}
        rows = await session.execute(
            select(Message.conversation_id, Message.body).where(
                Message.kind == MessageKind.USER, Message.body.like("chaos %")
            )
        )
        markers: dict[str, list[int]] = defaultdict(list)
        for conversation_id, body in rows:
            markers[body].append(conversation_id)
        events = list(
            await session.scalars(select(ConversationEvent).order_by(ConversationEvent.id))
        )
        return State(conversations, dict(markers), events)


async def baskets_now(engine: AsyncEngine) -> dict[int, set[int]]:
    """Each leader's basket in the database (assigned conversations by assignee)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(Conversation.assignee_id, Conversation.id).where(
                Conversation.status == Status.ASSIGNED
            )
        )
        held: dict[int, set[int]] = defaultdict(set)
        for leader_id, conversation_id in rows:
            if leader_id is not None:
                held[leader_id].add(conversation_id)
        return held


async def busy(engine: AsyncEngine) -> int:
    """Conversations still queued or assigned."""
    async with engine.connect() as conn:
        query = select(func.count()).where(
            Conversation.status.in_([Status.QUEUED, Status.ASSIGNED])
        )
        return int(await conn.scalar(query) or 0)


async def assigned_since(engine: AsyncEngine, since: datetime) -> bool:
    """Some conversation was assigned after `since`: routing goes on."""
    async with engine.connect() as conn:
        query = select(ConversationEvent.id).where(
            ConversationEvent.type == "assigned", ConversationEvent.created_at > since
        )
        return await conn.scalar(query.limit(1)) is not None


def trail(state: State, conversation_id: int) -> str:
    """A conversation's events, in order: type, then the leader (from>to) where one is."""
    steps = []
    for e in state.events:
        if e.conversation_id == conversation_id:
            who = "" if e.from_leader_id is None else str(e.from_leader_id)
            who += "" if e.to_leader_id is None else f">{e.to_leader_id}"
            steps.append(
                f"{e.type}{'(' + who + ')' if who else ''}@{e.created_at:%H:%M:%S.%f}"[:-3]
            )
    return f"{conversation_id}: " + " ".join(steps)


def trails(f: Findings, state: State, ids: set[int]) -> None:
    if ids:
        shown = sorted(ids)[:MAX_LISTED]
        f.figures["trails"] = [trail(state, c) for c in shown]


def basket_differences(clients: dict[int, set[int]], database: dict[int, set[int]]) -> list[str]:
    out = []
    for leader_id in sorted(set(clients) | set(database)):
        shown, held = clients.get(leader_id, set()), database.get(leader_id, set())
        if shown != held:
            out.append(
                f"leader {leader_id} shows {sorted(shown - held)} not held"
                f" and misses {sorted(held - shown)}"
            )
    return out


def audit_creates(f: Findings, ledger: Ledger, state: State) -> None:
    creates = [op for op in ledger.operations if op.kind == "create"]
    twice, missing, lied = [], [], []
    for op in creates:
        found = state.markers.get(op.key, [])
        if len(found) > 1:
            twice.append(f"{op.key[6:18]} as {found}")
        if op.succeeded and not found:
            missing.append(f"{op.key[6:18]} answered {[a.status for a in op.attempts]}")
        if found and not op.succeeded and not op.unanswered:
            lied.append(f"{op.key[6:18]} (conversation {found[0]}) answered {answers(op)}")
    f.broken("a request created more than once", twice)
    f.broken("a request acknowledged but not in the database", missing)
    f.broken("a request committed but answered with an error", lied)
    ours = {cid for ids in state.markers.values() for cid in ids}
    f.figures["creates"] = {
        "attempted": len(creates),
        "acknowledged": sum(op.succeeded for op in creates),
        "committed": len(ours),
        "retried": sum(len(op.attempts) > 1 for op in creates),
        "unanswered": sum(op.unanswered and not op.succeeded for op in creates),
    }


def audit_submits(f: Findings, ledger: Ledger, state: State) -> None:
    solved = {(e.conversation_id, e.actor_id) for e in state.events if e.type == "solved"}
    submits = [op for op in ledger.operations if op.kind == "submit" and op.attempts]
    lied, missing = [], []
    for op in submits:
        done = (op.conversation_id, op.leader_id) in solved
        if done and not op.succeeded and not op.unanswered:
            lied.append(f"conversation {op.conversation_id} answered {answers(op)}")
        if op.succeeded and not done:
            missing.append(f"conversation {op.conversation_id} by leader {op.leader_id}")
    f.broken("a submit committed but answered with an error", lied)
    f.broken("a submit acknowledged but not in the database", missing)
    f.figures["submits"] = {
        "attempted": len(submits),
        "acknowledged": sum(op.succeeded for op in submits),
        "retried": sum(len(op.attempts) > 1 for op in submits),
    }


def audit_answers(f: Findings, ledger: Ledger) -> None:
    every = ledger.answers()
    by_answer = Counter(
        f"{a.status} {a.code}" if a.code else str(a.status if a.status else a.error) for a in every
    )
    f.figures["answers"] = dict(by_answer.most_common())
    crashes = [
        f"{a.status} {a.code} from {a.server}: {a.detail[:80]}"
        for a in every
        if a.status and a.status >= 500 and a.code not in OUTAGE_CODES
    ]
    f.broken("an answer of 500 (or a 5xx without an outage code)", crashes)


def audit_assignments(f: Findings, state: State, capacity: int) -> None:
    """Replay the events in order: one holder at a time, never over capacity."""
    holder: dict[int, int] = {}
    load: Counter[int] = Counter()
    twice, over = [], []
    evidence: dict[int, set[int]] = {}  # the first time each leader was over: what they held
    peak = 0
    for e in state.events:
        c = e.conversation_id
        if e.type == "assigned" and e.to_leader_id is not None:
            if c in holder:
                twice.append(f"conversation {c} to {e.to_leader_id} while {holder[c]} held it")
                load[holder[c]] -= 1
            holder[c] = e.to_leader_id
            load[e.to_leader_id] += 1
        elif e.type == "transferred" and c in holder:
            load[holder.pop(c)] -= 1
            if e.to_leader_id is not None:
                holder[c] = e.to_leader_id
                load[e.to_leader_id] += 1
        elif c in holder and e.type not in ("created", "message"):
            load[holder.pop(c)] -= 1
        else:
            continue
        peak = max(peak, max(load.values(), default=0))
        for leader_id, n in load.items():
            if n > capacity:
                over.append(f"leader {leader_id} held {n} at event {e.id}")
                if leader_id not in evidence:
                    evidence[leader_id] = {cid for cid, who in holder.items() if who == leader_id}
    f.broken("a conversation held by two leaders at once", twice)
    f.broken(f"a basket over capacity ({capacity})", over)
    if evidence:
        f.figures["over_capacity_trails"] = [
            trail(state, cid) for held in evidence.values() for cid in sorted(held)
        ][: 2 * MAX_LISTED]
    f.figures["assignments"] = sum(e.type == "assigned" for e in state.events)
    f.figures["peak_basket"] = peak


def audit_end(
    f: Findings,
    state: State,
    clients: dict[int, set[int]],
    redis_view: dict[str, Any],
) -> None:
    """Nothing stranded: every basket as the database says, nothing left queued."""
    f.broken(
        "a leader's client disagrees with the database at the end",
        basket_differences(clients, state.baskets()),
    )
    left = Counter(c.status for c in state.conversations.values())
    waiting = [
        f"{c.id} {c.status}"
        for c in state.conversations.values()
        if c.status in (Status.QUEUED, Status.ASSIGNED)
    ]
    f.broken("a conversation not drained (still queued or assigned)", waiting)
    f.figures["end_states"] = dict(left)
    odd = {
        c.id for c in state.conversations.values() if c.status in (Status.QUEUED, Status.ASSIGNED)
    }
    for leader_id, shown in clients.items():
        odd |= shown ^ state.baskets().get(leader_id, set())
    trails(f, state, odd)
    for name, value in redis_view.items():
        if value:
            f.problems.append(f"Redis routing state left at the end: {name}: {value}")


async def read_redis(url: str, keys: Keys) -> dict[str, Any]:
    redis = Redis.from_url(url, decode_responses=True, socket_timeout=5)
    try:
        return {
            "queue": await redis.lrange(keys.queue, 0, -1),
            "returned": await redis.lrange(keys.returned, 0, -1),
            "inflight": await redis.hgetall(keys.inflight),
        }
    except Exception as exc:
        return {"unreachable": f"{type(exc).__name__}: {exc}"}
    finally:
        await redis.aclose()


def delays(state: State, ledger: Ledger, first_seen: dict[int, float]) -> dict[str, Any]:
    """Created -> assigned (database times), and created -> on a leader's screen."""
    assigned_at: dict[int, datetime] = {}
    for e in state.events:
        if e.type == "assigned":
            assigned_at.setdefault(e.conversation_id, e.created_at)
    to_assign = [
        (assigned_at[c.id] - c.created_at).total_seconds()
        for c in state.conversations.values()
        if c.id in assigned_at
    ]
    started = {
        op.key: op.attempts[0].started
        for op in ledger.operations
        if op.kind == "create" and op.attempts
    }
    to_screen = []
    for marker, ids in state.markers.items():
        if marker in started and ids and ids[0] in first_seen:
            to_screen.append(first_seen[ids[0]] - started[marker])
    return {
        "created_to_assigned_s": summary(to_assign),
        "created_to_leader_screen_s": summary(to_screen),
    }


def summary(values: list[float]) -> dict[str, float]:
    s = sorted(values)
    if not s:
        return {"n": 0}

    def q(p: float) -> float:
        return round(s[min(len(s) - 1, math.ceil(p * len(s)) - 1)], 3)

    return {"n": len(s), "p50": q(0.5), "p99": q(0.99), "max": round(s[-1], 3)}


def answers(op: Any) -> list[str]:
    return [f"{a.status} {a.code}" if a.status else str(a.error) for a in op.attempts]


def claim_delays(state: State, claims: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """For each claim seen, seconds until the conversation was next assigned in the
    database (math.inf: never)."""
    assigned: dict[int, list[float]] = defaultdict(list)
    for e in state.events:
        if e.type == "assigned":
            assigned[e.conversation_id].append(e.created_at.timestamp())
    out = []
    for conversation, claimed in claims:
        later = [t for t in assigned.get(conversation, []) if t >= claimed - 0.05]
        out.append((conversation, round(min(later) - claimed, 3) if later else math.inf))
    return out


def audit_claims(
    f: Findings, state: State, claims: list[tuple[int, float]], promise: float
) -> None:
    """Every claim seen was committed within `promise` s (another worker was alive)."""
    delays = claim_delays(state, claims)
    slow = sorted(((d, c) for c, d in delays if d > promise), reverse=True)
    f.figures["claims_seen"] = len(delays)
    f.figures["claim_to_assigned_s"] = summary([d for _, d in delays if d != math.inf])
    f.figures["claims_over_1s"] = sum(1 for _, d in delays if d > 1)
    f.figures["claims_never_assigned"] = sum(d == math.inf for _, d in delays)
    f.broken(
        f"a claim committed later than {promise:g} s while another worker lived",
        [f"conversation {c} after {d} s" for d, c in slow],
    )
    if slow:
        f.figures["slow_claim_trails"] = [trail(state, c) for _, c in slow[:MAX_LISTED]]
