"""Reports in the viewer's time zone: a range crossing midnight, a daylight-saving day, and
the history's weekday and hour filters that the drill-down uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest

from teamtalk.models import Role
from teamtalk.services.periods import Period, spans_at
from tests.conftest import Backend, Harness, harness_with
from tests.report_factories import Ev, make_history, make_presence, utc
from tests.test_reports import get_json, history_ids


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    async with harness_with(backend, reads_burst=100_000) as h:
        yield h


def hours(spans: list[tuple[Any, Any]]) -> float:
    return sum((b - a).total_seconds() for a, b in spans) / 3600


def test_local_days_and_hours_across_daylight_saving() -> None:
    # New York springs forward on 8 March 2026 (02:00 EST -> 03:00 EDT): a 23-hour day
    # from 05:00 UTC (midnight EST) to 04:00 UTC the next day (midnight EDT).
    spring = Period.of(date(2026, 3, 8), date(2026, 3, 8), "America/New_York")
    assert (spring.start, spring.end) == (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))
    assert hours(spans_at(spring.start, spring.end, spring.zone, hour=2)) == 0  # skipped
    assert hours(spans_at(spring.start, spring.end, spring.zone, hour=3)) == 1
    assert hours(spans_at(spring.start, spring.end, spring.zone, weekday=7)) == 23
    # ... and falls back on 1 November (02:00 EDT -> 01:00 EST): 25 hours, 01:00 twice.
    autumn = Period.of(date(2026, 11, 1), date(2026, 11, 1), "America/New_York")
    assert autumn.end - autumn.start == timedelta(hours=25)
    assert spans_at(autumn.start, autumn.end, autumn.zone, hour=1) == [
        (utc(2026, 11, 1, 5), utc(2026, 11, 1, 7))  # 01:00 EDT to 02:00 EST, merged
    ]
    # Berlin, 29 March 2026: 23 hours from 23:00 UTC the day before (CET) to 22:00 (CEST).
    berlin = Period.of(date(2026, 3, 29), date(2026, 3, 29), "Europe/Berlin")
    assert (berlin.start, berlin.end) == (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    # Lord Howe falls back half an hour (02:00 -> 01:30) on 5 April 2026: 01:xx lasts 1.5 h.
    howe = Period.of(date(2026, 4, 5), date(2026, 4, 5), "Australia/Lord_Howe")
    assert hours(spans_at(howe.start, howe.end, howe.zone, hour=1)) == 1.5
    assert hours(spans_at(howe.start, howe.end, howe.zone)) == 24.5


async def test_a_range_crossing_midnight(harness: Harness) -> None:
    """New York in January is UTC-5. Thursday 15 January 2026, local times:
    X3 00:10 (05:10Z); X1 23:30 (04:30Z on the 16th), assigned 23:40, solved 00:20 on the
    16th; X2 00:30 on Friday the 16th. The leader is online 22:00 to 02:00 local."""
    admin = await harness.user(Role.ADMIN)
    lead = await harness.user(Role.TEAMLEADER, display_name="Lead", capacity=4)
    agent = await harness.user(Role.AGENT)
    await make_presence(
        harness, lead, [(utc(2026, 1, 16, 3), "online"), (utc(2026, 1, 16, 7), "offline")]
    )
    x3 = await make_history(harness, agent, utc(2026, 1, 15, 5, 10))
    x1 = await make_history(
        harness,
        agent,
        utc(2026, 1, 16, 4, 30),
        [
            Ev("assigned", utc(2026, 1, 16, 4, 40), to=lead),
            Ev("solved", utc(2026, 1, 16, 5, 20), by=lead),
        ],
    )
    x2 = await make_history(harness, agent, utc(2026, 1, 16, 5, 30))
    ny = {"tz": "America/New_York"}
    async with harness.signed_in(admin) as client:
        two = await get_json(
            client, "/api/reports", {"from": "2026-01-15", "to": "2026-01-16", **ny}
        )
        assert two["summary"]["requests"] == 3
        assert [
            (d["day"], d["requests"], d["assigned"], d["solved"], d["wait_avg_seconds"])
            for d in two["daily"]
        ] == [
            ("2026-01-15", 2, 1, 1, 600.0),  # X3, X1 (wait 23:30 -> 23:40)
            ("2026-01-16", 1, 0, 0, None),  # X2
        ]
        days = [await history_ids(client, d["history_query"]) for d in two["daily"]]
        assert days == [{x3, x1}, {x2}]
        busy = {(c["weekday"], c["hour"]): c for c in two["heatmap"] if c["requests"]}
        assert {k: c["requests"] for k, c in busy.items()} == {(4, 0): 1, (4, 23): 1, (5, 0): 1}
        assert await history_ids(client, busy[4, 23]["history_query"]) == {x1}
        assert await history_ids(client, busy[5, 0]["history_query"]) == {x2}
        (leader,) = two["leaders"]
        assert leader["online_seconds"] == 14400.0  # 22:00 -> 02:00
        assert leader["slot_seconds"] == 2400.0  # 23:40 -> 00:20
        assert leader["occupancy"] == 0.0417  # 2400 / (4 * 14400)

        one = await get_json(
            client, "/api/reports", {"from": "2026-01-15", "to": "2026-01-15", **ny}
        )
        assert one["summary"]["requests"] == 2  # X3, X1
        assert one["summary"]["handle_avg_seconds"] == 2400.0  # solved after the range: counts
        (leader,) = one["leaders"]
        assert leader["online_seconds"] == 7200.0  # 22:00 -> 24:00
        assert leader["slot_seconds"] == 1200.0  # 23:40 -> 24:00
        assert leader["occupancy"] == 0.0417  # 1200 / (4 * 7200)

        # The same instants seen from UTC: X1 and X2 are both on Friday the 16th.
        utc_day = await get_json(client, "/api/reports", {"from": "2026-01-16", "to": "2026-01-16"})
        cells = {
            (c["weekday"], c["hour"]): c["requests"] for c in utc_day["heatmap"] if c["requests"]
        }
        assert cells == {(5, 4): 1, (5, 5): 1}


async def test_a_daylight_saving_day(harness: Harness) -> None:
    """New York, Sunday 8 March 2026, 23 hours long. D1 01:30 EST (06:30Z), assigned 03:10
    EDT (07:10Z): a 40-minute wait, not the 1 h 40 the wall clock shows; D2 03:30 EDT; D3
    23:30 EDT (03:30Z on the 9th). Outside: D0 23:30 EST on the 7th, D4 00:30 EDT on the
    9th. The leader is online from the 7th to the 10th."""
    admin = await harness.user(Role.ADMIN)
    lead = await harness.user(Role.TEAMLEADER, display_name="Lead", capacity=4)
    agent = await harness.user(Role.AGENT)
    await make_presence(
        harness, lead, [(utc(2026, 3, 7, 12), "online"), (utc(2026, 3, 10, 12), "offline")]
    )
    await make_history(harness, agent, utc(2026, 3, 8, 4, 30))  # D0
    d1 = await make_history(
        harness,
        agent,
        utc(2026, 3, 8, 6, 30),
        [
            Ev("assigned", utc(2026, 3, 8, 7, 10), to=lead),
            Ev("solved", utc(2026, 3, 8, 8, 10), by=lead),
        ],
    )
    d2 = await make_history(harness, agent, utc(2026, 3, 8, 7, 30))
    d3 = await make_history(harness, agent, utc(2026, 3, 9, 3, 30))
    await make_history(harness, agent, utc(2026, 3, 9, 4, 30))  # D4
    params = {"from": "2026-03-08", "to": "2026-03-08", "tz": "America/New_York"}
    async with harness.signed_in(admin) as client:
        report = await get_json(client, "/api/reports", params)
        assert report["period"]["starts_at"] == "2026-03-08T05:00:00Z"
        assert report["period"]["ends_at"] == "2026-03-09T04:00:00Z"
        assert report["summary"]["requests"] == 3
        assert report["summary"]["wait_avg_seconds"] == 2400.0
        cells = {(c["weekday"], c["hour"]): c for c in report["heatmap"]}
        assert {k: c["requests"] for k, c in cells.items() if c["requests"]} == {
            (7, 1): 1,
            (7, 3): 1,
            (7, 23): 1,
        }
        assert await history_ids(client, cells[7, 1]["history_query"]) == {d1}
        assert await history_ids(client, cells[7, 2]["history_query"]) == set()  # no 02:00
        assert await history_ids(client, cells[7, 3]["history_query"]) == {d2}
        assert await history_ids(client, cells[7, 23]["history_query"]) == {d3}
        (day,) = report["daily"]
        assert await history_ids(client, day["history_query"]) == {d1, d2, d3}
        (leader,) = report["leaders"]
        assert leader["online_seconds"] == 82800.0  # the whole 23-hour day
        assert leader["slot_seconds"] == 3600.0  # 07:10Z -> 08:10Z
        assert leader["occupancy"] == 0.0109  # 3600 / (4 * 82800) = 0.01087


async def test_history_local_time_filters_are_checked(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    span = {"created_from": "2026-03-01T00:00:00Z", "created_to": "2026-03-08T00:00:00Z"}
    bad: list[tuple[dict[str, Any], str]] = [
        ({"weekday": "1"}, "range_required"),
        ({"hour": "3", "created_from": "2026-03-01T00:00:00Z"}, "range_required"),
        ({**span, "weekday": "8"}, "invalid"),
        ({**span, "weekday": "0"}, "invalid"),
        ({**span, "hour": "24"}, "invalid"),
        ({**span, "tz": "Nowhere/Land"}, "unknown_time_zone"),
        ({"tz": "Nowhere/Land"}, "unknown_time_zone"),
        ({**span, "created_to": "2027-03-08T00:00:00Z", "hour": "1"}, "range_too_long"),
    ]
    async with harness.signed_in(admin) as client:
        for path in ("/api/conversations", "/api/search"):
            for params, code in bad:
                response = await client.get(path, params={**params, "q": "x"})
                assert response.status_code == 422, (path, params, response.text)
                assert response.json()["error"]["code"] == code, (path, params)
        # Without a weekday or hour no range is needed; a reversed range lists nothing.
        response = await client.get("/api/conversations", params={"tz": "Asia/Tokyo"})
        assert response.status_code == 200
        reversed_span = {"created_from": span["created_to"], "created_to": span["created_from"]}
        body = await get_json(client, "/api/conversations", {**reversed_span, "hour": "1"})
        assert body["conversations"] == []


async def test_slots_held_through_the_whole_range_count(harness: Harness) -> None:
    """Assigned on 10 January and still held, or solved long after: no event in the range,
    a slot held all through it. The leader is online all of 20 January (UTC)."""
    admin = await harness.user(Role.ADMIN)
    lead = await harness.user(Role.TEAMLEADER, display_name="Lead", capacity=2)
    agent = await harness.user(Role.AGENT)
    await make_presence(
        harness, lead, [(utc(2026, 1, 19), "online"), (utc(2026, 1, 22), "offline")]
    )
    await make_history(
        harness, agent, utc(2026, 1, 10), [Ev("assigned", utc(2026, 1, 10, 1), to=lead)]
    )
    await make_history(
        harness,
        agent,
        utc(2026, 1, 10),
        [Ev("assigned", utc(2026, 1, 10, 2), to=lead), Ev("solved", utc(2026, 2, 1), by=lead)],
    )
    params = {"from": "2026-01-20", "to": "2026-01-20"}
    async with harness.signed_in(admin) as client:
        report = await get_json(client, "/api/reports", params)
    assert report["summary"]["requests"] == 0  # created before the range
    (leader,) = report["leaders"]
    assert leader["conversations"] == 0
    assert leader["online_seconds"] == 86400.0
    assert leader["slot_seconds"] == 172800.0  # two slots x 24 h
    assert leader["occupancy"] == 1.0  # 172800 / (2 * 86400)
