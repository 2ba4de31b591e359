"""Reports: every figure of a hand-built day, worked out by hand; filters, CSV, refusals.

The floor, Monday 2 March 2026, in UTC (times below are HH:MM that day):

  Ann (capacity 2): online 08:00, away 13:20, online 13:50, offline 17:00.
  Bob (capacity 4): online 1 March 22:00, offline 02:00, online 09:00, offline 13:00.

  C0  1 Mar 23:00  Billing   assigned Bob 23:30, solved by Bob 00:30 (before the range)
  C1  09:00  Billing   A1  assigned Ann 09:01; Ann writes 09:01:30; solved Ann 09:11;
                           closed 09:41
  C2  09:10  Billing   A1  assigned Ann 09:12; Ann writes 09:15; transferred Ann->Bob
                           09:20; solved Bob 09:40; reopened 09:50; assigned Bob 09:52;
                           solved Bob 10:00; closed 10:30
  C3  10:00  Shipping  A2  assigned Bob 10:05 (a system message, the agent writes: no
                           leader does); pending Bob 10:30; requeued 11:00; assigned Ann
                           11:02; solved Ann 11:20
  C4  11:00  -         A2  withdrawn 11:30
  C5  12:00  Shipping  A1  assigned Bob 12:10; Bob writes 12:30; returned (Bob offline)
                           13:00; assigned Ann 13:01; Ann back to the queue 13:30;
                           withdrawn 13:40
  C6  14:00  Billing   A2  assigned Ann 14:20; Ann writes 15:30; pending Ann 15:40
  C7  15:00  Shipping  A1  assigned Ann 15:00:30; Ann writes 15:10:30; solved Ann 15:30:30
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from teamtalk.api.reports import TABLES
from teamtalk.models import Role, User
from teamtalk.services import reports
from teamtalk.services.cohort import nearest_rank
from teamtalk.services.periods import Period
from teamtalk.services.reports import Scope
from tests.conftest import Backend, Harness, harness_with
from tests.history_factories import make_topic
from tests.report_factories import Ev, make_history, make_presence, utc

DAY = {"from": "2026-03-02", "to": "2026-03-02", "tz": "UTC"}


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    # The drill-down checks read the history many times; the reads budget has its tests.
    async with harness_with(backend, reads_burst=100_000) as h:
        yield h


def t(hour: int, minute: int, second: int = 0) -> Any:
    return utc(2026, 3, 2, hour, minute, second)


@dataclass
class Floor:
    admin: User
    ann: User
    bob: User
    a1: User
    a2: User
    billing: int
    shipping: int
    c: dict[int, int]  # C0..C7 -> conversation id


async def make_floor(harness: Harness) -> Floor:
    admin = await harness.user(Role.ADMIN)
    ann = await harness.user(Role.TEAMLEADER, display_name="Ann", capacity=2)
    bob = await harness.user(Role.TEAMLEADER, display_name="Bob", capacity=4)
    a1 = await harness.user(Role.AGENT, display_name="Agent 1")
    a2 = await harness.user(Role.AGENT, display_name="Agent 2")
    billing = await make_topic(harness, "Billing")
    shipping = await make_topic(harness, "Shipping")
    await make_presence(
        harness,
        ann,
        [(t(8, 0), "online"), (t(13, 20), "away"), (t(13, 50), "online"), (t(17, 0), "offline")],
    )
    await make_presence(
        harness,
        bob,
        [
            (utc(2026, 3, 1, 22, 0), "online"),
            (t(2, 0), "offline"),
            (t(9, 0), "online"),
            (t(13, 0), "offline"),
        ],
    )
    c = {}
    c[0] = await make_history(
        harness,
        a1,
        utc(2026, 3, 1, 23, 0),
        [Ev("assigned", utc(2026, 3, 1, 23, 30), to=bob), Ev("solved", t(0, 30), by=bob)],
        topic_id=billing,
    )
    c[1] = await make_history(
        harness,
        a1,
        t(9, 0),
        [
            Ev("assigned", t(9, 1), to=ann),
            Ev("solved", t(9, 11), by=ann),
            Ev("closed", t(9, 41)),
        ],
        topic_id=billing,
        said=[(a1, t(9, 0)), (ann, t(9, 1, 30))],
    )
    c[2] = await make_history(
        harness,
        a1,
        t(9, 10),
        [
            Ev("assigned", t(9, 12), to=ann),
            Ev("transferred", t(9, 20), by=ann, to=bob),
            Ev("solved", t(9, 40), by=bob),
            Ev("reopened", t(9, 50), by=bob),
            Ev("assigned", t(9, 52), to=bob),
            Ev("solved", t(10, 0), by=bob),
            Ev("closed", t(10, 30)),
        ],
        topic_id=billing,
        said=[(a1, t(9, 10)), (ann, t(9, 15)), (bob, t(9, 25)), (a1, t(9, 50))],
    )
    c[3] = await make_history(
        harness,
        a2,
        t(10, 0),
        [
            Ev("assigned", t(10, 5), to=bob),
            Ev("pending", t(10, 30), by=bob),
            Ev("requeued", t(11, 0), by=bob),
            Ev("assigned", t(11, 2), to=ann),
            Ev("solved", t(11, 20), by=ann),
        ],
        topic_id=shipping,
        said=[(a2, t(10, 0)), (None, t(10, 5)), (a2, t(10, 6))],
    )
    c[4] = await make_history(harness, a2, t(11, 0), [Ev("withdrawn", t(11, 30))])
    c[5] = await make_history(
        harness,
        a1,
        t(12, 0),
        [
            Ev("assigned", t(12, 10), to=bob),
            Ev("returned", t(13, 0), by=bob),
            Ev("assigned", t(13, 1), to=ann),
            Ev("transferred", t(13, 30), by=ann),
            Ev("withdrawn", t(13, 40)),
        ],
        topic_id=shipping,
        said=[(bob, t(12, 30))],
    )
    c[6] = await make_history(
        harness,
        a2,
        t(14, 0),
        [Ev("assigned", t(14, 20), to=ann), Ev("pending", t(15, 40), by=ann)],
        topic_id=billing,
        said=[(ann, t(15, 30))],
    )
    c[7] = await make_history(
        harness,
        a1,
        t(15, 0),
        [Ev("assigned", t(15, 0, 30), to=ann), Ev("solved", t(15, 30, 30), by=ann)],
        topic_id=shipping,
        said=[(ann, t(15, 10, 30))],
    )
    return Floor(admin, ann, bob, a1, a2, billing, shipping, c)


async def get_json(client: httpx.AsyncClient, path: str, params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def history_ids(client: httpx.AsyncClient, query: str) -> set[int]:
    """Every conversation the history lists for a row's drill-down query."""
    ids: set[int] = set()
    cursor = ""
    for _ in range(50):
        body = await get_json(client, f"/api/conversations?{query}&limit=100{cursor}", None)
        ids |= {c["id"] for c in body["conversations"]}
        if body["next_cursor"] is None:
            return ids
        cursor = f"&cursor={body['next_cursor']}"
    raise AssertionError("too many pages")


def test_nearest_rank_by_hand() -> None:
    # rank = ceil(p/100 * n), 1-based, of the sorted values
    assert nearest_rank([], 90) is None
    assert nearest_rank([7.0], 90) == 7.0
    assert nearest_rank([50, 15, 40, 20, 35], 30) == 20  # ceil(1.5) = 2 -> 20
    assert nearest_rank([50, 15, 40, 20, 35], 40) == 20  # ceil(2.0) = 2 -> 20
    assert nearest_rank([50, 15, 40, 20, 35], 50) == 35  # ceil(2.5) = 3 -> 35
    assert nearest_rank([50, 15, 40, 20, 35], 100) == 50  # ceil(5.0) = 5 -> 50
    assert nearest_rank(list(range(1, 11)), 90) == 9  # ceil(9.0) = 9
    assert nearest_rank(list(range(1, 12)), 90) == 10  # ceil(9.9) = 10
    assert nearest_rank([3, 1, 2], 0) == 1  # rank at least 1


async def test_every_figure_of_a_day(harness: Harness) -> None:
    f = await make_floor(harness)
    async with harness.signed_in(f.admin) as client:
        report = await get_json(client, "/api/reports", DAY)
    assert report["period"] == {
        "first_day": "2026-03-02",
        "last_day": "2026-03-02",
        "tz": "UTC",
        "starts_at": "2026-03-02T00:00:00Z",
        "ends_at": "2026-03-03T00:00:00Z",
    }
    assert report["summary"] == {
        "requests": 7,  # C1..C7; C0 was created the day before
        "assigned": 6,  # all but C4
        # waits C7 30, C1 60, C2 120, C3 300, C5 600, C6 1200: sum 2310 / 6
        "wait_avg_seconds": 385.0,
        "wait_median_seconds": 210.0,  # (120 + 300) / 2
        "wait_p90_seconds": 1200.0,  # rank ceil(0.9 * 6) = 6
        # C1 30, C2 180, C7 600, C5 1200 (Bob's, the first), C6 4200; C3 none: 6210 / 5
        "first_response_avg_seconds": 1242.0,
        # first assigned -> first solved: C1 600, C2 1680 (09:12 -> 09:40), C7 1800,
        # C3 4500 (10:05 -> 11:20): 8580 / 4
        "handle_avg_seconds": 2145.0,
        "handle_median_seconds": 1740.0,  # (1680 + 1800) / 2
    }
    assert report["outcomes"] == [
        {"outcome": "solved", "conversations": 4, "rate": 0.5714},  # C1 C2 C3 C7; 4/7
        {"outcome": "pending", "conversations": 2, "rate": 0.2857},  # C3 C6; 2/7
        {"outcome": "withdrawn", "conversations": 2, "rate": 0.2857},  # C4 C5
        {"outcome": "closed", "conversations": 2, "rate": 0.2857},  # C1 C2
        {"outcome": "transferred", "conversations": 2, "rate": 0.2857},  # C2 (to Bob), C5
        {"outcome": "reopened", "conversations": 1, "rate": 0.1429},  # C2; 1/7
    ]
    # One of the six assigned in each bucket: 1/6 = 0.1667.
    assert report["first_response"] == [
        {"bucket": "under_1m", "conversations": 1, "share": 0.1667},  # C1 30 s
        {"bucket": "1m_5m", "conversations": 1, "share": 0.1667},  # C2 180 s
        {"bucket": "5m_15m", "conversations": 1, "share": 0.1667},  # C7 600 s
        {"bucket": "15m_60m", "conversations": 1, "share": 0.1667},  # C5 1200 s
        {"bucket": "over_60m", "conversations": 1, "share": 0.1667},  # C6 4200 s
        {"bucket": "none", "conversations": 1, "share": 0.1667},  # C3
    ]
    ann, bob = report["leaders"]
    assert without_query(ann) == {
        "leader_id": f.ann.id,
        "display_name": "Ann",
        "capacity": 2,
        "conversations": 6,  # C1 C2 C3 C5 C6 C7
        "assignments": 6,  # one each
        "load_share": 0.6,  # 6 of 10 (Bob 4: C2 twice, C3, C5)
        "solved": 3,  # first solves: C1, C3, C7
        "handle_avg_seconds": 2300.0,  # (600 + 4500 + 1800) / 3
        # 08:00-13:20 19200 + 13:50-17:00 11400
        "online_seconds": 30600.0,
        "away_seconds": 1800.0,  # 13:20-13:50
        # C1 600 + C2 480 + C3 1080 + C5 1140 (13:01-13:20; away till 13:30) + C6 4800
        # + C7 1800
        "slot_seconds": 9900.0,
        "occupancy": 0.1618,  # 9900 / (2 * 30600)
    }
    assert without_query(bob) == {
        "leader_id": f.bob.id,
        "display_name": "Bob",
        "capacity": 4,
        "conversations": 3,  # C2 C3 C5
        "assignments": 4,
        "load_share": 0.4,  # 4 of 10
        "solved": 1,  # C2's first solve; its second (10:00) is not a first
        "handle_avg_seconds": 1680.0,
        # online since the day before: 00:00-02:00 7200 + 09:00-13:00 14400
        "online_seconds": 21600.0,
        "away_seconds": 0.0,
        # C0 1800 (00:00-00:30) + C2 1200 + 480 + C3 1500 + C5 3000
        "slot_seconds": 7980.0,
        "occupancy": 0.0924,  # 7980 / (4 * 21600) = 0.09236
    }
    assert [without_query(r) for r in report["topics"]] == [
        # C1 C2 C6; solved C1 C2: (600 + 1680) / 2
        {
            "topic_id": f.billing,
            "name": "Billing",
            "requests": 3,
            "solved": 2,
            "handle_avg_seconds": 1140.0,
        },
        # C3 C5 C7; solved C3 C7: (4500 + 1800) / 2
        {
            "topic_id": f.shipping,
            "name": "Shipping",
            "requests": 3,
            "solved": 2,
            "handle_avg_seconds": 3150.0,
        },
        {"topic_id": None, "name": None, "requests": 1, "solved": 0, "handle_avg_seconds": None},
    ]
    cells = {(c["weekday"], c["hour"]): c["requests"] for c in report["heatmap"]}
    assert len(cells) == 7 * 24
    busy = {k: v for k, v in cells.items() if v}
    assert busy == {(1, 9): 2, (1, 10): 1, (1, 11): 1, (1, 12): 1, (1, 14): 1, (1, 15): 1}
    assert [without_query(d) for d in report["daily"]] == [
        {"day": "2026-03-02", "requests": 7, "assigned": 6, "solved": 4, "wait_avg_seconds": 385.0}
    ]


def without_query(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "history_query"}


async def test_every_row_opens_exactly_its_conversations(harness: Harness) -> None:
    f = await make_floor(harness)
    c = f.c
    async with harness.signed_in(f.admin) as client:
        report = await get_json(client, "/api/reports", DAY)
        leaders = {r["display_name"]: r["history_query"] for r in report["leaders"]}
        assert await history_ids(client, leaders["Ann"]) == {c[n] for n in (1, 2, 3, 5, 6, 7)}
        assert await history_ids(client, leaders["Bob"]) == {c[2], c[3], c[5]}
        topics = {r["name"]: r["history_query"] for r in report["topics"]}
        assert await history_ids(client, topics["Billing"]) == {c[1], c[2], c[6]}
        assert await history_ids(client, topics["Shipping"]) == {c[3], c[5], c[7]}
        assert await history_ids(client, topics[None]) == {c[4]}
        (day,) = report["daily"]
        assert await history_ids(client, day["history_query"]) == {c[n] for n in range(1, 8)}
        wanted = {(1, 9): {c[1], c[2]}, (1, 10): {c[3]}, (1, 11): {c[4]}, (1, 12): {c[5]}}
        wanted |= {(1, 14): {c[6]}, (1, 15): {c[7]}}
        for cell in report["heatmap"]:
            key = (cell["weekday"], cell["hour"])
            got = await history_ids(client, cell["history_query"])
            assert got == wanted.get(key, set()), key


async def test_filters(harness: Harness) -> None:
    f = await make_floor(harness)
    async with harness.signed_in(f.admin) as client:
        billing = await get_json(client, "/api/reports", {**DAY, "topic_id": f.billing})
        assert billing["summary"]["requests"] == 3  # C1 C2 C6
        assert billing["summary"]["wait_avg_seconds"] == 460.0  # (60 + 120 + 1200) / 3
        assert billing["summary"]["wait_p90_seconds"] == 1200.0  # rank ceil(2.7) = 3
        assert [r["name"] for r in billing["topics"]] == ["Billing"]
        ann, bob = billing["leaders"]
        # Ann: C1 C2 C6 once each; Bob: C2 twice; 3 + 2 = 5
        assert (ann["conversations"], ann["assignments"], ann["load_share"]) == (3, 3, 0.6)
        assert (bob["conversations"], bob["assignments"], bob["load_share"]) == (1, 2, 0.4)
        # Only Billing's slots: Ann C1 600 + C2 480 + C6 4800; Bob C0 1800 + C2 1680
        assert (ann["slot_seconds"], ann["occupancy"]) == (5880.0, 0.0961)  # / 61200
        assert (bob["slot_seconds"], bob["occupancy"]) == (3480.0, 0.0403)  # / 86400
        assert (ann["online_seconds"], bob["online_seconds"]) == (30600.0, 21600.0)

        held_by_bob = await get_json(client, "/api/reports", {**DAY, "leader_id": f.bob.id})
        assert held_by_bob["summary"]["requests"] == 3  # C2 C3 C5
        (only,) = held_by_bob["leaders"]  # a leader filter: that leader's row only
        assert only["leader_id"] == f.bob.id
        # Assignments on C2 C3 C5: Ann 3 (one each), Bob 4: 4 / 7
        assert (only["assignments"], only["load_share"]) == (4, 0.5714)
        assert (only["slot_seconds"], only["occupancy"]) == (7980.0, 0.0924)
        assert await history_ids(client, only["history_query"]) == {f.c[2], f.c[3], f.c[5]}

        of_a2 = await get_json(client, "/api/reports", {**DAY, "agent_id": f.a2.id})
        assert of_a2["summary"]["requests"] == 3  # C3 C4 C6
        assert of_a2["summary"]["assigned"] == 2
        assert of_a2["summary"]["wait_avg_seconds"] == 750.0  # (300 + 1200) / 2
        for cell in of_a2["heatmap"]:
            got = await history_ids(client, cell["history_query"])
            assert len(got) == cell["requests"]
            assert got <= {f.c[3], f.c[4], f.c[6]}


async def test_a_range_with_nothing_in_it(harness: Harness) -> None:
    f = await make_floor(harness)
    params = {"from": "2026-02-01", "to": "2026-02-07", "tz": "UTC"}
    async with harness.signed_in(f.admin) as client:
        report = await get_json(client, "/api/reports", params)
    assert report["summary"] == {
        "requests": 0,
        "assigned": 0,
        "wait_avg_seconds": None,
        "wait_median_seconds": None,
        "wait_p90_seconds": None,
        "first_response_avg_seconds": None,
        "handle_avg_seconds": None,
        "handle_median_seconds": None,
    }
    assert {(o["conversations"], o["rate"]) for o in report["outcomes"]} == {(0, None)}
    assert {(b["conversations"], b["share"]) for b in report["first_response"]} == {(0, None)}
    # Both leaders' logs start in March, from offline: no time in February.
    assert report["leaders"] == []
    assert report["topics"] == []
    assert {c["requests"] for c in report["heatmap"]} == {0}
    assert [d["day"] for d in report["daily"]] == [f"2026-02-0{n}" for n in range(1, 8)]
    assert {(d["requests"], d["wait_avg_seconds"]) for d in report["daily"]} == {(0, None)}


def csv_cell(value: Any) -> str:
    """The JSON value as the CSV writes it: its JSON text, strings bare, null empty."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


async def test_every_table_as_csv_equals_its_json(harness: Harness) -> None:
    f = await make_floor(harness)
    async with harness.signed_in(f.admin) as client:
        whole = await get_json(client, "/api/reports", DAY)
        for name, *_ in TABLES:
            table = await get_json(client, f"/api/reports/{name}", DAY)
            assert table["period"] == whole["period"]
            response = await client.get(f"/api/reports/{name}.csv", params=DAY)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "text/csv; charset=utf-8"
            assert (
                f"teamtalk-{name}-2026-03-02-2026-03-02.csv"
                in (response.headers["content-disposition"])
            )
            rows = list(csv.reader(io.StringIO(response.text)))
            assert rows[0] == list(table["rows"][0]), name
            expected = [[csv_cell(v) for v in row.values()] for row in table["rows"]]
            assert rows[1:] == expected, name
            assert len(expected) >= 1
        assert (await get_json(client, "/api/reports/leaders", DAY))["rows"] == whole["leaders"]


async def test_a_spreadsheet_formula_in_a_name_is_not_run(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT)
    topic = await make_topic(harness, "=HYPERLINK(1)")
    await make_history(harness, agent, t(9, 0), topic_id=topic)
    async with harness.signed_in(admin) as client:
        response = await client.get("/api/reports/topics.csv", params=DAY)
        table = await get_json(client, "/api/reports/topics", DAY)
    assert table["rows"][0]["name"] == "=HYPERLINK(1)"
    assert list(csv.reader(io.StringIO(response.text)))[1][1] == "'=HYPERLINK(1)"


def report_routes(harness: Harness) -> list[str]:
    paths = [p for p in harness.fastapi.openapi()["paths"] if p.startswith("/api/reports")]
    assert len(paths) == 1 + 2 * len(TABLES)
    return paths


async def test_only_admins_get_reports(harness: Harness) -> None:
    agent = await harness.user(Role.AGENT)
    leader = await harness.user(Role.TEAMLEADER)
    for user in (agent, leader):
        async with harness.signed_in(user) as client:
            for path in report_routes(harness):
                for params in (DAY, {"from": "2026-03-02", "to": "2026-01-01", "x": "1"}):
                    response = await client.get(path, params=params)
                    assert response.status_code == 403, (user.role, path)
                    assert response.json()["error"]["code"] == "forbidden"
    async with harness.client() as anonymous:
        for path in report_routes(harness):
            assert (await anonymous.get(path, params=DAY)).status_code == 401, path


BAD: list[tuple[dict[str, Any], str]] = [
    ({"from": "2026-03-02", "to": "2026-03-01"}, "range_reversed"),
    ({"from": "2025-01-01", "to": "2026-01-02"}, "range_too_long"),  # 367 days
    ({**DAY, "tz": "Mars/Olympus_Mons"}, "unknown_time_zone"),
    ({**DAY, "tz": "localtime"}, "unknown_time_zone"),
    ({**DAY, "tz": "../../etc/passwd"}, "unknown_time_zone"),
    ({**DAY, "tz": ""}, "unknown_time_zone"),
    ({**DAY, "tz": "x" * 500}, "unknown_time_zone"),
    ({**DAY, "status": "solved"}, "unknown_filter"),
    ({**DAY, "topic": "1"}, "unknown_filter"),
    ({**DAY, "format": "csv"}, "unknown_filter"),
    ({**DAY, "topic_id": "0"}, "invalid"),
    ({**DAY, "leader_id": "abc"}, "invalid"),
    ({**DAY, "agent_id": str(2**63)}, "invalid"),
    ({"from": "2026-3-2", "to": "2026-03-02"}, "invalid"),
    ({"from": "20260302", "to": "2026-03-02"}, "invalid"),
    ({"from": "2026-02-30", "to": "2026-03-02"}, "invalid"),
    ({"from": "1772409600", "to": "2026-03-02"}, "invalid"),
    ({"from": "2026-03-02T00:00:00", "to": "2026-03-02"}, "invalid"),
    ({"to": "2026-03-02"}, "invalid"),
    ({"from": "0001-01-01", "to": "0001-01-01", "tz": "Asia/Tokyo"}, "invalid"),
    ({"from": "9999-12-31", "to": "9999-12-31"}, "invalid"),
]


async def test_bad_input_is_422_with_a_stable_code(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    async with harness.signed_in(admin) as client:
        for path in report_routes(harness):
            for params, code in BAD:
                response = await client.get(path, params=params)
                assert response.status_code == 422, (path, params, response.text)
                assert response.json()["error"]["code"] == code, (path, params)
        # The longest ranges that hold: a leap year, and 366 days across two years.
        for first, last in (("2024-01-01", "2024-12-31"), ("2025-01-01", "2026-01-01")):
            response = await client.get("/api/reports/summary", params={"from": first, "to": last})
            assert response.status_code == 200, response.text


async def test_a_report_costs_the_same_queries_whatever_its_size(harness: Harness) -> None:
    f = await make_floor(harness)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = harness.resources.engine.sync_engine
    costs = []
    for extra in (0, 6):
        for n in range(extra):
            await make_history(
                harness,
                f.a1,
                t(16, n),
                [Ev("assigned", t(16, n + 1), to=f.bob), Ev("solved", t(16, n + 9), by=f.bob)],
                said=[(f.bob, t(16, n + 2))],
            )
        async with harness.resources.sessions() as db:
            statements.clear()
            event.listen(engine, "before_cursor_execute", count)
            try:
                scope = Scope(Period.of(*(t(0, 0).date(),) * 2, "UTC"))
                built = await reports.build(db, f.admin, scope)
            finally:
                event.remove(engine, "before_cursor_execute", count)
        assert built.summary.requests == 7 + extra
        costs.append(len(statements))
    assert costs[0] == costs[1] <= 10, costs
