"""Message search: words and stems, filters, roles, ranking, snippets, hostile input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event, update

from teamtalk.models import Conversation, Message, Role, Status, User
from teamtalk.services import search as search_service
from teamtalk.services.listing import Filters
from teamtalk.services.search import END, START, snippet_parts, words
from tests.conftest import Backend, Harness, harness_with
from tests.history_factories import Made, at, make_conversation, make_topic


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    # These tests read whole lists page by page; the reads budget has tests of its own.
    async with harness_with(backend, reads_burst=100_000) as h:
        yield h


@dataclass
class Desk:
    ann: User  # agent
    bob: User  # agent
    lee: User  # leader
    max: User  # leader
    admin: User
    billing: int
    refund_ann: Made  # Ann's, billing, solved, held by Lee
    refund_bob: Made  # Bob's, pending, held by Max
    printer: Made  # Ann's, queued, no topic


async def make_desk(harness: Harness) -> Desk:
    ann = await harness.user(Role.AGENT, display_name="Ann")
    bob = await harness.user(Role.AGENT, display_name="Bob")
    lee = await harness.user(Role.TEAMLEADER, display_name="Lee")
    max_ = await harness.user(Role.TEAMLEADER, display_name="Max")
    admin = await harness.user(Role.ADMIN)
    billing = await make_topic(harness, "Billing")
    refund_ann = await make_conversation(
        harness,
        ann,
        [
            (ann, "The customer wants a refund for order 4711"),
            (None, "Lee assigned; the refund desk is open"),  # system: never a hit
            (lee, "Refunds take five days, tell the customer"),
        ],
        topic_id=billing,
        leaders=[lee],
        created_at=at(0),
    )
    refund_bob = await make_conversation(
        harness,
        bob,
        [(bob, "Refunding the shipping costs?"), (max_, "Yes, we are refunding them")],
        status=Status.PENDING,
        leaders=[max_],
        created_at=at(60),
    )
    printer = await make_conversation(
        harness,
        ann,
        [(ann, "The printer in Müller's shop is broken"), (ann, "Customer is angry")],
        status=Status.QUEUED,
        created_at=at(120),
    )
    return Desk(ann, bob, lee, max_, admin, billing, refund_ann, refund_bob, printer)


async def search(client: httpx.AsyncClient, q: str, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def message_ids(body: dict[str, Any]) -> set[int]:
    return {hit["message"]["id"] for hit in body["hits"]}


async def test_finds_words_and_stems_in_user_messages_only(harness: Harness) -> None:
    desk = await make_desk(harness)
    ann_first, _system, lee_reply = desk.refund_ann.message_ids
    bob_ask, max_reply = desk.refund_bob.message_ids
    everyone = {ann_first, lee_reply, bob_ask, max_reply}
    async with harness.signed_in(desk.lee) as client:
        for q in ("refund", "refunds", "REFUNDING", "  refund  "):
            assert message_ids(await search(client, q)) == everyone, q
        # Every word must match.
        assert message_ids(await search(client, "refund customer")) == {ann_first, lee_reply}
        assert message_ids(await search(client, "refund printer")) == set()
        assert message_ids(await search(client, "4711")) == {ann_first}
        assert message_ids(await search(client, "müller")) == {desk.printer.message_ids[0]}
        assert message_ids(await search(client, "desk")) == set()  # only in a system message
        hit = (await search(client, "shipping"))["hits"][0]
    assert hit["message"]["sender_name"] == "Bob"
    assert hit["conversation"]["id"] == desk.refund_bob.id
    assert hit["conversation"]["agent_name"] == "Bob"
    assert hit["conversation"]["status"] == "pending"


async def test_agents_search_only_their_own_leaders_and_admins_everything(
    harness: Harness,
) -> None:
    desk = await make_desk(harness)
    mine = set(desk.refund_ann.message_ids) | set(desk.printer.message_ids)
    everything = mine | set(desk.refund_bob.message_ids)
    for user, reach in (
        (desk.ann, mine),
        (desk.bob, set(desk.refund_bob.message_ids)),
        (desk.lee, everything),
        (desk.max, everything),
        (desk.admin, everything),
    ):
        async with harness.signed_in(user) as client:
            for q in ("refund", "customer", "the"):
                found = message_ids(await search(client, q, limit=50))
                assert found <= reach, (user.display_name, q)
            refunds = message_ids(await search(client, "refund"))
            assert refunds == {m for m in reach if m in message_ids_with_refund(desk)}, (
                user.display_name
            )
            # Naming another agent does not widen an agent's reach.
            other = desk.bob if user is desk.ann else desk.ann
            narrowed = message_ids(await search(client, "refund", agent_id=other.id))
            assert narrowed <= reach


def message_ids_with_refund(desk: Desk) -> set[int]:
    first, _, reply = desk.refund_ann.message_ids
    return {first, reply, *desk.refund_bob.message_ids}


async def test_search_respects_the_list_filters(harness: Harness) -> None:
    desk = await make_desk(harness)
    ann_first, _, lee_reply = desk.refund_ann.message_ids
    bob_messages = set(desk.refund_bob.message_ids)
    async with harness.signed_in(desk.admin) as client:
        cases: list[tuple[dict[str, Any], set[int]]] = [
            ({}, {ann_first, lee_reply, *bob_messages}),
            ({"status": "pending"}, bob_messages),
            ({"status": ["pending", "solved"]}, {ann_first, lee_reply, *bob_messages}),
            ({"status": "queued"}, set()),
            ({"topic_id": desk.billing}, {ann_first, lee_reply}),
            ({"agent_id": desk.bob.id}, bob_messages),
            ({"leader_id": desk.lee.id}, {ann_first, lee_reply}),
            ({"leader_id": desk.max.id}, bob_messages),
            ({"created_from": at(30).isoformat()}, bob_messages),
            ({"created_to": at(30).isoformat()}, {ann_first, lee_reply}),
            ({"created_from": at(60).isoformat(), "created_to": at(61).isoformat()}, bob_messages),
        ]
        for params, expected in cases:
            assert message_ids(await search(client, "refund", **params)) == expected, params
        response = await client.get("/api/search", params={"q": "refund", "status": "lost"})
        assert response.status_code == 422


async def test_best_matches_come_first_and_pages_cover_every_hit(harness: Harness) -> None:
    agent = await harness.user(Role.AGENT)
    padding = " ".join(f"word{n}" for n in range(40))
    made = await make_conversation(
        harness,
        agent,
        [
            (agent, f"invoice mentioned once among {padding}"),
            (agent, "invoice invoice invoice"),
            (agent, f"an invoice here and {padding}"),
            (agent, "invoice"),
            (agent, f"{padding} and at last an invoice"),
        ],
    )
    async with harness.signed_in(agent) as client:
        ranked = [h["message"]["id"] for h in (await search(client, "invoice"))["hits"]]
        assert len(ranked) == 5
        assert ranked[0] == made.message_ids[1]  # three times, short
        assert set(ranked) == set(made.message_ids)
        # Offset pages: the same order, each hit once, next_offset null at the end.
        paged: list[int] = []
        offset: int | None = 0
        while offset is not None:
            body = await search(client, "invoice", limit=2, offset=offset)
            assert len(body["hits"]) <= 2
            paged += [h["message"]["id"] for h in body["hits"]]
            offset = body["next_offset"]
        assert paged == ranked
        assert (await search(client, "invoice", limit=5))["next_offset"] is None
        assert (await search(client, "invoice", offset=100))["hits"] == []


async def test_snippets_mark_the_matched_words(harness: Harness) -> None:
    agent = await harness.user(Role.AGENT)
    long = " ".join(f"filler{n}" for n in range(80))
    await make_conversation(
        harness,
        agent,
        [
            (agent, "Printers <b>jam</b> when the printer is cold"),
            (agent, f"{long} the printer broke {long}"),
        ],
    )
    async with harness.signed_in(agent) as client:
        hits = (await search(client, "printer", limit=5))["hits"]
    by_body = {h["message"]["body"][:8]: h["snippet"] for h in hits}
    short = by_body["Printers"]
    assert "".join(p["text"] for p in short) == "Printers <b>jam</b> when the printer is cold"
    assert [p["text"] for p in short if p["match"]] == ["Printers", "printer"]
    cut = by_body["filler0 "]
    text = "".join(p["text"] for p in cut)
    assert [p["text"] for p in cut if p["match"]] == ["printer"]
    assert len(text) < 400 and "…" in text  # a window around the hit, not the whole body
    for part in short + cut:
        assert START not in part["text"] and END not in part["text"]


HOSTILE = [
    '"',
    '""',
    "'",
    "*",
    "refund*",
    "NEAR(",
    "NEAR(refund customer, 2)",
    "-",
    "-refund",
    "refund -customer",
    "OR",
    "refund OR printer",
    "AND NOT",
    "body:refund",
    "{body}: refund",
    "^refund",
    "refund + customer",
    '"refund customer',
    "'refund' \"customer\"",
    "(refund",
    "refund)",
    "\\",
    "%",
    "_",
    "; DROP TABLE messages; --",
    "' OR 1=1 --",
    "!@#$%^&*()",
    "&|!<->:*",
    "a" * 1000,
    "refund " * 142,
    "x " * 40,
    "日本語のテキスト",
    "😀 refund",
    "naïve café",
    "\u202erefund",
    "refund\x00customer",
    START + "refund" + END,
    "\t\n refund \r",
]


async def test_hostile_queries_never_break_the_search(harness: Harness) -> None:
    desk = await make_desk(harness)
    for user in (desk.ann, desk.lee):
        async with harness.signed_in(user) as client:
            for q in HOSTILE:
                response = await client.get("/api/search", params={"q": q})
                assert response.status_code in (200, 422), (q, response.text)
                body = response.json()
                if response.status_code == 422:
                    assert body["error"]["code"] == "invalid", q
                    assert body["error"]["message"], q
                else:
                    assert isinstance(body["hits"], list), q
            # Operators are words here, not syntax: "-customer" does not exclude.
            got = message_ids(await search(client, "refund -customer"))
            assert got == message_ids(await search(client, "refund customer"))
            assert got
    async with harness.signed_in(desk.ann) as client:
        for q in ("", " ", "\t\n"):
            response = await client.get("/api/search", params={"q": q})
            assert response.status_code == 422, repr(q)
            assert response.json()["error"]["code"] == "invalid"
        assert (await client.get("/api/search")).status_code == 422
        response = await client.get("/api/search", params={"q": "a" * 1001})
        assert response.status_code == 422
        response = await client.get("/api/search", params={"q": "word " * 33})
        assert response.status_code == 422
        assert "32 words" in response.json()["error"]["message"]
        for params in ({"limit": 0}, {"limit": 51}, {"offset": -1}):
            response = await client.get("/api/search", params={"q": "refund", **params})
            assert response.status_code == 422, params


async def test_index_follows_edits_and_deletes(harness: Harness) -> None:
    desk = await make_desk(harness)
    first = desk.printer.message_ids[0]
    async with harness.resources.sessions() as db:
        await db.execute(update(Message).where(Message.id == first).values(body="scanner fault"))
        await db.commit()
    async with harness.signed_in(desk.lee) as client:
        assert message_ids(await search(client, "scanner")) == {first}
        assert message_ids(await search(client, "printer")) == set()
    async with harness.resources.sessions() as db:
        await db.execute(delete(Conversation).where(Conversation.id == desk.refund_bob.id))
        await db.commit()
    async with harness.signed_in(desk.lee) as client:
        first_ann, _, reply = desk.refund_ann.message_ids
        assert message_ids(await search(client, "refund")) == {first_ann, reply}


def test_words_and_snippet_parts() -> None:
    assert words('refund "customer" NEAR( OR -x * ""') == ["refund", '"customer"', "-x"]
    assert words("NOT or and") == ["or", "and"]  # only upper-case words are FTS operators
    assert snippet_parts(f"a {START}b{END} c") == [
        snippet_parts("a ")[0],
        *snippet_parts(f"{START}b{END}"),
        snippet_parts(" c")[0],
    ]
    parts = snippet_parts(f"{START}x{END}{START}y{END} z {END}stray{START}")
    assert [(p.text, p.match) for p in parts] == [("xy", True), (" z stray", False)]


async def test_a_search_page_costs_the_same_queries_whatever_its_size(harness: Harness) -> None:
    agent = await harness.user(Role.AGENT)
    leader = await harness.user(Role.TEAMLEADER)
    for n in range(6):
        await make_conversation(
            harness,
            agent,
            [(agent, f"parcel {n} lost"), (leader, "parcel found")],
            leaders=[leader],
        )
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
                page = await search_service.search(db, leader, "parcel", Filters(), limit=limit)
            finally:
                event.remove(engine, "before_cursor_execute", count)
            assert len(page.hits) == limit
            costs.append(len(statements))
    assert costs[0] == costs[1] <= 6, costs
