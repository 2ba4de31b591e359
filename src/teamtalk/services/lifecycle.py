"""Conversation transitions after the assignment: submit as, transfer, withdraw, reopen,
requeue on the agent's reply, close when the reopen window ends.

Each one is an event row and a system message in the same transaction; Redis routing state
changes after the commit (or, for a transfer, inside the transaction, undone if the commit
fails); clients hear about it last, with `announce`. A committed change is never answered
with an error: a Redis step after it that fails is left to drift repair. A request sent
again after its answer was lost answers the conversation as it stands (`done_before`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import Conflict, Forbidden, NotFound
from teamtalk.models import (
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    Presence,
    Role,
    Status,
    User,
    utcnow,
)
from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.schemas import ConversationOut
from teamtalk.services import queue_places
from teamtalk.services.access import Actor, can_read, get_conversation
from teamtalk.services.announce import Change, after_commit, announce
from teamtalk.services.assignment import free_slots
from teamtalk.services.audit import record
from teamtalk.services.conversations import check_topic
from teamtalk.services.message_store import CLOSED_MESSAGE, clean_note
from teamtalk.services.presenters import conversation_out


async def _locked(db: AsyncSession, actor: Actor, conversation_id: int) -> Conversation:
    """The conversation, locked, if the actor may read it."""
    conversation = await get_conversation(db, conversation_id, lock=True)
    if not await can_read(db, actor, conversation):
        raise NotFound("No such conversation.", code="conversation_not_found")
    return conversation


def _holds(actor: Actor, conversation: Conversation) -> bool:
    return conversation.assignee_id == actor.id and conversation.status == Status.ASSIGNED


def _not_assignee() -> Forbidden:
    return Forbidden(
        "Only the team leader holding this conversation can do that.", code="not_assignee"
    )


async def done_before(
    db: AsyncSession, conversation: Conversation, actor: Actor, *types: str, **facts: object
) -> ConversationOut | None:
    """The conversation as it stands, if the last thing a person did to it was this: the
    actor's event of one of these types, with these facts (say `to_leader_id`). The
    worker's assignments and the system's returns and closes are left out: they follow
    from the request, nobody asked for them since. Ends the transaction when it answers."""
    events = ConversationEvent
    query = (
        select(events)
        .where(events.conversation_id == conversation.id, events.actor_id.is_not(None))
        .order_by(events.id.desc())  # written under the row's lock: ids are its order
        .limit(1)
    )
    last = await db.scalar(query)
    if last is None or last.actor_id != actor.id or last.type not in types:
        return None
    if any(getattr(last, name) != value for name, value in facts.items()):
        return None
    out = await conversation_out(db, conversation)
    await db.commit()  # nothing changed; the row lock (SQLite's write lock) goes
    return out


async def _agents_own(db: AsyncSession, actor: Actor, conversation_id: int) -> Conversation:
    conversation = await get_conversation(db, conversation_id, lock=True)
    if conversation.agent_id != actor.id:
        raise NotFound("No such conversation.", code="conversation_not_found")
    return conversation


async def submit_as(
    db: AsyncSession,
    res: Resources,
    realtime: Realtime | None,
    actor: Actor,
    conversation_id: int,
    *,
    status: Status,
    topic_id: int,
    note: str | None = None,
) -> ConversationOut:
    """The assignee marks the conversation solved or pending, with an optional wrap-up note
    (on the event and in the system line); the slot frees at once."""
    note = clean_note(note)
    conversation = await _locked(db, actor, conversation_id)
    if not _holds(actor, conversation):
        asked = conversation.status == status and conversation.topic_id == topic_id
        if asked and (out := await done_before(db, conversation, actor, status.value)):
            return out
        raise _not_assignee()
    await check_topic(db, topic_id)
    now = utcnow()
    conversation.status = status
    conversation.topic_id = topic_id
    if status == Status.SOLVED:
        conversation.resolved_at = now
    label = "solved" if status == Status.SOLVED else "pending"
    text = f"{actor.display_name} marked this conversation as {label}."
    change = Change(conversation, removed_from=actor.id)
    change.add(
        await record(
            db,
            conversation,
            status.value,
            now,
            actor_id=actor.id,
            from_leader_id=actor.id,
            reason=note,
            text=noted(text, "Wrap-up note", note),
        )
    )
    # Tell the leader before the slot frees, so "removed" arrives before the next assignment.
    (out,) = await announce(db, realtime, [change])
    await after_commit(res.router.release(actor.id, conversation.id), "release")
    return out


async def transfer(
    db: AsyncSession,
    res: Resources,
    realtime: Realtime | None,
    actor: Actor,
    conversation_id: int,
    *,
    to_leader_id: int | None,
    reason: str | None = None,
) -> ConversationOut:
    """To another online leader with a free slot, or back to the head of the queue (then
    anyone but this leader is asked first). The reason is in the system line, for both
    sides: the agent learns why, the taker what is needed."""
    reason = clean_note(reason)
    conversation = await _locked(db, actor, conversation_id)
    if not _holds(actor, conversation):
        again = await done_before(db, conversation, actor, "transferred", to_leader_id=to_leader_id)
        if again is not None:
            return again
        raise _not_assignee()
    if to_leader_id is None:
        text = noted(
            f"{actor.display_name} put this conversation back in the queue.", "Reason", reason
        )
        return await back_to_queue(
            db, res, realtime, conversation, actor_id=actor.id, reason=reason, text=text
        )
    if to_leader_id == actor.id:
        raise Conflict("You already hold this conversation.", code="leader_unavailable")
    taker = await locked_taker(db, to_leader_id)
    return await hand_over(
        db,
        res,
        realtime,
        conversation,
        taker,
        actor_id=actor.id,
        reason=reason,
        text=noted(
            f"{actor.display_name} transferred this conversation to {taker.display_name}.",
            "Reason",
            reason,
        ),
        full_code="leader_unavailable",
    )


def noted(text: str, label: str, note: str | None) -> str:
    """A system line with the note its person added, if any."""
    return text if note is None else f"{text} {label}: {note}"


async def locked_taker(db: AsyncSession, leader_id: int) -> User:
    """The leader who is to take a conversation, their row locked, as the worker does
    before filling a basket: the database's count of their slots holds until the commit,
    even when Redis is a slot off. Refused unless they are an online team leader."""
    taker = await db.get(User, leader_id, with_for_update=True)
    if taker is None or taker.role != Role.TEAMLEADER or not taker.is_active:
        raise NotFound("No such team leader.", code="leader_not_found")
    if taker.presence != Presence.ONLINE:
        raise Conflict(f"{taker.display_name} is not online.", code="leader_unavailable")
    return taker


async def hand_over(
    db: AsyncSession,
    res: Resources,
    realtime: Realtime | None,
    conversation: Conversation,
    taker: User,
    *,
    actor_id: int,
    reason: str | None,
    text: str,
    full_code: str,
) -> ConversationOut:
    """An assigned conversation (its row locked) moves to `taker` (from `locked_taker`) if
    they have a free slot; refused with `full_code` otherwise."""
    giver_id = conversation.assignee_id
    assert giver_id is not None
    # The slot is checked and taken atomically in Redis, inside the transaction: if the
    # commit fails the move is undone.
    full = (await free_slots(db, {taker.id: taker}))[taker.id] <= 0
    if full or not await res.router.transfer(giver_id, taker.id, conversation.id):
        raise Conflict(f"{taker.display_name} has no free slot.", code=full_code)
    try:
        now = utcnow()
        conversation.assignee_id = taker.id
        conversation.assigned_at = now
        if await db.get(ConversationParticipant, (conversation.id, taker.id)) is None:
            db.add(
                ConversationParticipant(
                    conversation_id=conversation.id, user_id=taker.id, first_assigned_at=now
                )
            )
        change = Change(conversation, removed_from=giver_id, assigned_to=taker.id, reason=reason)
        change.add(
            await record(
                db,
                conversation,
                "transferred",
                now,
                actor_id=actor_id,
                from_leader_id=giver_id,
                to_leader_id=taker.id,
                reason=reason,
                text=text,
            )
        )
        (out,) = await announce(db, realtime, [change])  # commits, or raises before
    except BaseException:
        await res.router.transfer(taker.id, giver_id, conversation.id, force=True)
        raise
    return out


async def back_to_queue(
    db: AsyncSession,
    res: Resources,
    realtime: Realtime | None,
    conversation: Conversation,
    *,
    actor_id: int,
    reason: str | None,
    text: str,
) -> ConversationOut:
    """An assigned conversation (its row locked) goes back to the head of the queue, where
    anyone but its leader is asked first."""
    leader_id = conversation.assignee_id
    assert leader_id is not None
    change = await unassign(
        db,
        conversation,
        utcnow(),
        "transferred",
        leader_id=leader_id,
        actor_id=actor_id,
        reason=reason,
        text=text,
    )
    (out,) = await announce(db, realtime, [change])
    await after_commit(res.router.release(leader_id, conversation.id), "release")
    enqueue = res.router.enqueue([conversation.id], head=True, avoid=leader_id)
    await after_commit(enqueue, "enqueue")
    await queue_places.tell(res, realtime)
    return out


async def unassign(
    db: AsyncSession,
    conversation: Conversation,
    now: datetime,
    type: str,
    *,
    leader_id: int,
    actor_id: int | None,
    reason: str | None,
    text: str,
) -> Change:
    """An assigned conversation leaves its leader's basket for the queue (transferred back,
    or its leader went offline; `actor_id` None when nobody asked). Does not commit."""
    conversation.status = Status.QUEUED
    conversation.assignee_id = None
    conversation.queued_at = now
    change = Change(conversation, removed_from=leader_id)
    change.add(
        await record(
            db,
            conversation,
            type,
            now,
            actor_id=actor_id,
            from_leader_id=leader_id,
            reason=reason,
            text=text,
        )
    )
    return change


async def withdraw(
    db: AsyncSession, res: Resources, realtime: Realtime | None, actor: Actor, conversation_id: int
) -> ConversationOut:
    """The agent no longer needs help with a request still waiting in the queue."""
    conversation = await _agents_own(db, actor, conversation_id)
    if conversation.status != Status.QUEUED:
        if again := await done_before(db, conversation, actor, "withdrawn"):
            return again
        raise Conflict("Only a request still waiting can be withdrawn.", code="not_queued")
    now = utcnow()
    conversation.status = Status.CANCELLED
    conversation.closed_at = now
    change = Change(conversation)
    change.add(
        await record(
            db,
            conversation,
            "withdrawn",
            now,
            actor_id=actor.id,
            text=f"{actor.display_name} withdrew this request.",
        )
    )
    (out,) = await announce(db, realtime, [change])
    # A worker that took it meanwhile finds it cancelled and gives the slot back.
    await after_commit(res.router.withdraw(conversation.id), "withdraw")
    await queue_places.tell(res, realtime)
    return out


async def reopen(
    db: AsyncSession, res: Resources, realtime: Realtime | None, actor: Actor, conversation_id: int
) -> ConversationOut:
    conversation = await _agents_own(db, actor, conversation_id)
    if conversation.status not in (Status.PENDING, Status.SOLVED):
        kinds = ("reopened", "requeued")  # from solved, from pending
        if again := await done_before(db, conversation, actor, *kinds, reason="reopened"):
            return again
        if conversation.status == Status.CLOSED:  # as the reopen that found it expired said
            raise Conflict(CLOSED_MESSAGE, code="conversation_closed")
        raise Conflict(
            "Only a pending or solved conversation can be reopened.", code="not_reopenable"
        )
    await refuse_if_expired(db, res, realtime, conversation)
    change = await requeue(db, actor, conversation, reason="reopened")
    return await after_requeue(db, res, realtime, change)


def window_ended(res: Resources, conversation: Conversation, now: datetime) -> bool:
    resolved = conversation.resolved_at or conversation.updated_at
    return now - resolved >= timedelta(minutes=res.settings.reopen_minutes)


async def refuse_if_expired(
    db: AsyncSession, res: Resources, realtime: Realtime | None, conversation: Conversation
) -> None:
    """A solved conversation past its reopen window is closed now (if the periodic task has
    not yet), and the agent told to open a new request."""
    now = utcnow()
    if conversation.status == Status.SOLVED and window_ended(res, conversation, now):
        change = await _close(db, conversation, now)
        await announce(db, realtime, [change])
        raise Conflict(CLOSED_MESSAGE, code="conversation_closed")


async def requeue(
    db: AsyncSession, actor: Actor, conversation: Conversation, *, reason: str
) -> Change:
    """A pending or solved conversation the agent came back to goes back to the queue.
    Does not commit; `after_requeue` does."""
    now = utcnow()
    previous = conversation.assignee_id
    kind = "reopened" if conversation.status == Status.SOLVED else "requeued"
    conversation.status = Status.QUEUED
    conversation.assignee_id = None
    conversation.queued_at = now
    conversation.resolved_at = None
    text = (
        f"{actor.display_name} reopened this conversation; back in the queue."
        if reason == "reopened"
        else f"{actor.display_name} wrote again; back in the queue."
    )
    change = Change(conversation, also_tell={previous} if previous else set())
    change.add(
        await record(
            db,
            conversation,
            kind,
            now,
            actor_id=actor.id,
            from_leader_id=previous,
            reason=reason,
            text=text,
        )
    )
    return change


async def after_requeue(
    db: AsyncSession, res: Resources, realtime: Realtime | None, change: Change
) -> ConversationOut:
    """Commit, everyone hears; then back to the head of the queue, offered to its previous
    leader first (queued only once the database says queued, or a worker would drop it)."""
    (out,) = await announce(db, realtime, [change])
    previous = next(iter(change.also_tell), None)
    enqueue = res.router.enqueue([change.conversation.id], head=True, prefer=previous)
    await after_commit(enqueue, "enqueue")
    await queue_places.tell(res, realtime)
    return out


async def _close(db: AsyncSession, conversation: Conversation, now: datetime) -> Change:
    conversation.status = Status.CLOSED
    conversation.closed_at = now
    change = Change(conversation)
    change.add(
        await record(
            db,
            conversation,
            "closed",
            now,
            reason="reopen window ended",
            text="Closed: the time to reopen this conversation has ended.",
        )
    )
    return change


async def close_expired(res: Resources, realtime: Realtime | None, *, limit: int = 200) -> int:
    """Solved conversations whose reopen window ended become closed. Run periodically by
    the worker; it works from the database, so nothing is missed across restarts."""
    cutoff = utcnow() - timedelta(minutes=res.settings.reopen_minutes)
    due_query = select(Conversation.id).where(
        Conversation.status == Status.SOLVED, Conversation.resolved_at <= cutoff
    )
    async with res.reads() as db:  # most runs find nothing: no write lock for that
        if await db.scalar(due_query.limit(1)) is None:
            return 0
    async with res.sessions() as db:
        query = (
            select(Conversation)
            .where(Conversation.status == Status.SOLVED, Conversation.resolved_at <= cutoff)
            .order_by(Conversation.resolved_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        due = list(await db.scalars(query))
        now = utcnow()
        changes = [await _close(db, c, now) for c in due]
        await announce(db, realtime, changes)
    return len(changes)
