"""The database half of an assignment: commit what the assign script decided, or say why not.

A batch costs a fixed handful of statements whatever its size: one UPDATE ... RETURNING
for the conversations (which also takes each one's next message number), then one
multi-row INSERT each for participants, events and system messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.models import (
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    Message,
    MessageKind,
    Presence,
    Role,
    Status,
    User,
    utcnow,
)
from teamtalk.realtime import Realtime
from teamtalk.routing.engine import Assignment, Outcome
from teamtalk.services.announce import Change, Staged, stage


class LeaseExpired(Exception):
    """The batch's claim ran out before its commit: its in-flight records may already be
    settled by another worker."""


async def commit_assignments(
    db: AsyncSession,
    assignments: Sequence[Assignment],
    *,
    deadline: Callable[[], float],
    realtime: Realtime | None = None,
) -> tuple[Staged, dict[Assignment, Outcome]]:
    """One transaction for the batch. Each conversation is assigned only if it is still
    queued and its leader is still online in the database with room in their basket (the
    leader rows are locked, so a concurrent "go offline" or another worker's batch for the
    same leader waits for us or we see it: the count is exact even when Redis is wrong, as
    after a worker paused past its claim). The events (each assignment's "Assigned to ..."
    system message among them) go to the outbox in the same transaction, for `deliver`
    once Redis is settled.

    `deadline()` says (in time.monotonic()) until when the worker's claim on the batch
    holds; it is asked right before the commit, as the worker's liveness refreshes move it
    on. Past it, everything is rolled back (LeaseExpired)."""
    outcomes: dict[Assignment, Outcome] = {}
    leader_ids = sorted({a.leader_id for a in assignments})
    leaders = {
        u.id: u
        for u in await db.scalars(
            select(User).where(User.id.in_(leader_ids)).order_by(User.id).with_for_update()
        )
    }
    room = await free_slots(db, leaders)
    wanted, full, unavailable = {}, [], []
    for a in assignments:
        leader = leaders.get(a.leader_id)
        eligible = (
            leader is not None
            and leader.is_active
            and leader.role == Role.TEAMLEADER
            and leader.presence == Presence.ONLINE
        )
        if eligible and room[a.leader_id] > 0:
            room[a.leader_id] -= 1
            wanted[a.conversation_id] = a
        elif eligible:
            full.append(a)
        else:
            outcomes[a] = Outcome.REQUEUE
            unavailable.append(a)
    await record_failures(db, unavailable, "leader_unavailable")
    changes: list[Change] = []
    if wanted:
        now = utcnow()
        changed = await db.scalars(
            update(Conversation)
            .where(Conversation.id.in_(wanted), Conversation.status == Status.QUEUED)
            .values(
                status=Status.ASSIGNED,
                assignee_id=case(
                    {cid: a.leader_id for cid, a in wanted.items()}, value=Conversation.id
                ),
                assigned_at=now,
                updated_at=now,
                last_seq=Conversation.last_seq + 1,  # the system message's number
            )
            .returning(Conversation)
            .execution_options(populate_existing=True)
        )
        assigned = [(c, wanted[c.id]) for c in changed]
        said = await _record(db, assigned, leaders, now)
        for c, a in assigned:
            changes.append(Change(c, [said[c.id]], assigned_to=a.leader_id))
            outcomes[a] = Outcome.COMMITTED
        missed = [a for cid, a in wanted.items() if a not in outcomes]
        outcomes.update(await _already_held(db, missed))
    outcomes.update(await _already_held(db, full, queued=Outcome.RETRY))
    staged = await stage(db, realtime, changes)
    if time.monotonic() > deadline():
        await db.rollback()
        raise LeaseExpired()
    await db.commit()
    return staged, outcomes


async def record_failures(db: AsyncSession, failed: Sequence[Assignment], reason: str) -> None:
    """A failed attempt is a fact of the database too, so a rebuild after a Redis loss
    still serves the conversation first, counts its attempts and parks it as Redis did."""
    if failed:
        await db.execute(
            insert(ConversationEvent),
            [
                {
                    "conversation_id": a.conversation_id,
                    "type": "assignment_failed",
                    "to_leader_id": a.leader_id,
                    "reason": reason,
                }
                for a in failed
            ],
        )


async def _record(
    db: AsyncSession,
    assigned: list[tuple[Conversation, Assignment]],
    leaders: dict[int, User],
    now: datetime,
) -> dict[int, Message]:
    """The participants, events and "Assigned to ..." system messages; returns each
    conversation's message."""
    if not assigned:
        return {}
    participants = [
        {"conversation_id": c.id, "user_id": a.leader_id, "first_assigned_at": now}
        for c, a in assigned
    ]
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    await db.execute(dialect.insert(ConversationParticipant).on_conflict_do_nothing(), participants)
    await db.execute(
        insert(ConversationEvent),
        [
            {
                "conversation_id": c.id,
                "type": "assigned",
                "to_leader_id": a.leader_id,
                "created_at": now,
            }
            for c, a in assigned
        ],
    )
    stored = await db.scalars(
        insert(Message).returning(Message),
        [
            {
                "conversation_id": c.id,
                "seq": c.last_seq,
                "kind": MessageKind.SYSTEM,
                "created_at": now,
                "body": f"Assigned to {leaders[a.leader_id].display_name}.",
            }
            for c, a in assigned
        ],
    )
    return {m.conversation_id: m for m in stored}


async def free_slots(db: AsyncSession, leaders: dict[int, User]) -> dict[int, int]:
    """Free slots per leader, as the database counts them (exact when their rows are
    locked: every change to a basket locks its leader's row first)."""
    held = await db.execute(
        select(Conversation.assignee_id, func.count())
        .where(Conversation.assignee_id.in_(list(leaders)), Conversation.status == Status.ASSIGNED)
        .group_by(Conversation.assignee_id)
    )
    counts = {leader_id: n for leader_id, n in held}
    return {lid: leader.capacity - counts.get(lid, 0) for lid, leader in leaders.items()}


async def _already_held(
    db: AsyncSession, missed: list[Assignment], *, queued: Outcome = Outcome.DROP
) -> dict[Assignment, Outcome]:
    """Not assigned by this batch: already this leader's (a duplicate queue entry: keep it
    in the basket), else `queued` when still queued (given no room: not the conversation's
    fault, and Redis is mended by drift repair), else withdrawn or gone: drop it."""
    if not missed:
        return {}
    rows = await db.execute(
        select(Conversation.id, Conversation.status, Conversation.assignee_id).where(
            Conversation.id.in_([a.conversation_id for a in missed])
        )
    )
    state = {cid: (status, assignee) for cid, status, assignee in rows}
    outcomes = {}
    for a in missed:
        status, assignee = state.get(a.conversation_id, (None, None))
        if status == Status.ASSIGNED and assignee == a.leader_id:
            outcomes[a] = Outcome.COMMITTED
        elif status == Status.QUEUED:
            outcomes[a] = queued
        else:
            outcomes[a] = Outcome.DROP
    return outcomes
