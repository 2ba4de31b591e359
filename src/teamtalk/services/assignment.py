"""The database half of an assignment: commit what the assign script decided, or say why not."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.models import (
    Conversation,
    ConversationParticipant,
    Presence,
    Role,
    Status,
    User,
    utcnow,
)
from teamtalk.routing.engine import Assignment, Outcome
from teamtalk.services.history import record


class LeaseExpired(Exception):
    """The batch took so long that its in-flight records may already be swept."""


@dataclass
class Committed:
    assignment: Assignment
    conversation: Conversation


async def commit_assignments(
    db: AsyncSession, assignments: Sequence[Assignment], *, deadline: float
) -> tuple[list[Committed], dict[Assignment, Outcome]]:
    """One transaction for the batch. Each conversation is assigned only if it is still
    queued and its leader is still online in the database (the leader rows are locked, so a
    concurrent "go offline" waits for us or we see it)."""
    outcomes: dict[Assignment, Outcome] = {}
    committed: list[Committed] = []
    leader_ids = sorted({a.leader_id for a in assignments})
    leaders = {
        u.id: u
        for u in await db.scalars(
            select(User).where(User.id.in_(leader_ids)).order_by(User.id).with_for_update()
        )
    }
    now = utcnow()
    for a in assignments:
        leader = leaders.get(a.leader_id)
        if (
            leader is None
            or not leader.is_active
            or leader.role != Role.TEAMLEADER
            or leader.presence != Presence.ONLINE
        ):
            outcomes[a] = Outcome.REQUEUE
            continue
        changed = await db.execute(
            update(Conversation)
            .where(Conversation.id == a.conversation_id, Conversation.status == Status.QUEUED)
            .values(
                status=Status.ASSIGNED, assignee_id=a.leader_id, assigned_at=now, updated_at=now
            )
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            current = await db.get(Conversation, a.conversation_id, populate_existing=True)
            held = (
                current is not None
                and current.status == Status.ASSIGNED
                and current.assignee_id == a.leader_id
            )
            # Already this leader's (a duplicate queue entry): keep it in the basket.
            outcomes[a] = Outcome.COMMITTED if held else Outcome.DROP
            continue
        conversation = await db.get_one(Conversation, a.conversation_id, populate_existing=True)
        if await db.get(ConversationParticipant, (a.conversation_id, a.leader_id)) is None:
            db.add(
                ConversationParticipant(
                    conversation_id=a.conversation_id, user_id=a.leader_id, first_assigned_at=now
                )
            )
        await record(
            db,
            conversation,
            "assigned",
            now,
            to_leader_id=a.leader_id,
            text=f"Assigned to {leader.display_name}.",
        )
        committed.append(Committed(a, conversation))
        outcomes[a] = Outcome.COMMITTED
    if time.monotonic() > deadline:
        await db.rollback()
        raise LeaseExpired()
    await db.commit()
    return committed, outcomes
