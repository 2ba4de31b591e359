"""Reading conversations: lists with filters, message pages, search."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from teamtalk.api.deps import DB, CostlyReader
from teamtalk.api.params import IsoTime, PathId, QueryId, QuerySeq
from teamtalk.errors import Invalid
from teamtalk.models import Status
from teamtalk.schemas import MAX_ID, ConversationPage, MessagePage, SearchPage
from teamtalk.services import listing, periods, search
from teamtalk.services.listing import Filters, Sort

router = APIRouter(tags=["history"])


def utc(value: datetime | None, field: str) -> datetime | None:
    """Times without an offset are taken as UTC."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:
        detail = [{"field": field, "message": "out of range", "type": "datetime"}]
        raise Invalid("A time is out of range.", details=detail) from exc


def filters(
    status: Annotated[list[Status] | None, Query(description="repeatable")] = None,
    topic_id: QueryId | None = None,
    no_topic: Annotated[bool, Query(description="only those with no topic")] = False,
    agent_id: QueryId | None = None,
    leader_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="any leader who ever held it")
    ] = None,
    created_from: Annotated[IsoTime | None, Query(description="inclusive")] = None,
    created_to: Annotated[IsoTime | None, Query(description="exclusive")] = None,
    tz: Annotated[str, Query(description="IANA time zone of weekday and hour")] = "UTC",
    weekday: Annotated[
        int | None,
        Query(ge=1, le=7, description="created on this ISO weekday (1 = Monday) in tz"),
    ] = None,
    hour: Annotated[
        int | None, Query(ge=0, le=23, description="created in this hour in tz")
    ] = None,
) -> Filters:
    periods.zone(tz)  # an unknown zone is refused even when no weekday or hour uses it
    return Filters(
        statuses=tuple(status or ()),
        topic_id=topic_id,
        no_topic=no_topic,
        agent_id=agent_id,
        leader_id=leader_id,
        created_from=utc(created_from, "created_from"),
        created_to=utc(created_to, "created_to"),
        tz=tz,
        weekday=weekday,
        hour=hour,
    )


ListFilters = Annotated[Filters, Depends(filters)]


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(
    user: CostlyReader,
    db: DB,
    where: ListFilters,
    sort: Sort = "activity",
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> ConversationPage:
    """Agents: their own conversations; leaders and admins: the whole team's."""
    return await listing.list_conversations(db, user, where, sort=sort, cursor=cursor, limit=limit)


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
async def messages(
    conversation_id: PathId,
    user: CostlyReader,
    db: DB,
    before: QuerySeq | None = None,
    after: QuerySeq | None = None,
    around: QuerySeq | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MessagePage:
    """At most one anchor (a seq); none gives the latest page."""
    return await listing.message_page(
        db, user, conversation_id, before=before, after=after, around=around, limit=limit
    )


@router.get("/search", response_model=SearchPage)
async def search_messages(
    user: CostlyReader,
    db: DB,
    where: ListFilters,
    q: Annotated[str, Query(min_length=1, max_length=1000, pattern=r"\S")],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> SearchPage:
    """Every word must match; best matches first; agents search only their own."""
    return await search.search(db, user, q, where, limit=limit, offset=offset)
