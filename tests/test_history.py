"""Reading conversations: lists with filters and cursors, and pages of messages."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from teamtalk.models import Role, Status, User
from teamtalk.services import listing
from teamtalk.services.listing import Filters
from tests.conftest import Backend, Harness, harness_with
from tests.history_factories import Made, at, make_conversation, make_topic, mark_read

Params = list[tuple[str, str | int | float | bool | None]]

STATUSES = [
    Status.SOLVED,
    Status.PENDING,
    Status.ASSIGNED,
    Status.CLOSED,
    Status.QUEUED,
    Status.CANCELLED,
]


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    # These tests read whole lists page by page; the reads budget has tests of its own.
    async with harness_with(backend, reads_burst=100_000) as h:
        yield h


@dataclass
class Team:
    agents: list[User]
    leaders: list[User]
    admin: User
    topics: list[int]
    made: list[Made]


async def make_team(harness: Harness, count: int = 18) -> Team:
    """Conversations with every status, topic and leader mix, and many equal times (groups of
    three share a creation time; updates fall on five distinct minutes), so cursors must break
    ties."""
    agents = [await harness.user(Role.AGENT, display_name=f"Agent {n}") for n in (1, 2)]
    leaders = [await harness.user(Role.TEAMLEADER, display_name=f"Lead {n}") for n in (1, 2)]
    admin = await harness.user(Role.ADMIN)
    topics = [await make_topic(harness, "Billing"), await make_topic(harness, "Shipping")]
    holders: list[Sequence[User]] = [
        [leaders[0]],
        [leaders[1]],
        [leaders[0], leaders[1]],
        [],
    ]
    made = []
    for i in range(count):
        agent = agents[0] if i % 3 else agents[1]
        made.append(
            await make_conversation(
                harness,
                agent,
                [(agent, f"request {i}")],
                status=STATUSES[i % len(STATUSES)],
                topic_id=[topics[0], topics[1], None][i % 3],
                leaders=holders[i % 4],
                created_at=at(i // 3 * 10),
                updated_at=at(100 + (i * 7) % 5),
            )
        )
    return Team(agents, leaders, admin, topics, made)


def ordered(made: Sequence[Made], sort: str) -> list[int]:
    if sort == "activity":
        return [m.id for m in sorted(made, key=lambda m: (m.updated_at, m.id), reverse=True)]
    by_creation = sorted(made, key=lambda m: (m.created_at, m.id))
    return [m.id for m in (reversed(by_creation) if sort == "newest" else by_creation)]


async def page_through(client: httpx.AsyncClient, params: Params, limit: int) -> list[int]:
    """Every page of a list, following cursors; checks each page's shape on the way."""
    ids: list[int] = []
    cursor: str | None = None
    for _ in range(100):
        query = [*params, ("limit", limit)]
        if cursor is not None:
            query.append(("cursor", cursor))
        response = await client.get("/api/conversations", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        page = [c["id"] for c in body["conversations"]]
        assert len(page) <= limit
        cursor = body["next_cursor"]
        if cursor is not None:
            assert len(page) == limit  # only the last page may be short
        ids += page
        if cursor is None:
            return ids
    raise AssertionError("more than 100 pages")


FILTERS: list[tuple[Params, Callable[[Made, Team], bool]]] = [
    ([], lambda m, t: True),
    ([("status", "solved")], lambda m, t: m.status == Status.SOLVED),
    (
        [("status", "pending"), ("status", "closed")],
        lambda m, t: m.status in (Status.PENDING, Status.CLOSED),
    ),
    ([("topic_id", "TOPIC0")], lambda m, t: m.topic_id == t.topics[0]),
    ([("agent_id", "AGENT1")], lambda m, t: m.agent_id == t.agents[1].id),
    ([("leader_id", "LEADER1")], lambda m, t: t.leaders[1].id in m.leader_ids),
    (
        [("created_from", at(10).isoformat()), ("created_to", at(40).isoformat())],
        lambda m, t: at(10) <= m.created_at < at(40),
    ),
    (
        [("status", "solved"), ("status", "assigned"), ("leader_id", "LEADER0")],
        lambda m, t: (
            m.status in (Status.SOLVED, Status.ASSIGNED) and t.leaders[0].id in m.leader_ids
        ),
    ),
]


def resolve(params: Params, team: Team) -> Params:
    names = {
        "TOPIC0": team.topics[0],
        "AGENT1": team.agents[1].id,
        "LEADER0": team.leaders[0].id,
        "LEADER1": team.leaders[1].id,
    }
    return [(k, names.get(str(v), v)) for k, v in params]


async def test_leaders_and_admins_page_through_every_filter_and_sort(harness: Harness) -> None:
    team = await make_team(harness)
    async with harness.signed_in(team.leaders[0]) as client:
        for params, keep in FILTERS:
            wanted = [m for m in team.made if keep(m, team)]
            assert wanted, params
            for sort in ("activity", "newest", "oldest"):
                for limit in (3, 100):
                    query = [*resolve(params, team), ("sort", sort)]
                    got = await page_through(client, query, limit)
                    assert got == ordered(wanted, sort), (params, sort, limit)
    async with harness.signed_in(team.admin) as client:
        for sort in ("activity", "newest", "oldest"):
            assert await page_through(client, [("sort", sort)], 1) == ordered(team.made, sort)


async def test_default_sort_is_latest_activity(harness: Harness) -> None:
    team = await make_team(harness, count=7)
    async with harness.signed_in(team.leaders[1]) as client:
        assert await page_through(client, [], 3) == ordered(team.made, "activity")


async def test_agents_list_only_their_own(harness: Harness) -> None:
    team = await make_team(harness)
    for agent in team.agents:
        own = [m for m in team.made if m.agent_id == agent.id]
        async with harness.signed_in(agent) as client:
            for sort in ("activity", "newest", "oldest"):
                assert await page_through(client, [("sort", sort)], 2) == ordered(own, sort)
            # Filters narrow their own list; naming another agent finds nothing.
            solved = [m for m in own if m.status == Status.SOLVED]
            query: Params = [("status", "solved"), ("sort", "oldest")]
            assert await page_through(client, query, 2) == ordered(solved, "oldest")
            other = team.agents[1] if agent is team.agents[0] else team.agents[0]
            assert await page_through(client, [("agent_id", other.id)], 5) == []


async def test_list_items_carry_last_message_and_unread(harness: Harness) -> None:
    agent = await harness.user(Role.AGENT, display_name="Ann")
    leader = await harness.user(Role.TEAMLEADER, display_name="Lee")
    chat = await make_conversation(
        harness,
        agent,
        [
            (agent, "hello"),  # 1
            (None, "Lee joined"),  # 2: a system message, not counted as unread
            (leader, "hi Ann"),  # 3
            (agent, "thanks"),  # 4
            (leader, "welcome"),  # 5
        ],
        status=Status.ASSIGNED,
        leaders=[leader],
    )
    quiet = await make_conversation(harness, agent, [], status=Status.QUEUED, created_at=at(-5))
    await mark_read(harness, agent, chat.id, 2)
    async with harness.signed_in(agent) as client:
        items = (await client.get("/api/conversations")).json()["conversations"]
    assert [i["id"] for i in items] == [chat.id, quiet.id]
    first, empty = items
    assert first["unread"] == 2  # seq 3 and 5; 4 is the agent's own
    assert first["last_message"]["body"] == "welcome"
    assert first["last_message"]["seq"] == 5
    assert first["last_message"]["sender_name"] == "Lee"
    assert first["agent_name"] == "Ann" and first["assignee_name"] == "Lee"
    assert empty["last_message"] is None and empty["unread"] == 0
    async with harness.signed_in(leader) as client:
        items = (await client.get("/api/conversations")).json()["conversations"]
    # The leader has no read mark: everything people other than them wrote (1 and 4).
    assert {i["id"]: i["unread"] for i in items} == {chat.id: 2, quiet.id: 0}


async def test_bad_cursors_and_filters_are_422(harness: Harness) -> None:
    team = await make_team(harness, count=5)
    async with harness.signed_in(team.admin) as client:
        first = (await client.get("/api/conversations", params={"limit": 2})).json()
        cursor = first["next_cursor"]
        assert cursor is not None
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))

        def forged(value: Any) -> str:
            text = json.dumps(value).encode()
            return base64.urlsafe_b64encode(text).rstrip(b"=").decode()

        bad_cursors = [
            "garbage",
            "!!!",
            forged(["oldest", *raw[1:]]),  # another sort's position
            forged(raw[:2]),
            forged([raw[0], "yesterday", raw[2]]),
            forged([raw[0], raw[1], "1"]),
            forged([raw[0], raw[1], 2**70]),
            forged({"a": 1}),
            "x" * 600,
        ]
        for bad in bad_cursors:
            response = await client.get("/api/conversations", params={"cursor": bad})
            assert response.status_code == 422, bad
            assert response.json()["error"]["code"] in ("invalid_cursor", "invalid"), bad
        response = await client.get("/api/conversations", params={"cursor": "garbage"})
        assert response.json()["error"]["code"] == "invalid_cursor"
        bad_filters: list[dict[str, Any]] = [
            {"status": "lost"},
            {"sort": "random"},
            {"limit": 0},
            {"limit": 101},
            {"topic_id": "billing"},
            {"agent_id": 2**70},
            {"created_from": "last tuesday"},
            {"created_to": "0001-01-01T00:00:00+05:00"},
        ]
        for params in bad_filters:
            response = await client.get("/api/conversations", params=params)
            assert response.status_code == 422, (params, response.text)
            assert response.json()["error"]["code"] == "invalid", params
        # A time without an offset is UTC.
        naive = {"created_from": at(10).replace(tzinfo=None).isoformat(), "sort": "oldest"}
        response = await client.get("/api/conversations", params=naive)
        assert [c["id"] for c in response.json()["conversations"]] == [
            m.id for m in team.made if m.created_at >= at(10)
        ]


async def test_lists_need_a_sign_in(harness: Harness) -> None:
    async with harness.client() as anonymous:
        for path in ("/api/conversations", "/api/conversations/1/messages", "/api/search?q=x"):
            response = await anonymous.get(path)
            assert response.status_code == 401, path


# Message pages -----------------------------------------------------------------------------


async def chat_of(harness: Harness, count: int) -> tuple[User, User, Made]:
    agent = await harness.user(Role.AGENT, display_name="Ann")
    leader = await harness.user(Role.TEAMLEADER, display_name="Lee")
    lines = [(agent if n % 2 else leader, f"message {n}") for n in range(1, count + 1)]
    made = await make_conversation(harness, agent, lines, status=Status.ASSIGNED, leaders=[leader])
    return agent, leader, made


async def page(client: httpx.AsyncClient, conversation_id: int, **params: int) -> tuple[Any, ...]:
    response = await client.get(f"/api/conversations/{conversation_id}/messages", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    seqs = [m["seq"] for m in body["messages"]]
    return seqs, body["has_more_before"], body["has_more_after"]


async def test_message_pages_before_after_around(harness: Harness) -> None:
    agent, _, chat = await chat_of(harness, 10)
    async with harness.signed_in(agent) as client:
        cid = chat.id
        assert await page(client, cid) == (list(range(1, 11)), False, False)
        assert await page(client, cid, limit=4) == ([7, 8, 9, 10], True, False)
        assert await page(client, cid, before=7, limit=4) == ([3, 4, 5, 6], True, True)
        assert await page(client, cid, before=3, limit=4) == ([1, 2], False, True)
        assert await page(client, cid, before=1, limit=4) == ([], False, True)
        assert await page(client, cid, before=11, limit=4) == ([7, 8, 9, 10], True, False)
        assert await page(client, cid, before=50, limit=4) == ([7, 8, 9, 10], True, False)
        assert await page(client, cid, after=0, limit=4) == ([1, 2, 3, 4], False, True)
        assert await page(client, cid, after=6, limit=4) == ([7, 8, 9, 10], True, False)
        assert await page(client, cid, after=8, limit=4) == ([9, 10], True, False)
        assert await page(client, cid, after=10, limit=4) == ([], True, False)
        assert await page(client, cid, around=5, limit=4) == ([3, 4, 5, 6], True, True)
        assert await page(client, cid, around=5, limit=5) == ([3, 4, 5, 6, 7], True, True)
        assert await page(client, cid, around=1, limit=4) == ([1, 2, 3, 4], False, True)
        assert await page(client, cid, around=10, limit=4) == ([7, 8, 9, 10], True, False)
        assert await page(client, cid, around=9, limit=1) == ([9], True, True)
        assert await page(client, cid, around=99, limit=3) == ([8, 9, 10], True, False)
        assert await page(client, cid, around=5, limit=200) == (list(range(1, 11)), False, False)
        # Walking back from the latest page meets every message once.
        seen: list[int] = []
        seqs, more, _ = await page(client, cid, limit=3)
        seen = seqs
        while more:
            seqs, more, _ = await page(client, cid, before=seen[0], limit=3)
            seen = seqs + seen
        assert seen == list(range(1, 11))
        body = (await client.get(f"/api/conversations/{cid}/messages?limit=2")).json()
        assert [m["sender_name"] for m in body["messages"]] == ["Ann", "Lee"]


async def test_message_pages_of_an_empty_conversation(harness: Harness) -> None:
    agent = await harness.user(Role.AGENT)
    empty = await make_conversation(harness, agent, [], status=Status.QUEUED)
    async with harness.signed_in(agent) as client:
        assert await page(client, empty.id) == ([], False, False)
        assert await page(client, empty.id, before=1) == ([], False, False)
        assert await page(client, empty.id, after=0) == ([], False, False)
        assert await page(client, empty.id, around=1) == ([], False, False)


async def test_message_page_arguments_are_checked(harness: Harness) -> None:
    agent, _, chat = await chat_of(harness, 3)
    url = f"/api/conversations/{chat.id}/messages"
    async with harness.signed_in(agent) as client:
        for params in (
            {"before": 2, "after": 1},
            {"before": 2, "around": 1},
            {"after": 1, "around": 2},
            {"limit": 0},
            {"limit": 201},
            {"before": -1},
            {"after": 2**40},
            {"around": "x"},
        ):
            response = await client.get(url, params=params)
            assert response.status_code == 422, params
            assert response.json()["error"]["code"] == "invalid", params
        response = await client.get(f"/api/conversations/{2**70}/messages")
        assert response.status_code in (404, 422)


async def test_only_readers_get_message_pages(harness: Harness) -> None:
    agent, leader, chat = await chat_of(harness, 3)
    other_agent = await harness.user(Role.AGENT)
    admin = await harness.user(Role.ADMIN)
    past_leader = await harness.user(Role.TEAMLEADER)
    held = await make_conversation(
        harness, agent, [(agent, "earlier")], leaders=[past_leader, leader]
    )
    for user, conversation_id in (
        (agent, chat.id),
        (leader, chat.id),
        (admin, chat.id),
        (past_leader, held.id),
    ):
        async with harness.signed_in(user) as client:
            response = await client.get(f"/api/conversations/{conversation_id}/messages")
            assert response.status_code == 200, (user.role, response.text)
    async with harness.signed_in(other_agent) as client:
        for path in (
            f"/api/conversations/{chat.id}/messages",
            "/api/conversations/999999/messages",
        ):
            response = await client.get(path)
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "conversation_not_found"
        # Nor does it show up in their list.
        listed = (await client.get("/api/conversations")).json()["conversations"]
        assert listed == []


async def test_a_page_costs_the_same_queries_whatever_its_size(harness: Harness) -> None:
    """One query for the page, then one per bulk lookup, not one per row."""
    team = await make_team(harness, count=12)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = harness.resources.engine.sync_engine
    costs = []
    for limit in (2, 12):
        async with harness.resources.sessions() as db:
            statements.clear()
            event.listen(engine, "before_cursor_execute", count)
            try:
                page = await listing.list_conversations(db, team.leaders[0], Filters(), limit=limit)
            finally:
                event.remove(engine, "before_cursor_execute", count)
            assert len(page.conversations) == limit
            costs.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    assert costs[0] == costs[1] <= 6, costs
