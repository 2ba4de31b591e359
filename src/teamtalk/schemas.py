"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from teamtalk.models import Conversation, Message, MessageKind, Role, Status, Topic, User


def storable(value: str) -> str:
    """Text a database column can hold: PostgreSQL text has no NUL character, and a lone
    surrogate (JSON can escape one) is not UTF-8. Refused on both databases alike."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Storable = AfterValidator(storable)


def at_most(length: int) -> BeforeValidator:
    """The documented maximum holds for the text as sent: pydantic strips the whitespace
    first and would let a longer text through."""

    def check(value: object) -> object:
        if isinstance(value, str) and len(value) > length:
            raise ValueError(f"must have at most {length} characters")
        return value

    return BeforeValidator(check)


def whole_number(value: object) -> object:
    """An integer as sent: pydantic would also take true, "12" or 12.0 for one."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


Whole = BeforeValidator(whole_number)


# Stored text: within its length as sent and once stripped, and storable.
Name = Annotated[
    str,
    at_most(100),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    Storable,
]
TopicName = Annotated[
    str,
    at_most(80),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
    Storable,
]
TicketLink = Annotated[
    str, at_most(2048), StringConstraints(strip_whitespace=True, max_length=2048), Storable
]
Reason = Annotated[
    str, at_most(500), StringConstraints(strip_whitespace=True, max_length=500), Storable
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]
Capacity = Annotated[int, Whole, Field(ge=1, le=50)]

# Every number that reaches the database is bounded by its column, so an out-of-range one
# is a 422 naming the field instead of an overflow inside the driver.
MAX_ID = 2**63 - 1  # BIGINT on PostgreSQL, INTEGER on SQLite
MAX_SEQ = 2**31 - 1  # INTEGER on PostgreSQL
Id = Annotated[int, Whole, Field(ge=1, le=MAX_ID)]
Seq = Annotated[int, Whole, Field(ge=0, le=MAX_SEQ)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_email(value: str) -> str:
    value = storable(value.strip())
    local, _, domain = value.rpartition("@")
    if not local or "." not in domain or " " in value or len(value) > 254:
        raise ValueError("not a valid email address")
    return value


class LoginIn(Strict):
    email: Annotated[str, StringConstraints(min_length=1, max_length=254), Storable]
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


class DirectoryEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    display_name: str
    role: Role
    is_active: bool


class Directory(BaseModel):
    users: list[DirectoryEntry]


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
    """A conversation; the names come from services.presenters, which looks them up in bulk."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    status: Status
    agent_id: int
    agent_name: str | None = None
    assignee_id: int | None
    assignee_name: str | None = None
    topic_id: int | None
    topic_name: str | None = None
    ticket_link: str | None
    created_at: datetime
    queued_at: datetime | None
    assigned_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    last_seq: int

    @classmethod
    def of(cls, conversation: Conversation, names: Names | None = None) -> ConversationOut:
        out = cls.model_validate(conversation)
        if names is not None:
            out.agent_name = names.users.get(conversation.agent_id)
            if conversation.assignee_id is not None:
                out.assignee_name = names.users.get(conversation.assignee_id)
            if conversation.topic_id is not None:
                out.topic_name = names.topics.get(conversation.topic_id)
        return out


class Names(BaseModel):
    """Display names of users and topics, by id."""

    users: dict[int, str] = {}
    topics: dict[int, str] = {}


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    seq: int
    sender_id: int | None
    sender_name: str | None = None
    kind: MessageKind
    body: str
    client_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, message: Message, names: Names | None = None) -> MessageOut:
        out = cls.model_validate(message)
        if names is not None and message.sender_id is not None:
            out.sender_name = names.users.get(message.sender_id)
        return out


MessageBody = Annotated[
    str,
    at_most(5000),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=5000),
]


# Letters, digits and `-_.:`, so a UUID or any key a client makes up fits, and it can be
# logged and compared as it is.
CreateId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class ConversationCreate(Strict):
    message: MessageBody
    topic_id: Id | None = None
    ticket_link: TicketLink | None = None
    client_id: CreateId | None = Field(
        default=None,
        description=(
            "The client's own id for this request (1 to 64 letters, digits or `-_.:`; a"
            " UUID, say), made once per request it means to open and sent again with"
            " every retry of it. The same agent sending the same client id again gets the"
            " request opened first, as it stands now, and nothing new is opened."
        ),
    )

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
    topic_id: Id


class ConversationDetail(BaseModel):
    conversation: ConversationOut
    queue_position: int | None
    last_read_seq: int = 0


ClientId = Annotated[str, StringConstraints(min_length=1, max_length=64), Storable]
# Cleaned and checked again by services.messages (empty after trimming, control characters).
RawBody = Annotated[str, StringConstraints(max_length=5000)]


class MessageIn(Strict):
    client_id: ClientId
    body: RawBody


class SocketMessageIn(MessageIn):
    conversation_id: Id


class MessageEnvelope(BaseModel):
    message: MessageOut


class ReadIn(Strict):
    seq: Seq


class SocketReadIn(ReadIn):
    conversation_id: Id


class ReadOut(BaseModel):
    last_read_seq: int


class ConversationRef(Strict):
    conversation_id: Id


class TransferIn(Strict):
    leader_id: Id | None
    reason: Reason | None = None


class TransferTarget(BaseModel):
    id: int
    display_name: str
    free_slots: int


class TransferTargets(BaseModel):
    leaders: list[TransferTarget]


class SyncPoint(Strict):
    conversation_id: Id
    seq: Seq


class SyncIn(Strict):
    since: Annotated[list[SyncPoint], Field(max_length=100)]


class SyncOut(BaseModel):
    conversations: list[ConversationOut]
    messages: list[MessageOut]
    truncated: list[int]


class ConversationItem(ConversationOut):
    """A conversation in a list: its latest message and the reader's unread count."""

    last_message: MessageOut | None = None
    unread: int = 0


class ConversationPage(BaseModel):
    conversations: list[ConversationItem]
    next_cursor: str | None


class MessagePage(BaseModel):
    """Messages in ascending seq, and whether there are more on either side."""

    messages: list[MessageOut]
    has_more_before: bool
    has_more_after: bool


class SnippetPart(BaseModel):
    """A piece of a search snippet; `match` marks the words that matched. Plain text."""

    text: str
    match: bool


class SearchHit(BaseModel):
    message: MessageOut
    conversation: ConversationOut
    snippet: list[SnippetPart]


class SearchPage(BaseModel):
    hits: list[SearchHit]
    next_offset: int | None


# --- Supervisor overrides (api/overrides.py) ---------------------------------------------


class OverrideAssignIn(Strict):
    leader_id: Id


class OverrideTakeIn(Strict):
    """`leader_id`: the leader to take it (online, with a free slot), or null for the head
    of the queue."""

    leader_id: Id | None
    reason: Reason | None = None


class OverrideStatusIn(Strict):
    status: Literal["away", "offline"]


class OverrideResult(BaseModel):
    """The conversation as the override left it; `queue_position` while it waits."""

    conversation: ConversationOut
    queue_position: int | None


class OverrideLeader(BaseModel):
    id: int
    display_name: str
    status: Literal["online", "away", "offline"]
