"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from teamtalk.models import (
    CannedResponse,
    Conversation,
    Message,
    MessageKind,
    Role,
    Status,
    Topic,
    User,
)
from teamtalk.text import check_email, storable

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
def filled(value: str) -> str:
    """Checked after the strip: next to a BeforeValidator, pydantic checks min_length on
    the text as sent, so "   " would pass as ""."""
    if not value:  # the same error as an empty text sent as such
        raise PydanticCustomError(
            "string_too_short",
            "String should have at least {min_length} character",
            {"min_length": 1},
        )
    return value


Name = Annotated[
    str,
    at_most(100),
    StringConstraints(strip_whitespace=True, max_length=100),
    AfterValidator(filled),
    Storable,
]
TopicName = Annotated[
    str,
    at_most(80),
    StringConstraints(strip_whitespace=True, max_length=80),
    AfterValidator(filled),
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
    note: Reason | None = Field(
        default=None, description="Wrap-up note (optional), shown in the conversation."
    )


class QueueStanding(BaseModel):
    """Where a queued request stands: 1 is served next. `expected_wait_seconds` is 0 while
    a free slot awaits it, null when it cannot be estimated (nobody online, or nothing
    assigned lately); `leaders_online` counts leaders online (not away)."""

    conversation_id: int
    position: int
    expected_wait_seconds: int | None
    leaders_online: int


class ConversationDetail(BaseModel):
    conversation: ConversationOut
    queue_position: int | None
    last_read_seq: int = 0
    standing: QueueStanding | None = None  # while queued


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


class FollowIn(Strict):
    on: StrictBool


class SyncIn(Strict):
    since: Annotated[list[SyncPoint], Field(max_length=100)]


class SyncOut(BaseModel):
    conversations: list[ConversationOut]
    messages: list[MessageOut]
    truncated: list[int]


class ConversationItem(ConversationOut):
    """A conversation in a list: its latest message, the reader's unread count and the
    leader's wrap-up note."""

    last_message: MessageOut | None = None  # the latest that people wrote
    unread: int = 0  # what people wrote; system lines are not counted
    wrap_up_note: str | None = None  # of the latest submit as


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


# ---- Reports (services/reports.py, api/reports.py) -------------------------------------
# Every time is in seconds. Each table's rows are flat, so its CSV has the same columns as
# its JSON. `history_query` is the query string of GET /api/conversations that lists
# exactly the conversations a row counts.

ReportOutcome = Literal["solved", "pending", "withdrawn", "closed", "transferred", "reopened"]
ResponseBucket = Literal["under_1m", "1m_5m", "5m_15m", "15m_60m", "over_60m", "none"]


class ReportPeriod(BaseModel):
    """Local dates first_day..last_day in tz: the instants [starts_at, ends_at)."""

    first_day: date
    last_day: date
    tz: str
    starts_at: datetime
    ends_at: datetime


class SummaryRow(BaseModel):
    requests: int
    assigned: int
    wait_avg_seconds: float | None
    wait_median_seconds: float | None
    wait_p90_seconds: float | None
    first_response_avg_seconds: float | None
    handle_avg_seconds: float | None
    handle_median_seconds: float | None


class OutcomeRow(BaseModel):
    outcome: ReportOutcome
    conversations: int
    rate: float | None  # of the requests; None when there are none


class FirstResponseRow(BaseModel):
    bucket: ResponseBucket
    conversations: int
    share: float | None  # of the assigned requests; None when none was assigned


class LeaderRow(BaseModel):
    leader_id: int
    display_name: str
    capacity: int
    conversations: int
    assignments: int
    load_share: float | None
    solved: int
    handle_avg_seconds: float | None
    online_seconds: float
    away_seconds: float
    slot_seconds: float
    occupancy: float | None
    history_query: str


class TopicRow(BaseModel):
    topic_id: int | None
    name: str | None
    requests: int
    solved: int
    handle_avg_seconds: float | None
    history_query: str


class HeatCell(BaseModel):
    weekday: int  # ISO: 1 = Monday ... 7 = Sunday
    hour: int
    requests: int
    history_query: str


class DayRow(BaseModel):
    day: date
    requests: int
    assigned: int
    solved: int
    wait_avg_seconds: float | None
    history_query: str


class Report(BaseModel):
    period: ReportPeriod
    summary: SummaryRow
    outcomes: list[OutcomeRow]
    first_response: list[FirstResponseRow]
    leaders: list[LeaderRow]
    topics: list[TopicRow]
    heatmap: list[HeatCell]
    daily: list[DayRow]


class SummaryReport(BaseModel):
    period: ReportPeriod
    rows: list[SummaryRow]


class OutcomeReport(BaseModel):
    period: ReportPeriod
    rows: list[OutcomeRow]


class FirstResponseReport(BaseModel):
    period: ReportPeriod
    rows: list[FirstResponseRow]


class LeaderReport(BaseModel):
    period: ReportPeriod
    rows: list[LeaderRow]


class TopicReport(BaseModel):
    period: ReportPeriod
    rows: list[TopicRow]


class HeatmapReport(BaseModel):
    period: ReportPeriod
    rows: list[HeatCell]


class DailyReport(BaseModel):
    period: ReportPeriod
    rows: list[DayRow]


# ---- end of Reports ----------------------------------------------------------------------


# ---------------------------------------------------------------------------------------
# Monitoring (issue 11): GET /api/monitoring/overview, what supervisors watch live.
# Durations in seconds; times in UTC.
# ---------------------------------------------------------------------------------------


class WorkerHealth(BaseModel):
    """A routing worker, as its last heartbeat (every few seconds) told it."""

    worker_id: str
    heartbeat_age_seconds: float | None
    processed: int
    errors: int
    parked: int
    poll_interval_seconds: float
    last_processed_at: datetime | None
    started_at: datetime
    uptime_seconds: float


class QueuedRequest(BaseModel):
    conversation_id: int
    agent_id: int
    agent_name: str
    topic_id: int | None
    topic_name: str | None
    created_at: datetime
    queued_at: datetime
    wait_seconds: float  # since it was (last) queued
    # 1-based in serving order; None while a worker is assigning it (in_flight), after it
    # was set aside for repeated failures (parked), or before it reached routing (missing).
    position: int | None
    routing: Literal["waiting", "in_flight", "parked", "missing"]


class QueueOverview(BaseModel):
    length: int  # requests queued in the database
    oldest_wait_seconds: float  # 0 when none waits
    requests: list[QueuedRequest]  # in serving order, at most 200
    truncated: bool
    in_flight: int
    parked: int


class HeldConversation(BaseModel):
    """A conversation in a leader's basket, for the dashboard's "Take back"."""

    conversation_id: int
    agent_name: str
    topic_name: str | None
    assigned_at: datetime | None


class LeaderOverview(BaseModel):
    id: int
    display_name: str
    status: Literal["online", "away", "offline"]
    status_since: datetime | None  # the presence log's latest row (None: never changed)
    capacity: int
    held: int  # conversations in their basket
    free: int  # capacity - held (0 when over, after a capacity was lowered)
    last_assigned_at: datetime | None  # latest assignment or transfer to them, last 24 h
    disconnected_since: datetime | None  # their last tab closed: the grace period runs
    conversations: list[HeldConversation] = Field(default_factory=list)  # oldest first


class MonitoringTotals(BaseModel):
    agents_online: int
    leaders_online: int
    leaders_away: int
    free_slots: int  # of leaders online (not away)


class AssignmentWindow(BaseModel):
    """Assignments in the window; latency from a request's creation to its first
    assignment, for the requests first assigned in the window."""

    window: Literal["15m", "4h", "8h"]
    seconds: int
    assigned: int
    failed: int  # attempts that failed and were requeued
    success_rate: float | None  # assigned / (assigned + failed); None with neither
    latency_avg_seconds: float | None
    latency_p50_seconds: float | None
    latency_p90_seconds: float | None


class ServiceLevelSplit(BaseModel):
    """Of the window's requests whose outcome for this threshold is known (assigned, or
    waiting or withdrawn for longer than it), how many were assigned within it."""

    threshold_seconds: int
    within: int
    total: int
    share: float | None  # within / total; None when total is 0


class ServiceLevelWindow(BaseModel):
    window: Literal["15m", "4h", "today"]
    since: datetime  # requests created since (today: midnight in the asked time zone)
    splits: list[ServiceLevelSplit]


class MonitoringWarning(BaseModel):
    code: Literal["long_wait", "no_leader_online"]
    message: str
    conversation_id: int | None = None
    wait_seconds: float | None = None


class RoomCount(BaseModel):
    rooms: int
    members: int  # sockets in them


class RealtimeOverview(BaseModel):
    servers: int  # web server processes alive
    socket_connections: int
    # By event name, since Redis last lost its data, counted by every process.
    events_emitted: dict[str, int]
    # By kind (user, conversation, admins), as of each server's last heartbeat (10 s).
    rooms: dict[str, RoomCount]


class SeriesPoint(BaseModel):
    minute: datetime  # the minute's start
    created: int
    assigned: int
    # Creation -> first assignment, of the requests first assigned in that minute.
    avg_wait_seconds: float | None


class MonitoringOverview(BaseModel):
    at: datetime
    workers: list[WorkerHealth]
    queue: QueueOverview
    leaders: list[LeaderOverview]
    totals: MonitoringTotals
    assignments: list[AssignmentWindow]
    service_level: list[ServiceLevelWindow]
    warnings: list[MonitoringWarning]
    realtime: RealtimeOverview
    series: list[SeriesPoint]  # the last hour, one point a minute, oldest first


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


# Canned responses
CannedTitle = Annotated[
    str,
    at_most(80),
    StringConstraints(strip_whitespace=True, max_length=80),
    AfterValidator(filled),
    Storable,
]
CannedBody = Annotated[
    str,
    at_most(2000),
    StringConstraints(strip_whitespace=True, max_length=2000),
    AfterValidator(filled),
    Storable,
]


class CannedIn(Strict):
    """A canned response as written: without a topic it is offered in every conversation."""

    title: CannedTitle
    body: CannedBody
    topic_id: Id | None = None


class CannedOut(BaseModel):
    id: int
    title: str
    body: str
    topic_id: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, canned: CannedResponse) -> CannedOut:
        return cls(
            id=canned.id,
            title=canned.title,
            body=canned.body,
            topic_id=canned.topic_id,
            created_at=canned.created_at,
            updated_at=canned.updated_at,
        )


class CannedEnvelope(BaseModel):
    canned_response: CannedOut


class CannedList(BaseModel):
    canned_responses: list[CannedOut]
