"""Out-of-range numbers and dates are a 422 naming the field, never a 500.

The finding: an id above 2**63 - 1, a topic_id of 2**63 or a cursor for year 1 overflowed
inside the database driver; the answer was a 500 and uvicorn reset the keep-alive
connection. Here every request of a test goes over one connection to a real uvicorn, and
the test fails if the server dropped it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from teamtalk.models import Role, Status, User
from tests.clients import connected, sign_in
from tests.conftest import PASSWORD, Backend, LiveServer, harness_with, serving
from tests.history_factories import make_conversation, make_topic

TOO_BIG = 2**63  # one past the largest BIGINT
BAD_IDS = [TOO_BIG, 0, -1]
SEQ_TOO_BIG = 2**31  # one past the largest INTEGER (message seqs)

# A valid body for each route that takes one, so the path id is the only thing wrong.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/conversations/{conversation_id}/messages"): {"client_id": "c", "body": "hi"},
    ("post", "/api/conversations/{conversation_id}/read"): {"seq": 0},
    ("post", "/api/conversations/{conversation_id}/submit"): {"status": "solved", "topic_id": 1},
    ("post", "/api/conversations/{conversation_id}/transfer"): {"leader_id": None},
    ("patch", "/api/topics/{topic_id}"): {"name": "Renamed"},
    ("patch", "/api/users/{user_id}"): {},
    ("put", "/api/canned/{canned_id}"): {"title": "Hello", "body": "Hello there."},
}


@pytest.fixture
async def live(backend: Backend) -> AsyncIterator[LiveServer]:
    """A live server without the per-user read budgets: they would answer 429 before the
    bounds are checked."""
    unlimited = {"reads_per_minute": 10**6, "reads_burst": 10**6}
    async with harness_with(backend, **unlimited) as harness, serving(harness) as server:
        yield server


class Connection:
    """One httpx client held to one keep-alive connection; `reused` says whether every
    response came over the same socket (a server that reset it forces a new one)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.ports: list[int] = []
        client.event_hooks["response"].append(self._record)

    async def _record(self, response: httpx.Response) -> None:
        stream = response.extensions["network_stream"]
        self.ports.append(stream.get_extra_info("client_addr")[1])

    @property
    def reused(self) -> bool:
        return len(self.ports) > 1 and len(set(self.ports)) == 1


@asynccontextmanager
async def connection(live: LiveServer, user: User | None = None) -> AsyncIterator[Connection]:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"Origin": live.url}
    async with httpx.AsyncClient(base_url=live.url, headers=headers, limits=limits) as client:
        held = Connection(client)
        if user is not None:
            body = {"email": user.email, "password": PASSWORD}
            response = await client.post("/api/auth/login", json=body)
            assert response.status_code == 200, response.text
        yield held


def invalid_fields(response: httpx.Response, code: str = "invalid") -> list[str]:
    """The fields a 422 names; fails on any other answer."""
    assert response.status_code == 422, (response.request.url, response.text)
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["details"], error
    return [d["field"] for d in error["details"]]


def id_routes(live: LiveServer) -> list[tuple[str, str, str]]:
    """(method, path, parameter) for every route with a number in its path."""
    found = []
    for path, operations in live.harness.fastapi.openapi()["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                if param["in"] == "path":
                    assert param["schema"]["type"] == "integer", (path, param)
                    found.append((method, path, param["name"]))
    return found


def forged(value: Any) -> str:
    text = json.dumps(value).encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode()


async def test_every_id_in_a_path_is_bounded(live: LiveServer) -> None:
    harness = live.harness
    users = [await harness.user(role) for role in (Role.AGENT, Role.TEAMLEADER, Role.ADMIN)]
    routes = id_routes(live)
    assert len(routes) >= 14, routes
    async with (
        connection(live) as anonymous,
        connection(live, users[0]) as agent,
        connection(live, users[1]) as leader,
        connection(live, users[2]) as admin,
    ):
        for method, path, param in routes:
            body = BODIES.get((method, path))
            for bad in BAD_IDS:
                url = path.replace("{" + param + "}", str(bad))
                refused = await anonymous.client.request(method, url, json=body)
                assert refused.status_code == 401, (url, refused.text)
                answers = {}
                for who in (agent, leader, admin):
                    answers[who] = await who.client.request(method, url, json=body)
                # Role checks come first: a role the route is not for gets its 403.
                named = [r for r in answers.values() if r.status_code != 403]
                assert named, (method, url)
                for response in named:
                    fields = invalid_fields(response)
                    assert fields == [param] if body is not None else param in fields, fields
        for who in (anonymous, agent, leader, admin):
            assert who.reused, who.ports


async def test_ids_and_seqs_in_bodies_are_bounded(live: LiveServer) -> None:
    harness = live.harness
    agent = await harness.user(Role.AGENT)
    leader = await harness.user(Role.TEAMLEADER)
    topic = await make_topic(harness, "Billing")
    mine = await make_conversation(
        harness, agent, [(agent, "hello")], status=Status.ASSIGNED, leaders=[leader]
    )
    base = f"/api/conversations/{mine.id}"
    async with connection(live, agent) as as_agent, connection(live, leader) as as_leader:
        for bad in BAD_IDS:
            response = await as_agent.client.post(
                "/api/conversations", json={"message": "Help", "topic_id": bad}
            )
            assert invalid_fields(response) == ["topic_id"]
            submit = {"status": "solved", "topic_id": bad}
            response = await as_leader.client.post(f"{base}/submit", json=submit)
            assert invalid_fields(response) == ["topic_id"]
            response = await as_leader.client.post(f"{base}/transfer", json={"leader_id": bad})
            assert invalid_fields(response) == ["leader_id"]
        for bad_seq in (SEQ_TOO_BIG, -1):
            response = await as_agent.client.post(f"{base}/read", json={"seq": bad_seq})
            assert invalid_fields(response) == ["seq"]
        # Numbers JSON can write but no column holds: huge, fractional, infinite.
        json_type = {"content-type": "application/json"}
        for weird in ("1e300", "1.5", "Infinity", "-Infinity", "NaN"):
            raw = f'{{"message": "Help", "topic_id": {weird}}}'
            response = await as_agent.client.post(
                "/api/conversations", content=raw, headers=json_type
            )
            assert invalid_fields(response) == ["topic_id"], weird
        # Python's JSON parser itself refuses integers past 4,300 digits: a client error too.
        raw = f'{{"message": "Help", "topic_id": {"9" * 5000}}}'
        response = await as_agent.client.post("/api/conversations", content=raw, headers=json_type)
        assert invalid_fields(response) == ["body"], response.text
        # In range, the same requests reach the handlers.
        ok = await as_agent.client.post(
            "/api/conversations", json={"message": "Help", "topic_id": topic}
        )
        assert ok.status_code == 201, ok.text
        assert (await as_agent.client.post(f"{base}/read", json={"seq": 1})).status_code == 200
        assert as_agent.reused and as_leader.reused


async def test_query_numbers_are_bounded(live: LiveServer) -> None:
    harness = live.harness
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT)
    chat = await make_conversation(harness, agent, [(agent, "refund please")])
    messages = f"/api/conversations/{chat.id}/messages"
    async with connection(live, admin) as held:
        client = held.client
        for name in ("topic_id", "agent_id", "leader_id"):
            for bad in BAD_IDS:
                for path in ("/api/conversations", "/api/search"):
                    params: dict[str, Any] = {name: bad, "q": "refund"}
                    assert invalid_fields(await client.get(path, params=params)) == [name]
        for name in ("before", "after", "around"):
            for bad_seq in (SEQ_TOO_BIG, -1, TOO_BIG):
                response = await client.get(messages, params={name: bad_seq})
                assert invalid_fields(response) == [name]
        huge = 10**30
        for path, name in [
            ("/api/search", "offset"),
            ("/api/search", "limit"),
            ("/api/conversations", "limit"),
            (messages, "limit"),
        ]:
            for bad in (huge, -1, TOO_BIG):
                response = await client.get(path, params={name: bad, "q": "refund"})
                assert invalid_fields(response) == [name], (path, bad)
        # The largest offset allowed is answered, with nothing on it.
        far = await client.get("/api/search", params={"q": "refund", "offset": 10_000})
        assert far.status_code == 200 and far.json() == {"hits": [], "next_offset": None}
        found = await client.get("/api/search", params={"q": "refund"})
        assert [h["message"]["conversation_id"] for h in found.json()["hits"]] == [chat.id]
        assert held.reused


async def test_dates_at_the_ends_of_the_calendar(live: LiveServer) -> None:
    """Filters and cursors for year 1 and year 9999: what UTC can hold is answered, what it
    cannot (year 1 east of Greenwich, 9999 west of it, year 10000) is a 422 naming the field."""
    harness = live.harness
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT)
    chats = [await make_conversation(harness, agent, [(agent, "hi")]) for _ in range(3)]
    first_day = "0001-01-01T00:00:00+00:00"
    last_moment = "9999-12-31T23:59:59.999999+00:00"
    beyond = [
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:00:00-05:00",  # after year 9999 in UTC
    ]
    async with connection(live, admin) as held:
        client = held.client
        every = sorted(c.id for c in chats)
        for name in ("created_from", "created_to"):
            # Bare numbers too: pydantic would read them as seconds since 1970.
            for value in [*beyond, "10000-01-01T00:00:00Z", "0000-12-31T00:00:00Z", "439", "1e3"]:
                response = await client.get("/api/conversations", params={name: value})
                assert invalid_fields(response) == [name], value
                response = await client.get("/api/search", params={name: value, "q": "hi"})
                assert invalid_fields(response) == [name], value
        wide = {"created_from": first_day, "created_to": last_moment}
        listed = await client.get("/api/conversations", params=wide)
        assert listed.status_code == 200, listed.text
        assert sorted(c["id"] for c in listed.json()["conversations"]) == every
        naive = {"created_from": "0001-01-01T00:00:00", "created_to": "9999-12-31T23:59:59"}
        assert len((await client.get("/api/conversations", params=naive)).json()["conversations"])
        empty = await client.get("/api/conversations", params={"created_to": first_day})
        assert empty.status_code == 200 and empty.json()["conversations"] == []

        for sort in ("activity", "newest", "oldest"):
            for key in [*beyond, "10000-01-01T00:00:00+00:00", "0000-01-01T00:00:00+00:00"]:
                cursor = forged([sort, key, 1])
                response = await client.get(
                    "/api/conversations", params={"sort": sort, "cursor": cursor}
                )
                assert invalid_fields(response, "invalid_cursor") == ["cursor"], key
            for bad_id in (TOO_BIG, -1):
                cursor = forged([sort, first_day, bad_id])
                response = await client.get(
                    "/api/conversations", params={"sort": sort, "cursor": cursor}
                )
                assert invalid_fields(response, "invalid_cursor") == ["cursor"], bad_id
            # A cursor at either end of time is a position like any other.
            after_all = last_moment if sort == "oldest" else first_day
            before_all = first_day if sort == "oldest" else last_moment
            for key, expected in [(after_all, []), (before_all, every)]:
                cursor = forged([sort, key, 0 if key == first_day else TOO_BIG - 1])
                response = await client.get(
                    "/api/conversations", params={"sort": sort, "cursor": cursor}
                )
                assert response.status_code == 200, response.text
                got = sorted(c["id"] for c in response.json()["conversations"])
                assert got == expected, (sort, key)
        assert held.reused


async def test_socket_payloads_are_bounded(live: LiveServer) -> None:
    harness = live.harness
    agent = await harness.user(Role.AGENT)
    chat = await make_conversation(harness, agent, [(agent, "hi")], status=Status.QUEUED)
    events: list[tuple[str, dict[str, Any], str]] = []
    for bad in BAD_IDS:
        events += [
            ("join_conversation", {"conversation_id": bad}, "conversation_id"),
            ("leave_conversation", {"conversation_id": bad}, "conversation_id"),
            ("typing", {"conversation_id": bad}, "conversation_id"),
            (
                "send_message",
                {"conversation_id": bad, "client_id": "c", "body": "hi"},
                "conversation_id",
            ),
            ("mark_read", {"conversation_id": bad, "seq": 0}, "conversation_id"),
            ("sync", {"since": [{"conversation_id": bad, "seq": 0}]}, "since.0.conversation_id"),
        ]
    for bad_seq in (SEQ_TOO_BIG, -1):
        events += [
            ("mark_read", {"conversation_id": chat.id, "seq": bad_seq}, "seq"),
            ("sync", {"since": [{"conversation_id": chat.id, "seq": bad_seq}]}, "since.0.seq"),
        ]
    async with connected(live, await sign_in(harness, agent)) as probe:
        for event, data, field in events:
            ack = await probe.call(event, data)
            assert ack["error"]["code"] == "invalid", (event, data, ack)
            assert [d["field"] for d in ack["error"]["details"]] == [field], (event, ack)
        # The socket is still there and answers in range.
        ack = await probe.call("mark_read", {"conversation_id": chat.id, "seq": 1})
        assert ack == {"last_read_seq": 1}


async def test_text_no_database_column_can_hold_is_refused(live: LiveServer) -> None:
    """NUL (PostgreSQL text cannot hold it) and lone surrogates (JSON can escape one; it is
    not UTF-8) in fields that are stored: 422 naming the field, on both databases alike.
    Messages are cleaned instead, as they always were: control characters are dropped."""
    harness = live.harness
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT)
    leader = await harness.user(Role.TEAMLEADER)
    chat = await make_conversation(
        harness, agent, [(agent, "hi")], status=Status.ASSIGNED, leaders=[leader]
    )
    user = {"email": "new@x.io", "display_name": "New", "role": "agent", "password": "x" * 8}
    named = "display_name"
    async with (
        connection(live, admin) as as_admin,
        connection(live, agent) as as_agent,
        connection(live, leader) as as_leader,
        connection(live) as anonymous,
    ):
        for bad in ("\x00", "\ud800"):
            cases: list[tuple[Connection, str, str, dict[str, Any], str]] = [
                (as_admin, "post", "/api/topics", {"name": f"Bill{bad}ing"}, "name"),
                (as_admin, "patch", "/api/users/1", {named: f"A{bad}"}, named),
                (as_admin, "post", "/api/users", {**user, "email": f"n{bad}@x.io"}, "email"),
                (
                    as_admin,
                    "post",
                    "/api/users",
                    {**user, "display_name": f"N{bad}"},
                    "display_name",
                ),
                (
                    anonymous,
                    "post",
                    "/api/auth/login",
                    {"email": f"a{bad}@x.io", "password": "whatever"},
                    "email",
                ),
                (
                    as_agent,
                    "post",
                    "/api/conversations",
                    {"message": "Help", "ticket_link": f"https://t.example/{bad}"},
                    "ticket_link",
                ),
                (
                    as_agent,
                    "post",
                    f"/api/conversations/{chat.id}/messages",
                    {"client_id": f"c{bad}", "body": "hello"},
                    "client_id",
                ),
                (
                    as_leader,
                    "post",
                    f"/api/conversations/{chat.id}/transfer",
                    {"leader_id": None, "reason": f"r{bad}"},
                    "reason",
                ),
            ]
            for who, method, path, body, name in cases:
                # json.dumps escapes a lone surrogate (httpx's own encoder would refuse it).
                raw = json.dumps(body)
                headers = {"content-type": "application/json"}
                response = await who.client.request(method, path, content=raw, headers=headers)
                assert invalid_fields(response) == [name], (path, body)
        created = await as_agent.client.post("/api/conversations", json={"message": "Hel\x00p"})
        assert created.status_code == 201, created.text
        conversation_id = created.json()["conversation"]["id"]
        page = await as_agent.client.get(f"/api/conversations/{conversation_id}/messages")
        assert [m["body"] for m in page.json()["messages"]] == ["Help"]
        for who in (as_admin, as_agent, as_leader, anonymous):
            assert who.reused, who.ports
