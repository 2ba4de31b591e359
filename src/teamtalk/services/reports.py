"""Reports: the business figures of the conversations created in a range of local dates.

The conversations of a report are those created in [first day 00:00, day after the last
00:00) in the viewer's time zone that match its filters (topic; leader: any who ever held
it; agent): the same set the history lists for those filters. Their figures come from
their whole event history (a request made on the last day and solved the next counts as
solved). Leaders' online time and occupancy are figures of time instead: see occupancy.py.

Definitions (all times in seconds):
- wait: created -> the first `assigned` event;
- first response: the first assignment -> the first message a leader wrote (a user
  message whose sender is not the agent); `none` counts the assigned ones without one;
- handle: the first assignment -> the first `solved` event;
- outcome rates: the share of the requests with at least one event of that kind
  (`transferred`: to a leader or back to the queue);
- median: the middle value, or the mean of the two middle ones; the 90th percentile by
  nearest rank (see `cohort.nearest_rank`);
- per leader: conversations they ever held; assignments = `assigned` events plus
  transfers to them, and load share = theirs over everyone's; solved and handle time are
  of the conversations whose first solve was theirs (so they add up to the summary).

A bounded number of queries whatever the range: the conversations, their events, their
first leader messages, the hold events and presence log of the leaders, the users, the
topics. The events are replayed in Python.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlencode

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.models import Role, Topic, User, utcnow
from teamtalk.schemas import (
    DayRow,
    FirstResponseRow,
    HeatCell,
    LeaderRow,
    OutcomeRow,
    Report,
    ReportPeriod,
    ResponseBucket,
    SummaryRow,
    TopicRow,
)
from teamtalk.services import cohort, occupancy
from teamtalk.services.cohort import OUTCOMES, Story
from teamtalk.services.listing import Filters, visible
from teamtalk.services.periods import Period

# Upper bounds in seconds (exclusive) of the first-response buckets; over the last: over_60m.
BUCKETS: tuple[tuple[ResponseBucket, float], ...] = (
    ("under_1m", 60),
    ("1m_5m", 300),
    ("5m_15m", 900),
    ("15m_60m", 3600),
)


@dataclass(frozen=True)
class Scope:
    """What a report is of: a period and its filters."""

    period: Period
    topic_id: int | None = None
    leader_id: int | None = None
    agent_id: int | None = None

    def filters(self, *, created: bool = True) -> Filters:
        return Filters(
            topic_id=self.topic_id,
            agent_id=self.agent_id,
            leader_id=self.leader_id,
            created_from=self.period.start if created else None,
            created_to=self.period.end,
        )

    def history_query(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        topic_id: int | None = None,
        no_topic: bool = False,
        leader_id: int | None = None,
        weekday: int | None = None,
        hour: int | None = None,
    ) -> str:
        """The GET /api/conversations query string that lists these conversations."""
        params: list[tuple[str, str | int]] = [
            ("created_from", _iso(start or self.period.start)),
            ("created_to", _iso(end or self.period.end)),
        ]
        if no_topic:
            params.append(("no_topic", "true"))
        elif (topic := topic_id or self.topic_id) is not None:
            params.append(("topic_id", topic))
        if self.agent_id is not None:
            params.append(("agent_id", self.agent_id))
        if (leader := leader_id or self.leader_id) is not None:
            params.append(("leader_id", leader))
        if weekday is not None or hour is not None:
            params.append(("tz", self.period.zone.key))
        if weekday is not None:
            params.append(("weekday", weekday))
        if hour is not None:
            params.append(("hour", hour))
        return urlencode(params)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def build(db: AsyncSession, viewer: User, scope: Scope) -> Report:
    period = scope.period
    told = await cohort.stories(db, visible(viewer, scope.filters()))
    return Report(
        period=ReportPeriod(
            first_day=period.first,
            last_day=period.last,
            tz=period.zone.key,
            starts_at=period.start,
            ends_at=period.end,
        ),
        summary=summary(told),
        outcomes=outcomes(told),
        first_response=first_response(told),
        leaders=await leaders(db, viewer, scope, told),
        topics=await topics(db, scope, told),
        heatmap=heatmap(scope, told),
        daily=daily(scope, told),
    )


def summary(told: Sequence[Story]) -> SummaryRow:
    waits = [s.wait for s in told if s.wait is not None]
    return SummaryRow(
        requests=len(told),
        assigned=sum(s.first_assigned is not None for s in told),
        wait_avg_seconds=cohort.avg(waits),
        wait_median_seconds=cohort.median(waits),
        wait_p90_seconds=cohort.nearest_rank(waits, 90),
        first_response_avg_seconds=cohort.avg(s.response for s in told),
        handle_avg_seconds=cohort.avg(s.handle for s in told),
        handle_median_seconds=cohort.median(s.handle for s in told),
    )


def outcomes(told: Sequence[Story]) -> list[OutcomeRow]:
    counts = Counter(o for s in told for o in s.outcomes)
    return [
        OutcomeRow(outcome=o, conversations=counts[o], rate=cohort.share(counts[o], len(told)))
        for o in OUTCOMES
    ]


def bucket_of(seconds: float | None) -> ResponseBucket:
    if seconds is None:
        return "none"
    for name, below in BUCKETS:
        if seconds < below:
            return name
    return "over_60m"


def first_response(told: Sequence[Story]) -> list[FirstResponseRow]:
    assigned = [s for s in told if s.first_assigned is not None]
    counts = Counter(bucket_of(s.response) for s in assigned)
    names: list[ResponseBucket] = [*(name for name, _ in BUCKETS), "over_60m", "none"]
    return [
        FirstResponseRow(
            bucket=b, conversations=counts[b], share=cohort.share(counts[b], len(assigned))
        )
        for b in names
    ]


async def leaders(
    db: AsyncSession, viewer: User, scope: Scope, told: Sequence[Story]
) -> list[LeaderRow]:
    """Every leader with a conversation or time in the range (only the filtered one, with a
    leader filter). Capacity is the leader's capacity now: its changes are not logged."""
    period = scope.period
    held: dict[int, list[Story]] = defaultdict(list)
    for story in told:
        for leader_id in story.assignments:
            held[leader_id].append(story)
    # Leaders, and anyone who held a conversation then (their role may have changed since).
    query = select(User.id, User.display_name, User.capacity, User.presence).where(
        or_(User.role == Role.TEAMLEADER, User.id.in_(list(held)))
    )
    if scope.leader_id is not None:
        query = query.where(User.id == scope.leader_id)
    users = {
        uid: (name, capacity, presence) for uid, name, capacity, presence in await db.execute(query)
    }
    stop = min(period.end, utcnow())
    matching = visible(viewer, scope.filters(created=False))
    spans = await occupancy.held_spans(db, matching, period.start, stop)
    timelines = await occupancy.presence_timelines(
        db, period.start, stop, {uid: presence for uid, (_, _, presence) in users.items()}
    )
    everyone = sum(sum(s.assignments.values()) for s in told)
    rows = []
    for uid, (name, capacity, _) in users.items():
        time = occupancy.leader_time(timelines[uid], spans.get(uid, []), period.start, stop)
        theirs = held.get(uid, [])
        busy = bool(theirs) or time.online_seconds or time.away_seconds or time.slot_seconds
        if not busy and scope.leader_id is None:
            continue
        solved = [s for s in theirs if s.solver == uid]
        assignments = sum(s.assignments[uid] for s in theirs)
        rows.append(
            LeaderRow(
                leader_id=uid,
                display_name=name,
                capacity=capacity,
                conversations=len(theirs),
                assignments=assignments,
                load_share=cohort.share(assignments, everyone),
                solved=len(solved),
                handle_avg_seconds=cohort.avg(s.handle for s in solved),
                online_seconds=round(time.online_seconds, 3),
                away_seconds=round(time.away_seconds, 3),
                slot_seconds=round(time.slot_seconds, 3),
                occupancy=cohort.share(time.slot_seconds, capacity * time.online_seconds),
                history_query=scope.history_query(leader_id=uid),
            )
        )
    return sorted(rows, key=lambda r: (r.display_name, r.leader_id))


async def topics(db: AsyncSession, scope: Scope, told: Sequence[Story]) -> list[TopicRow]:
    """One row per topic of the conversations, and one for those with none, last."""
    by_topic: dict[int | None, list[Story]] = defaultdict(list)
    for story in told:
        by_topic[story.topic_id].append(story)
    named = [t for t in by_topic if t is not None]
    names: dict[int, str] = {}
    if named:
        found = await db.execute(select(Topic.id, Topic.name).where(Topic.id.in_(named)))
        names = {topic_id: name for topic_id, name in found}
    rows = [
        TopicRow(
            topic_id=topic_id,
            name=None if topic_id is None else names.get(topic_id),
            requests=len(group),
            solved=sum("solved" in s.outcomes for s in group),
            handle_avg_seconds=cohort.avg(s.handle for s in group),
            history_query=(
                scope.history_query(no_topic=True)
                if topic_id is None
                else scope.history_query(topic_id=topic_id)
            ),
        )
        for topic_id, group in by_topic.items()
    ]
    return sorted(rows, key=lambda r: (r.topic_id is None, r.name or "", r.topic_id or 0))


def _local(scope: Scope, story: Story) -> datetime:
    return story.created_at.astimezone(scope.period.zone)


def heatmap(scope: Scope, told: Sequence[Story]) -> list[HeatCell]:
    """Requests by local weekday x hour of their creation: all 7 x 24 cells."""
    counts = Counter((_local(scope, s).isoweekday(), _local(scope, s).hour) for s in told)
    return [
        HeatCell(
            weekday=weekday,
            hour=hour,
            requests=counts[weekday, hour],
            history_query=scope.history_query(weekday=weekday, hour=hour),
        )
        for weekday in range(1, 8)
        for hour in range(24)
    ]


def daily(scope: Scope, told: Sequence[Story]) -> list[DayRow]:
    """Per local date of the range, of the conversations created that day: how many, how
    many were ever assigned and solved, and their average wait."""
    by_day: dict[date, list[Story]] = defaultdict(list)
    for story in told:
        by_day[_local(scope, story).date()].append(story)
    rows = []
    for day in scope.period.days():
        group = by_day.get(day, [])
        start, end = scope.period.day_bounds(day)
        rows.append(
            DayRow(
                day=day,
                requests=len(group),
                assigned=sum(s.first_assigned is not None for s in group),
                solved=sum("solved" in s.outcomes for s in group),
                wait_avg_seconds=cohort.avg(s.wait for s in group),
                history_query=scope.history_query(start, end),
            )
        )
    return rows
