"""Prometheus /metrics: what it says parses, moves with the work, and is served only to
loopback clients or with the token."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from teamtalk.api import metrics as metrics_api
from teamtalk.models import Presence, Role, User
from teamtalk.services import presence
from teamtalk.serving import alongside
from teamtalk.worker import Worker
from tests.clients import request
from tests.conftest import Backend, Harness, harness_with

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(harness: Harness, **kw: Any) -> Samples:
    async with harness.client(**kw) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_the_gauges_are_the_monitoring_figures(harness: Harness) -> None:
    res = harness.resources
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT)
    lead = await harness.user(Role.TEAMLEADER, capacity=3)
    away = await harness.user(Role.TEAMLEADER)
    async with res.sessions() as db:
        await presence.set_status(db, res, None, lead.id, Presence.ONLINE)
    async with res.sessions() as db:
        await presence.set_status(db, res, None, away.id, Presence.AWAY)
    await res.redis.sadd(res.keys.online_agents, str(agent.id))
    for _ in range(2):
        await request(harness, agent)
    worker = Worker(res, None)
    await worker.heartbeat()
    found = await scrape(harness)
    async with harness.signed_in(admin) as client:
        o = (await client.get("/api/monitoring/overview")).json()
    assert value(found, "teamtalk_queue_length") == o["queue"]["length"] == 2
    assert value(found, "teamtalk_queue_oldest_wait_seconds") > 0
    assert value(found, "teamtalk_leaders_online", status="online") == 1
    assert value(found, "teamtalk_leaders_online", status="away") == 1
    assert value(found, "teamtalk_agents_online") == o["totals"]["agents_online"] == 1
    assert value(found, "teamtalk_free_slots") == o["totals"]["free_slots"] == 3
    assert value(found, "teamtalk_socket_connections") == 0
    age = value(found, "teamtalk_worker_heartbeat_age_seconds", worker=worker.stats.worker_id)
    assert 0 <= age < 5
    assert value(found, "teamtalk_shared_state_up") == 1
    assert value(found, "process_cpu_seconds_total") > 0


async def test_counters_move_when_assignments_happen(harness: Harness) -> None:
    res = harness.resources
    realtime = harness.fastapi.state.realtime
    agent = await harness.user(Role.AGENT)
    lead = await harness.user(Role.TEAMLEADER)
    before = await scrape(harness)
    async with res.sessions() as db:
        await presence.set_status(db, res, realtime, lead.id, Presence.ONLINE)
    first = (await request(harness, agent))["conversation"]["id"]
    assert await Worker(res, realtime).burst() == 1
    after = await scrape(harness)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("teamtalk_assignments_total") == 1
    assert moved("teamtalk_assignment_latency_seconds_count") == 1
    assert moved("teamtalk_queue_wait_seconds_count") == 1
    assert moved("teamtalk_assignment_latency_seconds_sum") > 0
    assert moved("teamtalk_events_emitted_total", event="assign_conversation") == 1
    assert moved("teamtalk_events_emitted_total", event="monitor_changed") == 3
    assert moved("teamtalk_assignments_failed_total") == 0

    # Redis has the leader online, the database no longer: the attempt fails and is counted.
    async with res.sessions() as db:
        await db.execute(update(User).where(User.id == lead.id).values(presence="offline"))
        await db.commit()
    await request(harness, agent)
    await Worker(res, realtime).step()
    failed = await scrape(harness)
    assert (
        value(failed, "teamtalk_assignments_failed_total")
        - value(after, "teamtalk_assignments_failed_total")
        == 1
    )
    assert value(failed, "teamtalk_assignments_total") == value(after, "teamtalk_assignments_total")

    # Request durations by route template, never by raw path.
    async with harness.signed_in(agent) as client:
        assert (await client.get(f"/api/conversations/{first}")).status_code == 200
    timed = await scrape(harness)
    route = "/api/conversations/{conversation_id}"
    key = {"method": "GET", "route": route, "status": "200"}
    assert value(timed, "teamtalk_http_request_duration_seconds_count", **key) >= 1
    routes = {
        dict(labels)["route"]
        for name, labels in timed
        if name.startswith("teamtalk_http_request_duration_seconds")
    }
    assert f"/api/conversations/{first}" not in routes and route in routes
    assert {"/api/auth/login", "/metrics"} <= routes and "unmatched" not in routes


async def test_loopback_only_without_a_token(harness: Harness) -> None:
    outside = ("10.1.2.3", 5000)
    async with harness.client(client=outside) as client:
        refused = await client.get("/metrics")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "metrics_forbidden"
    await scrape(harness)  # loopback
    async with harness.client(headers={"X-Forwarded-For": "203.0.113.9"}) as client:
        relayed = await client.get("/metrics")  # a proxy on this host relaying a stranger
    assert relayed.status_code == 403


async def test_a_token_opens_it_to_others(backend: Backend) -> None:
    async with harness_with(backend, metrics_token="s3cret-scrape") as harness:
        outside = ("10.1.2.3", 5000)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-scrape"}):
            async with harness.client(client=outside, headers=headers) as client:
                refused = await client.get("/metrics")
            assert refused.status_code == 403, headers
            assert refused.json()["error"]["code"] == "metrics_forbidden"
        found = await scrape(
            harness, client=outside, headers={"Authorization": "Bearer s3cret-scrape"}
        )
        assert "teamtalk_queue_length" in {name for name, _ in found}
        await scrape(harness)  # loopback needs none


async def test_the_worker_serves_its_own(harness: Harness) -> None:
    res = harness.resources
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    worker = Worker(res, None)
    stop = asyncio.Event()
    task = asyncio.create_task(
        alongside(worker.run(stop), metrics_api.app(res), harness.settings, port, stop)
    )
    try:
        found: Samples = {}
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                try:
                    response = await client.get(f"http://127.0.0.1:{port}/metrics")
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
                    continue
                found = samples(response.text)
                if (
                    "teamtalk_worker_heartbeat_age_seconds",
                    (("worker", worker.stats.worker_id),),
                ) in found:
                    break
                await asyncio.sleep(0.05)
        assert value(found, "teamtalk_queue_length") == 0
        assert (
            value(found, "teamtalk_worker_heartbeat_age_seconds", worker=worker.stats.worker_id)
            >= 0
        )
        assert (
            "teamtalk_worker_heartbeat_age_seconds",
            (("worker", worker.stats.worker_id),),
        ) in found
    finally:
        stop.set()
        await task
