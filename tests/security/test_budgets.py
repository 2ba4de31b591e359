"""Per-user budgets and busy pools (issue 8, finding 3): a refusal with a time to retry,
for the one who spends too much, and nobody else."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from teamtalk.models import Role
from tests.clients import connected, request, sign_in
from tests.conftest import Backend, harness_with, serving


async def test_costly_reads_share_one_budget_per_user(backend: Backend) -> None:
    async with harness_with(backend, reads_burst=3, reads_per_minute=6) as harness:
        leader, other = await harness.user(Role.TEAMLEADER), await harness.user(Role.TEAMLEADER)
        async with harness.signed_in(leader) as client, harness.signed_in(other) as bystander:
            for path in ("/api/conversations", "/api/search?q=refund", "/api/conversations"):
                assert (await client.get(path)).status_code == 200
            refused = await client.get("/api/search?q=refund")
            assert refused.status_code == 429
            error = refused.json()["error"]
            assert error["code"] == "rate_limited"
            assert 1 <= error["details"]["retry_after"] <= 10
            assert refused.headers["Retry-After"] == str(error["details"]["retry_after"])
            # Cheap reads and other users go on.
            assert (await client.get("/api/me")).status_code == 200
            assert (await bystander.get("/api/conversations")).status_code == 200


async def test_sync_spends_from_the_reads_budget(backend: Backend) -> None:
    async with (
        harness_with(backend, reads_burst=2, reads_per_minute=6) as harness,
        serving(harness) as live,
    ):
        agent = await harness.user()
        own = (await request(harness, agent))["conversation"]["id"]
        since = {"since": [{"conversation_id": own, "seq": 0}]}
        async with connected(live, await sign_in(harness, agent)) as probe:
            answers = [await probe.call("sync", since) for _ in range(3)]
            assert [("error" in a) for a in answers] == [False, False, True]
            assert answers[2]["error"]["code"] == "rate_limited"
            # The socket still answers what costs nothing.
            ack = await probe.call("leave_conversation", {"conversation_id": own})
            assert ack == {"conversation_id": own}


async def test_every_socket_event_spends_from_a_budget(backend: Backend) -> None:
    async with (
        harness_with(backend, socket_events_per_minute=4) as harness,
        serving(harness) as live,
    ):
        agent, other = await harness.user(), await harness.user()
        own = (await request(harness, agent))["conversation"]["id"]
        async with (
            connected(live, await sign_in(harness, agent)) as probe,
            connected(live, await sign_in(harness, other)) as bystander,
        ):
            acks = [await probe.call("typing", {"conversation_id": own}) for _ in range(6)]
            codes = [a.get("error", {}).get("code") for a in acks]
            assert codes == [None] * 4 + ["rate_limited"] * 2
            assert acks[-1]["error"]["details"]["retry_after"] >= 1
            ack = await bystander.call("sync", {"since": []})
            assert ack["messages"] == []


async def test_a_busy_database_pool_answers_503_busy(backend: Backend) -> None:
    async with harness_with(backend, db_pool_size=1, db_pool_timeout=0.2) as harness:
        agent = await harness.user()
        async with harness.signed_in(agent) as client:
            held = asyncio.Event()
            release = asyncio.Event()

            async def hold_the_only_connection() -> None:
                async with harness.resources.sessions() as db:
                    await db.execute(text("SELECT 1"))
                    held.set()
                    await release.wait()

            holder = asyncio.create_task(hold_the_only_connection())
            await held.wait()
            try:
                # A route that needs the pool's connection (the session lookup alone reads
                # on SQLite's readers).
                response = await client.get("/api/conversations")
            finally:
                release.set()
                await holder
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "busy"
            assert response.headers["Retry-After"] == "1"
            assert (await client.get("/api/me")).status_code == 200
