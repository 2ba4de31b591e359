"""Dates and hours in a viewer's time zone, as instants: the report range, its local days,
and the instants that fall on one weekday and hour (the heat map and its history filter)."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from teamtalk.errors import Invalid

MAX_DAYS = 366  # a leap year
# The history's weekday and hour filters: a report range seen from any zone, with room.
MAX_LOCAL_SPAN = timedelta(days=MAX_DAYS + 2)
HOUR = timedelta(hours=1)
TICK = timedelta(microseconds=1)


@functools.cache
def _zone_names() -> frozenset[str]:
    # `localtime` is this machine's zone, not one the viewer can mean.
    return frozenset(zoneinfo.available_timezones() - {"localtime"})


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone `name`, or a 422 `unknown_time_zone`."""
    if name not in _zone_names():
        detail = [{"field": "tz", "message": "not an IANA time zone", "type": "time_zone"}]
        raise Invalid(
            f"Unknown time zone {name[:64]!r}; use an IANA name such as Europe/Berlin.",
            code="unknown_time_zone",
            details=detail,
        )
    return zoneinfo.ZoneInfo(name)


def day_start(day: date, zone: tzinfo) -> datetime:
    """The first instant of a local date, in UTC. Midnight with fold=0: in a gap (a zone
    that springs forward at midnight) that is the transition itself; when midnight repeats,
    its first occurrence."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _out_of_range(field: str) -> Invalid:
    detail = [{"field": field, "message": "out of range", "type": "date"}]
    return Invalid("A date is out of range.", details=detail)


@dataclass(frozen=True)
class Period:
    """Local dates first..last (inclusive) in `zone`: the instants [start, end)."""

    first: date
    last: date
    zone: zoneinfo.ZoneInfo
    start: datetime
    end: datetime

    @classmethod
    def of(cls, first: date, last: date, tz: str) -> Period:
        """Checked: not reversed, at most MAX_DAYS days, a known zone."""
        if last < first:
            raise Invalid("The range ends before it starts.", code="range_reversed")
        if (last - first).days + 1 > MAX_DAYS:
            raise Invalid(f"A range covers at most {MAX_DAYS} days.", code="range_too_long")
        where = zone(tz)
        try:
            start = day_start(first, where)
        except OverflowError as exc:
            raise _out_of_range("from") from exc
        try:
            end = day_start(last + timedelta(days=1), where)
        except OverflowError as exc:
            raise _out_of_range("to") from exc
        return cls(first, last, where, start, end)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        return day_start(day, self.zone), day_start(day + timedelta(days=1), self.zone)


def local_hours(
    start: datetime, end: datetime, zone: tzinfo
) -> Iterator[tuple[datetime, datetime, date, int]]:
    """[start, end) cut where the local hour changes: (from, to, local date, local hour).
    Walked in UTC with the zone's offset, so a repeated hour (autumn) comes twice and a
    skipped one (spring) never; offset changes inside an hour (30-minute zones) are found
    by bisection. About one step per hour."""
    at = start
    while at < end:
        local = at.astimezone(zone)
        offset = local.utcoffset()
        wall = local.replace(tzinfo=None)
        next_hour = wall.replace(minute=0, second=0, microsecond=0) + HOUR
        until = min(at + (next_hour - wall), end)
        if (until - TICK).astimezone(zone).utcoffset() != offset:
            until = _offset_change(at, until - TICK, zone, offset)
        yield at, until, wall.date(), wall.hour
        at = until


def _offset_change(
    same: datetime, other: datetime, zone: tzinfo, offset: timedelta | None
) -> datetime:
    """The first instant after `same` whose offset is not `offset` (`other` has another)."""
    while other - same > TICK:
        middle = same + (other - same) / 2
        if middle.astimezone(zone).utcoffset() == offset:
            same = middle
        else:
            other = middle
    return other


def spans_at(
    start: datetime,
    end: datetime,
    zone: tzinfo,
    *,
    weekday: int | None = None,
    hour: int | None = None,
) -> list[tuple[datetime, datetime]]:
    """The instants in [start, end) whose local ISO weekday (1 = Monday) and hour are the
    ones given (None: any), as merged [from, to) spans."""
    spans: list[tuple[datetime, datetime]] = []
    for a, b, day, h in local_hours(start, end, zone):
        if weekday is not None and day.isoweekday() != weekday:
            continue
        if hour is not None and h != hour:
            continue
        if spans and spans[-1][1] == a:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    return spans
