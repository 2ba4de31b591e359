"""Server -> client Socket.IO events: one typed model each, emitted only after commit.

Payloads carry ids and small facts; clients refetch anything larger.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from teamtalk.realtime import Realtime, user_room
from teamtalk.schemas import ConversationOut


class Event(BaseModel):
    name: ClassVar[str]

    async def to_user(self, realtime: Realtime, user_id: int) -> None:
        await realtime.emit(*self.for_user(user_id))

    def for_user(self, user_id: int) -> tuple[str, dict[str, Any], str]:
        """(event, payload, room), for Realtime.emit_many."""
        return self.name, self.model_dump(mode="json"), user_room(user_id)


class AssignConversation(Event):
    """A conversation entered the leader's basket."""

    name: ClassVar[str] = "assign_conversation"
    conversation: ConversationOut


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


ALL_EVENTS: tuple[type[Event], ...] = (
    AssignConversation,
    UpdateConversation,
    RemoveFromBasket,
    SyncBasket,
    AckStatus,
)
