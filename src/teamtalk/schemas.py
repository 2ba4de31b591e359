"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from teamtalk.models import Conversation, Message, Role, Topic, User

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
TopicName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]
Capacity = Annotated[int, Field(ge=1, le=50)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_email(value: str) -> str:
    value = value.strip()
    local, _, domain = value.rpartition("@")
    if not local or "." not in domain or " " in value or len(value) > 254:
        raise ValueError("not a valid email address")
    return value


class LoginIn(Strict):
    email: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str
    role: Role
    capacity: int
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls.model_validate(user)


class UserEnvelope(BaseModel):
    user: UserOut


class UserList(BaseModel):
    users: list[UserOut]


class UserCreate(Strict):
    email: str
    display_name: Name
    role: Role
    password: Password
    capacity: Capacity | None = None

    _email = field_validator("email")(check_email)


class UserUpdate(Strict):
    display_name: Name | None = None
    role: Role | None = None
    capacity: Capacity | None = None


class TopicOut(BaseModel):
    id: int
    name: str
    archived: bool
    created_at: datetime

    @classmethod
    def of(cls, topic: Topic) -> TopicOut:
        return cls(
            id=topic.id,
            name=topic.name,
            archived=topic.archived_at is not None,
            created_at=topic.created_at,
        )


class TopicEnvelope(BaseModel):
    topic: TopicOut


class TopicList(BaseModel):
    topics: list[TopicOut]


class TopicIn(Strict):
    name: TopicName


class Ready(BaseModel):
    status: str
    checks: dict[str, str]


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    agent_id: int
    assignee_id: int | None
    topic_id: int | None
    ticket_link: str | None
    created_at: datetime
    queued_at: datetime | None
    assigned_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    last_seq: int

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationOut:
        return cls.model_validate(conversation)


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    seq: int
    sender_id: int | None
    kind: str
    body: str
    client_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        return cls.model_validate(message)


MessageBody = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)
]


class ConversationCreate(Strict):
    message: MessageBody
    topic_id: int | None = None
    ticket_link: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048)] | None
    ) = None

    @field_validator("ticket_link")
    @classmethod
    def _http_link(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http or https URL")
        return value


class ConversationCreated(BaseModel):
    conversation: ConversationOut
    queue_position: int | None


class ConversationEnvelope(BaseModel):
    conversation: ConversationOut


class SubmitAs(Strict):
    status: Literal["solved", "pending"]
    topic_id: int


class ConversationDetail(BaseModel):
    conversation: ConversationOut
    queue_position: int | None


class ConversationList(BaseModel):
    conversations: list[ConversationOut]
    next_before: int | None
