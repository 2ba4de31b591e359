"""Canned responses: admins manage them, leaders read them, agents see none."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from teamtalk.models import CannedResponse, Role
from tests.conftest import Harness

GREETING = {"title": "Greeting", "body": "Hello! I am looking at your case now."}


async def make(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/canned", json=body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()["canned_response"]
    return made


async def titles(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/api/canned", params=params)
    assert response.status_code == 200, response.text
    return [c["title"] for c in response.json()["canned_responses"]]


async def count(harness: Harness) -> int:
    async with harness.resources.sessions() as session:
        found: int = await session.scalar(select(func.count()).select_from(CannedResponse))
        return found


async def topic(client: httpx.AsyncClient, name: str) -> int:
    response = await client.post("/api/topics", json={"name": name})
    made: int = response.json()["topic"]["id"]
    return made


async def test_admin_creates_edits_and_deletes(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    async with harness.signed_in(admin) as client:
        billing = await topic(client, "Billing")
        made = await make(client, **GREETING)
        assert made["title"] == "Greeting" and made["topic_id"] is None
        assert made["body"] == GREETING["body"]

        changed = await client.put(
            f"/api/canned/{made['id']}",
            json={"title": " Invoice copy ", "body": " Here it is. ", "topic_id": billing},
        )
        assert changed.status_code == 200, changed.text
        out = changed.json()["canned_response"]
        assert (out["title"], out["body"], out["topic_id"]) == (
            "Invoice copy",
            "Here it is.",
            billing,
        )
        assert await titles(client) == ["Invoice copy"]

        gone = await client.delete(f"/api/canned/{made['id']}")
        assert gone.status_code == 204
        assert await titles(client) == []
        again = await client.delete(f"/api/canned/{made['id']}")
        assert again.status_code == 404
        assert again.json()["error"]["code"] == "canned_not_found"
        missing = await client.put(f"/api/canned/{made['id']}", json=GREETING)
        assert missing.status_code == 404


async def test_leaders_read_only_and_agents_nothing(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    async with harness.signed_in(admin) as client:
        made = await make(client, **GREETING)
    async with harness.signed_in(await harness.user(Role.TEAMLEADER)) as leader:
        assert await titles(leader) == ["Greeting"]
        for method, path in (
            ("POST", "/api/canned"),
            ("PUT", f"/api/canned/{made['id']}"),
            ("DELETE", f"/api/canned/{made['id']}"),
        ):
            body = None if method == "DELETE" else {"title": "Mine", "body": "Changed."}
            response = await leader.request(method, path, json=body)
            assert response.status_code == 403, (method, response.text)
    async with harness.signed_in(await harness.user(Role.AGENT)) as agent:
        response = await agent.get("/api/canned")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    async with harness.client() as anonymous:
        assert (await anonymous.get("/api/canned")).status_code == 401
    async with harness.signed_in(admin) as client:
        listed = (await client.get("/api/canned")).json()["canned_responses"]
        assert [(c["title"], c["body"]) for c in listed] == [("Greeting", GREETING["body"])]


async def test_titles_differ_by_more_than_case(harness: Harness) -> None:
    async with harness.signed_in(await harness.user(Role.ADMIN)) as client:
        first = await make(client, **GREETING)
        other = await make(client, title="Goodbye", body="Bye for now.")
        for response in (
            await client.post("/api/canned", json={"title": " GREETING ", "body": "Hi."}),
            await client.put(f"/api/canned/{other['id']}", json={"title": "greeting", "body": "x"}),
        ):
            assert response.status_code == 409, response.text
            assert response.json()["error"] == {
                "code": "canned_title_taken",
                "message": "There is already a canned response titled Greeting.",
                "details": None,
            }
        recased = await client.put(
            f"/api/canned/{first['id']}", json={"title": "greeting", "body": "Hi."}
        )
        assert recased.json()["canned_response"]["title"] == "greeting"
        assert await titles(client) == ["Goodbye", "greeting"]


async def test_topic_filter_puts_the_topics_first_then_the_general_ones(harness: Harness) -> None:
    async with harness.signed_in(await harness.user(Role.ADMIN)) as client:
        billing, refunds = await topic(client, "Billing"), await topic(client, "Refunds")
        await make(client, title="Apology", body="Sorry for the wait.")
        await make(client, title="Zero balance", body="Your balance is zero.", topic_id=billing)
        await make(client, title="Refund sent", body="The refund is on its way.", topic_id=refunds)
    async with harness.signed_in(await harness.user(Role.TEAMLEADER)) as leader:
        assert await titles(leader, topic_id=billing) == ["Zero balance", "Apology"]
        assert await titles(leader, topic_id=refunds) == ["Refund sent", "Apology"]
        assert await titles(leader) == ["Apology", "Refund sent", "Zero balance"]
        assert await titles(leader, topic_id=10**6) == ["Apology"]


async def test_search_looks_in_title_and_body_ignoring_case(harness: Harness) -> None:
    async with harness.signed_in(await harness.user(Role.ADMIN)) as client:
        billing = await topic(client, "Billing")
        await make(client, **GREETING)
        await make(client, title="Invoice", body="Your CASE number is below.", topic_id=billing)
        await make(client, title="100% refund", body="All of it back.")
        assert await titles(client, q="case") == ["Greeting", "Invoice"]
        assert await titles(client, q="GREET") == ["Greeting"]
        assert await titles(client, q="case", topic_id=billing) == ["Invoice", "Greeting"]
        assert await titles(client, q="%") == ["100% refund"]  # a LIKE wildcard is text
        assert await titles(client, q="_") == []
        assert await titles(client, q="  ") == ["100% refund", "Greeting", "Invoice"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": "", "body": "x"},
        {"title": "   ", "body": "x"},
        {"title": "x" * 81, "body": "x"},
        {"title": "x", "body": "x" * 2001},
        {"title": "x", "body": "  "},
        {"title": "x", "body": "nul \x00 here"},
        {"title": "x", "body": "x", "topic_id": 0},
        {"title": "x", "body": "x", "topic_id": "1"},
        {"title": "x", "body": "x", "topic_id": 10**6},
        {"title": "x", "body": "x", "topic_id": 2**63},
        {"title": "x", "body": "x", "extra": True},
        {"title": 5, "body": "x"},
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(harness: Harness, body: object) -> None:
    async with harness.signed_in(await harness.user(Role.ADMIN)) as client:
        made = await make(client, **GREETING)
        for response in (
            await client.post("/api/canned", json=body),
            await client.put(f"/api/canned/{made['id']}", json=body),
        ):
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["code"] == "invalid" and error["message"]
        assert await count(harness) == 1
        listed = (await client.get("/api/canned")).json()["canned_responses"]
        assert [(c["title"], c["body"]) for c in listed] == [("Greeting", GREETING["body"])]


async def test_archived_topics_are_refused_but_kept_where_they_were(harness: Harness) -> None:
    async with harness.signed_in(await harness.user(Role.ADMIN)) as client:
        billing = await topic(client, "Billing")
        made = await make(client, topic_id=billing, **GREETING)
        await client.post(f"/api/topics/{billing}/archive")
        refused = await client.post(
            "/api/canned", json={**GREETING, "title": "New", "topic_id": billing}
        )
        assert refused.status_code == 422
        kept = await client.put(
            f"/api/canned/{made['id']}", json={**GREETING, "body": "Hi.", "topic_id": billing}
        )
        assert kept.status_code == 200, kept.text


async def test_bad_query_values_are_refused(harness: Harness) -> None:
    async with harness.signed_in(await harness.user(Role.TEAMLEADER)) as leader:
        for params in ({"topic_id": "0"}, {"topic_id": "x"}, {"q": "x" * 201}):
            response = await leader.get("/api/canned", params=params)
            assert response.status_code == 422, (params, response.text)
            assert response.json()["error"]["code"] == "invalid"
