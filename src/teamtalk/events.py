"""Server -> client Socket.IO events: one typed model each, emitted only after commit.

Payloads carry ids and small facts; clients refetch anything larger.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from teamtalk.realtime import (
    ADMINS_ROOM,
    HISTORY_ROOM,
    RESYNC_EVENT,
    Emission,
    Realtime,
    user_room,
)
from teamtalk.schemas import ConversationOut, MessageOut, QueueStanding


class Event(BaseModel):
    name: ClassVar[str]

    async def to_user(self, realtime: Realtime, user_id: int) -> None:
        await realtime.emit(*self.for_user(user_id))

    def for_user(self, user_id: int) -> Emission:
        """(event, payload, room), for Realtime.emit_many."""
        return self.name, self.model_dump(mode="json"), user_room(user_id)

    def for_rooms(self, rooms: Sequence[str]) -> Emission:
        return self.name, self.model_dump(mode="json"), list(rooms)

    async def to_rooms(
        self, realtime: Realtime, rooms: Sequence[str], *, skip_sid: str | None = None
    ) -> None:
        """Once to every socket in any of the rooms."""
        await realtime.emit(self.name, self.model_dump(mode="json"), list(rooms), skip_sid)


class AssignConversation(Event):
    """A conversation entered the leader's basket."""

    name: ClassVar[str] = "assign_conversation"
    conversation: ConversationOut
    request: str | None = None  # the first words of the agent's request
    reason: str | None = None  # a transfer's reason


class UpdateConversation(Event):
    """A conversation's state changed (queued, assigned, solved, ...)."""

    name: ClassVar[str] = "update_conversation"
    conversation: ConversationOut


class RemoveFromBasket(Event):
    name: ClassVar[str] = "remove_from_basket"
    conversation_id: int


class SyncBasket(Event):
    """The whole basket, sent to a leader's socket on connect."""

    name: ClassVar[str] = "sync_basket"
    conversations: list[ConversationOut]


class AckStatus(Event):
    """A leader's status, sent to every tab of theirs when it changes."""

    name: ClassVar[str] = "ack_status"
    status: Literal["online", "away", "offline"]
    # Offline by the system's doing (not the leader's choice): why, since when, and the
    # grace period that ran out; None otherwise.
    offline_reason: (
        Literal["grace_ended", "server_lost", "deactivated", "role_changed", "admin"] | None
    ) = None
    offline_since: datetime | None = None
    grace_seconds: float | None = None

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        # The reason fields only when there is a reason: otherwise just {"status": ...}.
        return super().model_dump(exclude_none=True, **kwargs)


class NewMessage(Event):
    name: ClassVar[str] = "new_message"
    conversation_id: int
    message: MessageOut


class Typing(Event):
    """Someone is writing in a conversation; not stored."""

    name: ClassVar[str] = "typing"
    conversation_id: int
    user_id: int
    display_name: str


class Read(Event):
    """How far a user has read a conversation (their other tabs and the other side)."""

    name: ClassVar[str] = "read"
    conversation_id: int
    user_id: int
    last_read_seq: int


class Resync(Event):
    """Events may have been missed (this server lost its subscription for a while, or
    routing state was rebuilt): refetch what is shown."""

    name: ClassVar[str] = RESYNC_EVENT
    reason: Literal["missed_events", "routing_rebuilt"]


class MonitorFact(BaseModel):
    """One routing change: a request queued (created, reopened, wrote again), assigned,
    returned to the queue, transferred, submitted (solved or pending), withdrawn or closed,
    or a leader's status change."""

    what: Literal[
        "queued",
        "assigned",
        "returned",
        "transferred",
        "submitted",
        "withdrawn",
        "closed",
        "updated",
        "leader_status",
    ]
    conversation_id: int | None = None
    leader_id: int | None = None


class MonitorChanged(Event):
    """Routing state changed (after the commit): admins' dashboards refetch the overview, and
    admins' and team leaders' history pages their rows."""

    name: ClassVar[str] = "monitor_changed"
    changes: list[MonitorFact]

    def for_admins(self) -> Emission:
        """Admins (the dashboard), and the History pages open (they refetch their rows)."""
        return self.name, self.model_dump(mode="json"), [ADMINS_ROOM, HISTORY_ROOM]


class QueueMoved(Event):
    """Where the agent's queued request now stands; sent whenever the queue may have moved
    (not kept in the outbox: the next change, or the request's detail, tells it again)."""

    name: ClassVar[str] = "queue_moved"
    standing: QueueStanding


ALL_EVENTS: tuple[type[Event], ...] = (
    AssignConversation,
    UpdateConversation,
    RemoveFromBasket,
    SyncBasket,
    AckStatus,
    NewMessage,
    Typing,
    Read,
    Resync,
    MonitorChanged,
    QueueMoved,
)


def schema_document() -> dict[str, Any]:
    """One JSON Schema of every event: `properties` names each event and refers to its
    payload, `$defs` holds the payloads and the objects they share (ConversationOut,
    MessageOut). The web UI's event types are generated from it, and the tests check what
    the server emits against it."""
    _, document = models_json_schema(
        [(event, "serialization") for event in ALL_EVENTS], ref_template="#/$defs/{model}"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "EventPayloads",
        "description": "The payload of each server -> client Socket.IO event, by event name.",
        "type": "object",
        "properties": {event.name: {"$ref": f"#/$defs/{event.__name__}"} for event in ALL_EVENTS},
        "required": [event.name for event in ALL_EVENTS],
        "additionalProperties": False,
        "$defs": document["$defs"],
    }
