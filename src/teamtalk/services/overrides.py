"""Supervisor overrides: move a queued request to the front, assign it to a named leader,
take a conversation from its leader, set a stuck leader away or offline.

Each holds with routing as the worker's own steps do: the Redis step (one script that
checks and changes) runs inside the database transaction, after the rows it depends on
are locked, and is undone if the commit fails. A refusal changes nothing, in either store.
Each is an event row with the admin as actor (and a system message in the chat), and a
request sent again after its answer was lost answers the conversation as it stands.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import Conflict, NotFound
from teamtalk.models import (
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    Presence,
    PresenceCause,
    Role,
    Status,
    User,
    utcnow,
)
from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.routing.engine import Assignment, Outcome
from teamtalk.schemas import ConversationOut
from teamtalk.services import presence, queue_places
from teamtalk.services.access import Actor, get_conversation
from teamtalk.services.announce import Change, after_commit, announce
from teamtalk.services.assignment import free_slots
from teamtalk.services.audit import record
from teamtalk.services.lifecycle import back_to_queue, done_before, hand_over, locked_taker
from teamtalk.services.presenters import conversation_out
from teamtalk.services.reconcile import MOVED_TO_FRONT

PLACES = ("new", "returned")  # what assign_to answers when it took the conversation


def _not_queued() -> Conflict:
    return Conflict(
        "This request is not waiting in the queue: it is being assigned, set aside after "
        "failed attempts, or no longer queued.",
        code="conversation_not_queued",
    )


async def _leader(db: AsyncSession, leader_id: int) -> User:
    """A team leader, their row locked (before any conversation's, as the worker locks)."""
    leader = await db.get(User, leader_id, with_for_update=True)
    if leader is None or leader.role != Role.TEAMLEADER:
        raise NotFound("No such team leader.", code="leader_not_found")
    return leader


async def _as_it_stands(db: AsyncSession, conversation: Conversation) -> ConversationOut:
    """Nothing changes: the transaction (and SQLite's write lock) ends."""
    await db.rollback()
    await db.refresh(conversation)  # the rollback expired it
    out = await conversation_out(db, conversation)
    await db.commit()
    return out


async def move_to_front(
    db: AsyncSession, res: Resources, realtime: Realtime | None, admin: Actor, conversation_id: int
) -> ConversationOut:
    """Ahead of everything in the queue, returned requests included; of two moved there,
    the later move is served first. The event row is the move's database fact: its id
    orders the moves, so a rebuild after a Redis loss puts them back alike."""
    conversation = await get_conversation(db, conversation_id, lock=True)
    if conversation.status != Status.QUEUED:
        if again := await done_before(db, conversation, admin, MOVED_TO_FRONT):
            return again
        raise _not_queued()
    change = Change(conversation)
    change.add(
        await record(
            db,
            conversation,
            MOVED_TO_FRONT,
            utcnow(),
            actor_id=admin.id,
            text="A supervisor moved this request to the front of the queue.",
        )
    )
    await db.flush()
    number = await db.scalar(
        select(func.max(ConversationEvent.id)).where(
            ConversationEvent.conversation_id == conversation.id,
            ConversationEvent.type == MOVED_TO_FRONT,
        )
    )
    assert number is not None
    place = await res.router.move_to_front(conversation.id, number)
    if place == "first":  # a move already has it there: sent again, or twice
        return await _as_it_stands(db, conversation)
    if not place:
        raise _not_queued()
    try:
        (out,) = await announce(db, realtime, [change])  # commits, or raises before
    except BaseException:
        await res.router.undo_move_to_front(conversation.id, number, place)
        raise
    await queue_places.tell(res, realtime)
    return out


async def assign(
    db: AsyncSession,
    res: Resources,
    realtime: Realtime | None,
    admin: Actor,
    conversation_id: int,
    *,
    leader_id: int,
) -> ConversationOut:
    """A queued request to a named leader, online with a free slot, as the worker assigns:
    the leader's row locked and their slots counted in the database, the slot checked and
    taken in one Redis step (the request still waiting, not in flight or set aside)."""
    leader = await _leader(db, leader_id)
    conversation = await get_conversation(db, conversation_id, lock=True)
    if conversation.status != Status.QUEUED:
        if again := await done_before(db, conversation, admin, "assigned", to_leader_id=leader.id):
            return again
        raise _not_queued()
    if not leader.is_active or leader.presence != Presence.ONLINE:
        raise Conflict(f"{leader.display_name} is not online.", code="leader_unavailable")
    if (await free_slots(db, {leader.id: leader}))[leader.id] <= 0:
        raise Conflict(f"{leader.display_name} has no free slot.", code="leader_full")
    place = await res.router.assign_to(leader.id, conversation.id)
    if place not in PLACES:
        if place == "conversation_not_queued":
            raise _not_queued()
        why = "is not online" if place == "leader_unavailable" else "has no free slot"
        raise Conflict(f"{leader.display_name} {why}.", code=place)
    try:
        now = utcnow()
        conversation.status = Status.ASSIGNED
        conversation.assignee_id = leader.id
        conversation.assigned_at = now
        if await db.get(ConversationParticipant, (conversation.id, leader.id)) is None:
            db.add(
                ConversationParticipant(
                    conversation_id=conversation.id, user_id=leader.id, first_assigned_at=now
                )
            )
        change = Change(conversation, assigned_to=leader.id)
        change.add(
            await record(
                db,
                conversation,
                "assigned",
                now,
                actor_id=admin.id,
                to_leader_id=leader.id,
                text=f"A supervisor assigned this conversation to {leader.display_name}.",
            )
        )
        (out,) = await announce(db, realtime, [change])
    except BaseException:
        await res.router.undo_assign_to(leader.id, conversation.id, place)
        raise
    # Left in flight if this fails: the lease settles it by the database.
    settle = res.router.settle(Assignment(conversation.id, leader.id), Outcome.COMMITTED)
    await after_commit(settle, "settle")
    await queue_places.tell(res, realtime)
    return out


async def take(
    db: AsyncSession,
    res: Resources,
    realtime: Realtime | None,
    admin: Actor,
    conversation_id: int,
    *,
    to_leader_id: int | None,
    reason: str | None = None,
) -> ConversationOut:
    """From its leader back to the head of the queue (anyone else asked first), or to
    another online leader with a free slot: a transfer, with the admin as actor."""
    conversation = await get_conversation(db, conversation_id, lock=True)
    if conversation.status != Status.ASSIGNED or conversation.assignee_id == to_leader_id:
        again = await done_before(db, conversation, admin, "transferred", to_leader_id=to_leader_id)
        if again is not None:
            return again
        if conversation.status == Status.ASSIGNED:
            raise Conflict(
                "That leader already holds this conversation.", code="leader_unavailable"
            )
        raise Conflict(
            "This conversation is not assigned to a team leader.",
            code="conversation_not_assigned",
        )
    giver = await db.get_one(User, conversation.assignee_id)
    if to_leader_id is None:
        text = f"A supervisor took this conversation from {giver.display_name}; back in the queue."
        return await back_to_queue(
            db, res, realtime, conversation, actor_id=admin.id, reason=reason, text=text
        )
    # The conversation's row first, then the taker's, as a leader's own transfer locks.
    taker = await locked_taker(db, to_leader_id)
    return await hand_over(
        db,
        res,
        realtime,
        conversation,
        taker,
        actor_id=admin.id,
        reason=reason,
        text=(
            f"A supervisor transferred this conversation from {giver.display_name} "
            f"to {taker.display_name}."
        ),
        full_code="leader_full",
    )


async def set_leader_status(
    db: AsyncSession,
    res: Resources,
    realtime: Realtime | None,
    admin: Actor,
    leader_id: int,
    status: Presence,
) -> User:
    """A stuck leader set away (keeps the basket, gets nothing new) or offline (the basket
    goes back to the head of the queue). Away is refused for a leader who is offline: a
    supervisor takes work from a leader, never brings one into routing."""
    leader = await _leader(db, leader_id)
    if status == Presence.AWAY and leader.presence == Presence.OFFLINE:
        raise Conflict(f"{leader.display_name} is offline.", code="leader_unavailable")
    await presence.set_status(
        db,
        res,
        realtime,
        leader.id,
        status,
        cause=PresenceCause.ADMIN,
        actor_id=admin.id,
        reason="set offline by a supervisor",
        text=f"A supervisor set {leader.display_name} offline; back in the queue.",
    )
    return leader


async def queue_position(res: Resources, conversation: ConversationOut) -> int | None:
    """Where a queued conversation waits now (None if not queued, or Redis cannot say)."""
    if conversation.status != Status.QUEUED:
        return None
    return await after_commit(res.router.queue_position(conversation.id), "queue_position")
