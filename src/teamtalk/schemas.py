"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from teamtalk.models import Role, Topic, User

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
    id: int
    email: str
    display_name: str
    role: Role
    capacity: int
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=Role(user.role),
            capacity=user.capacity,
            is_active=user.is_active,
            created_at=user.created_at,
        )


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
