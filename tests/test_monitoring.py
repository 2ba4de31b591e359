"""The supervisors' monitoring API: every figure of a known state, and the live push."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from teamtalk import cli
from teamtalk.models import (
    Conversation,
    ConversationEvent,
    OutboxEntry,
    Presence,
    PresenceChange,
    Role,
    Status,
    utcnow,
)
from teamtalk.services import presence
from teamtalk.services.monitoring import percentile
from teamtalk.worker import Worker
from tests.clients import connected, request, sign_in
from tests.conftest import Harness, LiveServer
from tests.history_factories import make_conversation, make_topic


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def backdate(harness: Harness, conversation_id: int, created: datetime) -> None:
    async with harness.resources.sessions() as db:
        await db.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(created_at=created, queued_at=created)
        )
        await db.commit()


async def event_at(harness: Harness, conversation_id: int, type: str, at: datetime) -> None:
    async with harness.resources.sessions() as db:
        await db.execute(
            update(ConversationEvent)
            .where(
                ConversationEvent.conversation_id == conversation_id,
                ConversationEvent.type == type,
            )
            .values(created_at=at)
        )
        await db.commit()


async def add_event(
    harness: Harness, conversation_id: int, type: str, at: datetime, **kw: Any
) -> None:
    async with harness.resources.sessions() as db:
        db.add(ConversationEvent(conversation_id=conversation_id, type=type, created_at=at, **kw))
        await db.commit()


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([10.0, 30.0], 0.5) == 20.0
    assert percentile([10.0, 30.0, 100.0], 0.9) == pytest.approx(86.0)


async def test_every_figure_of_a_known_state(live: LiveServer) -> None:
    harness = live.harness
    res = harness.resources
    realtime = harness.fastapi.state.realtime
    admin = await harness.user(Role.ADMIN)
    ann = await harness.user(Role.AGENT, display_name="Ann")
    lena = await harness.user(Role.TEAMLEADER, capacity=2, display_name="Lena")
    max_ = await harness.user(Role.TEAMLEADER, capacity=3, display_name="Max")
    olga = await harness.user(Role.TEAMLEADER, capacity=4, display_name="Olga")
    async with res.sessions() as db:
        await presence.set_status(db, res, realtime, lena.id, Presence.ONLINE)
    async with res.sessions() as db:
        await presence.set_status(db, res, realtime, max_.id, Presence.AWAY)
    async with (
        connected(live, await sign_in(harness, admin)),
        connected(live, await sign_in(harness, ann)),
    ):
        c1, c2, c3, c4 = [(await request(harness, ann))["conversation"]["id"] for _ in range(4)]
        worker = Worker(res, realtime)
        assert await worker.burst() == 2  # Lena's two slots: c1 and c2
        await worker.heartbeat()
        await realtime.heartbeat()

        # The history, at known times before `t`.
        t = utcnow()
        await backdate(harness, c1, t - timedelta(seconds=600))
        await event_at(harness, c1, "assigned", t - timedelta(seconds=590))  # 10 s
        await backdate(harness, c2, t - timedelta(seconds=300))
        await event_at(harness, c2, "assigned", t - timedelta(seconds=270))  # 30 s
        await backdate(harness, c3, t - timedelta(seconds=200))  # waits 200 s: a warning
        await backdate(harness, c4, t - timedelta(seconds=5))
        await add_event(harness, c3, "assignment_failed", t - timedelta(seconds=100))
        await add_event(harness, c4, "assignment_failed", t - timedelta(hours=3))
        old = await make_conversation(harness, ann, created_at=t - timedelta(hours=5))
        await add_event(
            harness, old.id, "assigned", t - timedelta(hours=5) + timedelta(seconds=100),
            to_leader_id=max_.id,
        )  # fmt: skip
        await make_conversation(  # withdrawn before anyone took it
            harness, ann, status=Status.CANCELLED, created_at=t - timedelta(hours=2)
        )
        async with res.sessions() as db:
            lena_since = await db.scalar(
                select(PresenceChange.created_at).where(PresenceChange.user_id == lena.id)
            )
            max_since = await db.scalar(
                select(PresenceChange.created_at).where(PresenceChange.user_id == max_.id)
            )

        async with harness.signed_in(admin) as client:
            response = await client.get("/api/monitoring/overview")
        assert response.status_code == 200, response.text
        o = response.json()
    now = parse(o["at"])
    assert t <= now < t + timedelta(seconds=10)
    elapsed = (now - t).total_seconds()

    # Workers.
    (w,) = o["workers"]
    assert w["worker_id"] == worker.stats.worker_id
    assert (w["processed"], w["errors"], w["parked"]) == (2, 0, 0)
    assert w["poll_interval_seconds"] == worker.stats.interval
    assert 0 <= w["heartbeat_age_seconds"] < 10 + elapsed
    assert parse(w["last_processed_at"]) <= now

    # The queue: c3 then c4, in serving order.
    queue = o["queue"]
    assert queue["length"] == 2 and not queue["truncated"]
    assert (queue["in_flight"], queue["parked"]) == (0, 0)
    assert [q["conversation_id"] for q in queue["requests"]] == [c3, c4]
    assert [q["position"] for q in queue["requests"]] == [1, 2]
    assert {q["routing"] for q in queue["requests"]} == {"waiting"}
    assert queue["requests"][0]["agent_name"] == "Ann"
    assert queue["requests"][0]["wait_seconds"] == pytest.approx(200 + elapsed, abs=0.01)
    assert queue["requests"][1]["wait_seconds"] == pytest.approx(5 + elapsed, abs=0.01)
    assert queue["oldest_wait_seconds"] == pytest.approx(200 + elapsed, abs=0.01)

    # Leaders, by name.
    assert [(x["display_name"], x["status"], x["capacity"], x["held"], x["free"])
            for x in o["leaders"]] == [
        ("Lena", "online", 2, 2, 0),
        ("Max", "away", 3, 0, 3),
        ("Olga", "offline", 4, 0, 4),
    ]  # fmt: skip
    lena_out, max_out, olga_out = o["leaders"]
    assert parse(lena_out["status_since"]) == lena_since
    assert parse(max_out["status_since"]) == max_since
    assert olga_out["status_since"] is None and olga.id == olga_out["id"]
    assert parse(lena_out["last_assigned_at"]) == t - timedelta(seconds=270)
    assert parse(max_out["last_assigned_at"]) == t - timedelta(hours=5) + timedelta(seconds=100)
    assert olga_out["last_assigned_at"] is None
    assert all(x["disconnected_since"] is None for x in o["leaders"])

    assert o["totals"] == {
        "agents_online": 1,
        "leaders_online": 1,
        "leaders_away": 1,
        "free_slots": 0,
    }

    # Assignments over 15 min, 4 h, 8 h: first-assignment latencies 10 s, 30 s (and 100 s).
    windows = {a["window"]: a for a in o["assignments"]}
    assert windows["15m"] == {
        "window": "15m",
        "seconds": 900,
        "assigned": 2,
        "failed": 1,
        "success_rate": pytest.approx(2 / 3),
        "latency_avg_seconds": pytest.approx(20),
        "latency_p50_seconds": pytest.approx(20),
        "latency_p90_seconds": pytest.approx(28),
    }
    assert windows["4h"] | {"success_rate": 0} == windows["15m"] | {
        "window": "4h", "seconds": 14400, "failed": 2, "success_rate": 0,
    }  # fmt: skip
    assert windows["4h"]["success_rate"] == pytest.approx(0.5)
    assert windows["8h"] == {
        "window": "8h",
        "seconds": 28800,
        "assigned": 3,
        "failed": 2,
        "success_rate": pytest.approx(0.6),
        "latency_avg_seconds": pytest.approx(140 / 3),
        "latency_p50_seconds": pytest.approx(30),
        "latency_p90_seconds": pytest.approx(86),
    }

    # Service level at 30/60/120 s: c1 and c2 within; c3 (waiting 200 s) and the withdrawn
    # one (2 h ago) missed; c4 (5 s) undecided.
    levels = {s["window"]: s for s in o["service_level"]}
    assert [(s["threshold_seconds"], s["within"], s["total"]) for s in levels["15m"]["splits"]] == [
        (30, 2, 3),
        (60, 2, 3),
        (120, 2, 3),
    ]
    assert [(s["within"], s["total"]) for s in levels["4h"]["splits"]] == [(2, 4)] * 3
    assert levels["4h"]["splits"][0]["share"] == pytest.approx(0.5)
    midnight = datetime.combine(now.date(), datetime.min.time(), UTC)
    assert parse(levels["today"]["since"]) == midnight
    today = [
        (created, first)
        for created, first in [
            (t - timedelta(seconds=600), 10),
            (t - timedelta(seconds=300), 30),
            (t - timedelta(seconds=200), None),
            (t - timedelta(hours=2), None),
            (t - timedelta(hours=5), 100),
        ]
        if created >= midnight
    ]
    for split in levels["today"]["splits"]:
        limit = split["threshold_seconds"]
        decided = [f for _, f in today if f is not None or limit < 200]
        assert split["total"] == len(decided)
        assert split["within"] == sum(1 for f in decided if f is not None and f <= limit)

    # Warnings: c3 has waited past 120 s; a leader is online.
    assert o["warnings"] == [
        {
            "code": "long_wait",
            "message": "A request has waited over 120 s.",
            "conversation_id": c3,
            "wait_seconds": pytest.approx(200 + elapsed, abs=0.01),
        }
    ]

    # Real time: the admin's and Ann's sockets on this one server.
    rt = o["realtime"]
    assert (rt["servers"], rt["socket_connections"]) == (1, 2)
    assert rt["rooms"] == {
        "admins": {"rooms": 1, "members": 1},
        "user": {"rooms": 2, "members": 2},
    }
    emitted = rt["events_emitted"]
    assert emitted["ack_status"] == 2  # Lena's and Max's status
    assert emitted["assign_conversation"] == 2
    # Leader statuses (2), the four requests, the assignment batch: each one event.
    assert emitted["monitor_changed"] == 7

    # The last hour, a minute a point.
    series = o["series"]
    assert len(series) == 60
    start = parse(series[0]["minute"])
    assert start == now.replace(second=0, microsecond=0) - timedelta(minutes=59)

    def minute(at: datetime) -> int:
        return int((at - start).total_seconds() // 60)

    for i, point in enumerate(series):
        assert parse(point["minute"]) == start + timedelta(minutes=i)
        expected_created = sum(
            1 for s in (600, 300, 200, 5) if minute(t - timedelta(seconds=s)) == i
        )
        assert point["created"] == expected_created, i
        waits = [w for s, w in ((590, 10), (270, 30)) if minute(t - timedelta(seconds=s)) == i]
        assert point["assigned"] == len(waits)
        if waits:
            assert point["avg_wait_seconds"] == pytest.approx(sum(waits) / len(waits))
        else:
            assert point["avg_wait_seconds"] is None


async def test_warns_when_requests_wait_with_no_leader_online(harness: Harness) -> None:
    res = harness.resources
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT)
    lead = await harness.user(Role.TEAMLEADER)
    async with res.sessions() as db:
        await presence.set_status(db, res, None, lead.id, Presence.AWAY)
    waiting = (await request(harness, agent))["conversation"]["id"]
    async with harness.signed_in(admin) as client:
        o = (await client.get("/api/monitoring/overview")).json()
    assert o["warnings"] == [
        {
            "code": "no_leader_online",
            "message": "1 waiting and no team leader online.",
            "conversation_id": None,
            "wait_seconds": None,
        }
    ]
    assert o["queue"]["requests"][0]["conversation_id"] == waiting
    assert o["totals"]["leaders_away"] == 1 and o["totals"]["free_slots"] == 0


async def test_today_is_the_asked_time_zone_s_and_bad_zones_are_refused(
    harness: Harness,
) -> None:
    admin = await harness.user(Role.ADMIN)
    async with harness.signed_in(admin) as client:
        o = await client.get("/api/monitoring/overview", params={"tz": "Pacific/Kiritimati"})
        assert o.status_code == 200, o.text
        body = o.json()
        for bad in ("Mars/Olympus", "../../etc/passwd", "Europe"):
            refused = await client.get("/api/monitoring/overview", params={"tz": bad})
            assert refused.status_code == 422, bad
            assert refused.json()["error"]["code"] == "invalid_time_zone"
    zone = ZoneInfo("Pacific/Kiritimati")
    local = parse(body["at"]).astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
    today = next(s for s in body["service_level"] if s["window"] == "today")
    assert parse(today["since"]) == midnight
    assert body["queue"] == {
        "length": 0,
        "oldest_wait_seconds": 0.0,
        "requests": [],
        "truncated": False,
        "in_flight": 0,
        "parked": 0,
    }


async def test_admins_hear_routing_changes_after_the_commit(live: LiveServer) -> None:
    harness = live.harness
    res = harness.resources
    realtime = harness.fastapi.state.realtime
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT)
    lead = await harness.user(Role.TEAMLEADER)
    async with (
        connected(live, await sign_in(harness, admin)) as admin_socket,
        connected(live, await sign_in(harness, agent)) as agent_socket,
    ):
        created = (await request(harness, agent))["conversation"]["id"]
        heard = await admin_socket.expect("monitor_changed")
        assert heard == {
            "changes": [{"what": "queued", "conversation_id": created, "leader_id": None}]
        }
        async with res.sessions() as db:  # it is in the outbox, as every committed event
            texts = list(await db.scalars(select(OutboxEntry.events)))
        assert any("monitor_changed" in text and f'"conversation_id":{created}' in text
                   for text in texts)  # fmt: skip

        async with res.sessions() as db:
            await presence.set_status(db, res, realtime, lead.id, Presence.ONLINE)
        heard = await admin_socket.expect("monitor_changed")
        assert heard["changes"] == [
            {"what": "leader_status", "conversation_id": None, "leader_id": lead.id}
        ]
        await Worker(res, realtime).burst()
        heard = await admin_socket.expect("monitor_changed")
        assert heard["changes"] == [
            {"what": "assigned", "conversation_id": created, "leader_id": lead.id}
        ]
        # Going offline returns the basket: one event for both facts.
        async with res.sessions() as db:
            await presence.set_status(db, res, realtime, lead.id, Presence.OFFLINE)
        heard = await admin_socket.expect("monitor_changed")
        assert heard["changes"] == [
            {"what": "returned", "conversation_id": created, "leader_id": lead.id},
            {"what": "leader_status", "conversation_id": None, "leader_id": lead.id},
        ]
        async with harness.signed_in(agent) as client:
            withdrawn = await client.post(f"/api/conversations/{created}/withdraw")
        assert withdrawn.status_code == 200, withdrawn.text
        heard = await admin_socket.expect("monitor_changed")
        assert heard["changes"] == [
            {"what": "withdrawn", "conversation_id": created, "leader_id": None}
        ]
    # Only admins are in the room.
    assert "monitor_changed" not in {name for name, _ in agent_socket.log}


async def test_stats_once_prints_the_queue_the_api_shows(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = harness.resources
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT)
    lead = await harness.user(Role.TEAMLEADER, capacity=1, display_name="Lena")
    async with res.sessions() as db:
        await presence.set_status(db, res, None, lead.id, Presence.ONLINE)
    for _ in range(4):
        await request(harness, agent)
    worker = Worker(res, None)
    await worker.burst()
    await worker.heartbeat()
    async with harness.signed_in(admin) as client:
        o = (await client.get("/api/monitoring/overview")).json()
    assert o["queue"]["length"] == 3
    backend = harness.backend
    for name, env in (
        ("DATABASE_URL", backend.database_url),
        ("REDIS_URL", backend.redis_url),
        ("TEAMTALK_REDIS_PREFIX", backend.prefix),
        ("TEAMTALK_SECRET_KEY", "test-secret"),
        ("TEAMTALK_DATA_DIR", str(backend.data_dir)),
    ):
        monkeypatch.setenv(name, env)
    monkeypatch.setenv("COLUMNS", "160")
    result = await asyncio.to_thread(CliRunner().invoke, cli.app, ["stats", "--once"])
    assert result.exit_code == 0, result.output
    found = re.search(r"Queue length: (\d+)", result.output)
    assert found is not None, result.output
    assert int(found[1]) == o["queue"]["length"]
    assert "Lena" in result.output and "1/1" in result.output  # her basket
    assert worker.stats.worker_id in result.output


async def test_each_leader_s_held_conversations_oldest_first(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    ann = await harness.user(Role.AGENT, display_name="Ann")
    lena = await harness.user(Role.TEAMLEADER, display_name="Lena")
    await harness.user(Role.TEAMLEADER, display_name="Max")
    billing = await make_topic(harness, "Billing")
    t = utcnow().replace(microsecond=0)
    newer = await make_conversation(harness, ann, status=Status.ASSIGNED, leaders=[lena])
    older = await make_conversation(
        harness, ann, status=Status.ASSIGNED, leaders=[lena], topic_id=billing
    )
    await make_conversation(harness, ann, status=Status.SOLVED, leaders=[lena])
    async with harness.resources.sessions() as db:
        for made, ago in ((newer, 10), (older, 60)):
            await db.execute(
                update(Conversation)
                .where(Conversation.id == made.id)
                .values(assigned_at=t - timedelta(seconds=ago))
            )
        await db.commit()
    async with harness.signed_in(admin) as client:
        o = (await client.get("/api/monitoring/overview")).json()
    lena_out, max_out = o["leaders"]
    assert lena_out["held"] == 2 and max_out["conversations"] == []
    assert [
        (c["conversation_id"], c["agent_name"], c["topic_name"], parse(c["assigned_at"]))
        for c in lena_out["conversations"]
    ] == [
        (older.id, "Ann", "Billing", t - timedelta(seconds=60)),
        (newer.id, "Ann", None, t - timedelta(seconds=10)),
    ]
