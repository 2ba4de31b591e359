"""User and topic management: admins only, everyone else refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute

from teamtalk.api.deps import require_admin
from teamtalk.app import API_ROUTERS
from teamtalk.models import Role
from tests.conftest import PASSWORD, Harness

REPORT_TABLES = ("summary", "outcomes", "first-response", "leaders", "topics", "heatmap", "daily")
ADMIN_ROUTES = [
    ("GET", "/api/users", None),
    (
        "POST",
        "/api/users",
        {"email": "x@example.com", "display_name": "X", "role": "agent", "password": "p" * 10},
    ),
    ("GET", "/api/users/1", None),
    ("PATCH", "/api/users/1", {"display_name": "Y"}),
    ("POST", "/api/users/1/deactivate", None),
    ("POST", "/api/users/1/reactivate", None),
    ("POST", "/api/users/1/unlock", None),
    ("POST", "/api/topics", {"name": "Billing"}),
    ("PATCH", "/api/topics/1", {"name": "Money"}),
    ("POST", "/api/topics/1/archive", None),
    ("POST", "/api/topics/1/restore", None),
    ("GET", "/api/monitoring/routing", None),
    ("GET", "/api/monitoring/overview", None),
    ("GET", "/api/reports", None),
    *[
        ("GET", f"/api/reports/{table}{suffix}", None)
        for table in REPORT_TABLES
        for suffix in ("", ".csv")
    ],
    ("POST", "/api/overrides/conversations/1/front", None),
    ("POST", "/api/overrides/conversations/1/assign", {"leader_id": 1}),
    ("POST", "/api/overrides/conversations/1/take", {"leader_id": None}),
    ("POST", "/api/overrides/leaders/1/status", {"status": "away"}),
    ("POST", "/api/canned", {"title": "Hello", "body": "Hello there."}),
    ("PUT", "/api/canned/1", {"title": "Hello", "body": "Hello there."}),
    ("DELETE", "/api/canned/1", None),
]
# The name of the path parameter each listed path's 1 stands for.
PATH_IDS = {
    "/users/": "user_id",
    "/topics/": "topic_id",
    "/overrides/conversations/": "conversation_id",
    "/overrides/leaders/": "leader_id",
    "/canned/": "canned_id",
}


def templated(path: str) -> str:
    (name,) = [name for part, name in PATH_IDS.items() if part in path]
    return re.sub(r"/1(?=/|$)", "/{" + name + "}", path)


def test_every_admin_route_is_listed() -> None:
    """Guards the list above: a new admin route must be added to it."""

    def calls(dependant: Any) -> Iterator[object]:
        for sub in dependant.dependencies:
            yield sub.call
            yield from calls(sub)

    found = {
        (method, "/api" + route.path)
        for router in API_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and require_admin in set(calls(route.dependant))
        for method in route.methods
    }
    listed = {(m, templated(p) if "/1" in p else p) for m, p, _ in ADMIN_ROUTES}
    assert found == listed


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_admin_routes_refuse_others(
    harness: Harness, method: str, path: str, body: object
) -> None:
    async with harness.client() as anonymous:
        response = await anonymous.request(method, path, json=body)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
    for role in (Role.AGENT, Role.TEAMLEADER):
        async with harness.signed_in(await harness.user(role)) as client:
            response = await client.request(method, path, json=body)
            assert response.status_code == 403, (role, response.text)
            assert response.json()["error"]["code"] == "forbidden"


async def test_admin_manages_users(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    async with harness.signed_in(admin) as client:
        created = await client.post(
            "/api/users",
            json={
                "email": "New.Lead@Example.com",
                "display_name": " Nia ",
                "role": "teamleader",
                "password": PASSWORD,
            },
        )
        assert created.status_code == 201, created.text
        lead = created.json()["user"]
        assert lead["email"] == "new.lead@example.com"
        assert lead["display_name"] == "Nia"
        assert lead["capacity"] == harness.settings.default_capacity

        dup = await client.post(
            "/api/users",
            json={
                "email": "new.LEAD@example.com",
                "display_name": "Dup",
                "role": "agent",
                "password": PASSWORD,
            },
        )
        assert dup.status_code == 409 and dup.json()["error"]["code"] == "email_taken"

        changed = await client.patch(
            f"/api/users/{lead['id']}", json={"capacity": 6, "display_name": "Nia L."}
        )
        assert changed.json()["user"]["capacity"] == 6
        assert changed.json()["user"]["display_name"] == "Nia L."
        role = await client.patch(f"/api/users/{lead['id']}", json={"role": "admin"})
        assert role.json()["user"]["role"] == "admin"

        listing = await client.get("/api/users", params={"role": "admin"})
        assert {u["id"] for u in listing.json()["users"]} == {admin.id, lead["id"]}

        gone = await client.post(f"/api/users/{lead['id']}/deactivate")
        assert gone.json()["user"]["is_active"] is False
        missing = await client.get("/api/users/999999")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "user_not_found"


async def test_admin_cannot_lock_themselves_out(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    async with harness.signed_in(admin) as client:
        own = await client.post(f"/api/users/{admin.id}/deactivate")
        assert own.status_code == 409
        demote = await client.patch(f"/api/users/{admin.id}", json={"role": "agent"})
        assert demote.status_code == 409
        assert (await client.get("/api/me")).json()["user"]["role"] == "admin"


async def test_deactivated_user_is_signed_out_at_once(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user()
    async with harness.signed_in(agent) as agent_client:
        assert (await agent_client.get("/api/me")).status_code == 200
        async with harness.signed_in(admin) as client:
            await client.post(f"/api/users/{agent.id}/deactivate")
        assert (await agent_client.get("/api/me")).status_code == 401


async def test_topics(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user()
    async with harness.signed_in(admin) as client:
        billing = (await client.post("/api/topics", json={"name": "Billing"})).json()["topic"]
        refunds = (await client.post("/api/topics", json={"name": "Refunds"})).json()["topic"]
        dup = await client.post("/api/topics", json={"name": "Billing"})
        assert dup.status_code == 409 and dup.json()["error"]["code"] == "topic_exists"
        renamed = await client.patch(f"/api/topics/{billing['id']}", json={"name": "Invoices"})
        assert renamed.json()["topic"]["name"] == "Invoices"
        archived = await client.post(f"/api/topics/{refunds['id']}/archive")
        assert archived.json()["topic"]["archived"] is True
        everything = await client.get("/api/topics", params={"include_archived": True})
        assert [t["name"] for t in everything.json()["topics"]] == ["Invoices", "Refunds"]
    async with harness.signed_in(agent) as client:
        listing = await client.get("/api/topics", params={"include_archived": True})
        assert [t["name"] for t in listing.json()["topics"]] == ["Invoices"]


async def test_a_name_of_only_spaces_is_refused_and_stores_nothing(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    async with harness.signed_in(admin) as client:
        topic = await client.post("/api/topics", json={"name": "   "})
        assert topic.status_code == 422, topic.text
        assert topic.json()["error"]["details"][0]["field"] == "name"
        assert (await client.get("/api/topics")).json()["topics"] == []
        renamed = await client.patch(f"/api/users/{admin.id}", json={"display_name": " \t "})
        assert renamed.status_code == 422, renamed.text
        me = (await client.get("/api/me")).json()["user"]
        assert me["display_name"] == admin.display_name


async def test_leaders_and_admins_read_the_directory_agents_do_not(harness: Harness) -> None:
    lead = await harness.user(Role.TEAMLEADER, display_name="Lee")
    agent = await harness.user(Role.AGENT, display_name="Ada")
    async with harness.signed_in(lead) as client:
        response = await client.get("/api/users/directory", params={"role": "agent"})
        assert response.status_code == 200
        assert response.json()["users"] == [
            {"id": agent.id, "display_name": "Ada", "role": "agent", "is_active": True}
        ]
    async with harness.signed_in(agent) as client:
        assert (await client.get("/api/users/directory")).status_code == 403


async def test_topic_names_differ_by_more_than_case_and_archived_ones_come_back(
    harness: Harness,
) -> None:
    admin = await harness.user(Role.ADMIN)
    async with harness.signed_in(admin) as client:
        billing = (await client.post("/api/topics", json={"name": "Billing"})).json()["topic"]
        refunds = (await client.post("/api/topics", json={"name": "Refunds"})).json()["topic"]
        for attempt in (
            client.post("/api/topics", json={"name": " billing "}),
            client.patch(f"/api/topics/{refunds['id']}", json={"name": "BILLING"}),
        ):
            refused = await attempt
            assert refused.status_code == 409
            assert refused.json()["error"] == {
                "code": "topic_exists",
                "message": "There is already a topic named Billing.",
                "details": None,
            }
        # Its own name in another case is a rename, not a clash.
        recased = await client.patch(f"/api/topics/{billing['id']}", json={"name": "billing"})
        assert recased.json()["topic"]["name"] == "billing"
        await client.post(f"/api/topics/{refunds['id']}/archive")
        restored = await client.post(f"/api/topics/{refunds['id']}/restore")
        assert restored.json()["topic"]["archived"] is False
        again = await client.post(f"/api/topics/{refunds['id']}/restore")  # already: as is
        assert again.status_code == 200 and again.json()["topic"]["archived"] is False
        listing = await client.get("/api/topics")
        assert [t["name"] for t in listing.json()["topics"]] == ["billing", "Refunds"]


async def test_a_deactivated_user_is_reactivated(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user()
    async with harness.signed_in(admin) as client:
        await client.post(f"/api/users/{agent.id}/deactivate")
        back = await client.post(f"/api/users/{agent.id}/reactivate")
        assert back.status_code == 200
        assert back.json()["user"]["is_active"] is True
    async with harness.signed_in(agent) as client:  # signs in again
        assert (await client.get("/api/me")).json()["user"]["id"] == agent.id


async def test_validation_messages_read_as_sentences(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    body = {"email": "new@example.com", "display_name": "", "role": "agent", "password": "short"}
    async with harness.signed_in(admin) as client:
        response = await client.post("/api/users", json=body)
    assert response.status_code == 422
    messages = {d["field"]: d["message"] for d in response.json()["error"]["details"]}
    assert messages["password"] == "Use at least 8 characters."
    assert messages["display_name"] == "Required."
