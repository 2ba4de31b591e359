"""Conversations end to end: python-socketio clients against a live server and a worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import socketio
from sqlalchemy import func, select, update

from teamtalk.models import (
    Conversation,
    ConversationEvent,
    Message,
    Role,
    Status,
    User,
    utcnow,
)
from teamtalk.services import lifecycle
from teamtalk.services.topics import create_topic
from teamtalk.worker import Worker
from tests.clients import Probe, connected, go, request, sign_in
from tests.conftest import NO_POLLING, Backend, Harness, LiveServer, harness_with


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    async with harness_with(backend, **NO_POLLING, messages_per_minute=40) as h:
        yield h


async def topic_id(harness: Harness) -> int:
    async with harness.resources.sessions() as db:
        return (await create_topic(db, name=f"Billing {id(db)}")).id


def status_is(status: str, conversation_id: int) -> Any:
    def check(data: Any) -> bool:
        c = data["conversation"]
        return bool(c["id"] == conversation_id and c["status"] == status)

    return check


async def submit(harness: Harness, lead: User, cid: int, status: str, topic: int) -> Any:
    async with harness.signed_in(lead) as client:
        response = await client.post(
            f"/api/conversations/{cid}/submit", json={"status": status, "topic_id": topic}
        )
    assert response.status_code == 200, response.text
    return response.json()


async def stored_bodies(harness: Harness, cid: int) -> list[tuple[int, str, str]]:
    async with harness.resources.sessions() as db:
        rows = await db.execute(
            select(Message.seq, Message.kind, Message.body)
            .where(Message.conversation_id == cid)
            .order_by(Message.seq)
        )
        return [(seq, kind, body) for seq, kind, body in rows]


async def test_chat_solve_reopen_within_the_window_then_closed_after_it(
    live: LiveServer, worker: Worker
) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER, display_name="Lena Lead")
    agent = await harness.user(Role.AGENT, display_name="Aldo Agent")
    topic = await topic_id(harness)
    async with (
        connected(live, await sign_in(harness, lead)) as leader,
        connected(live, await sign_in(harness, agent)) as agent_socket,
    ):
        await go(leader, "online")
        cid = (await request(harness, agent, "Customer wants a refund"))["conversation"]["id"]
        assigned = await leader.expect("assign_conversation")
        assert assigned["conversation"]["id"] == cid
        assert assigned["conversation"]["agent_name"] == "Aldo Agent"
        assert assigned["conversation"]["assignee_name"] == "Lena Lead"
        note = await agent_socket.expect("new_message", conversation_id=cid)
        assert note["message"]["kind"] == "system" and "Lena Lead" in note["message"]["body"]

        # Both ways, in order, each side hearing the other's messages.
        seqs = []
        for i in range(3):
            ack = await agent_socket.say(cid, f"agent {i}")
            assert ack["message"]["body"] == f"agent {i}"
            assert ack["message"]["sender_name"] == "Aldo Agent"
            got = await leader.until("new_message", lambda d: d["message"]["sender_id"] == agent.id)
            assert got["message"] == ack["message"]
            reply = await leader.say(cid, f"leader {i}")
            got = await agent_socket.until(
                "new_message", lambda d: d["message"]["sender_id"] == lead.id
            )
            assert got["message"]["body"] == f"leader {i}" == reply["message"]["body"]
            seqs += [ack["message"]["seq"], reply["message"]["seq"]]
        assert seqs == sorted(seqs) and len(set(seqs)) == 6

        await submit(harness, lead, cid, "solved", topic)
        await agent_socket.until("update_conversation", status_is("solved", cid))
        await leader.expect("remove_from_basket", conversation_id=cid)

        # Within the reopen window: the agent's message reopens it, and it comes back.
        ack = await agent_socket.say(cid, "One more thing")
        assert "message" in ack, ack
        await agent_socket.until("update_conversation", status_is("queued", cid))
        again = await leader.expect("assign_conversation")
        assert again["conversation"]["id"] == cid
        await leader.eventually("new_message", lambda d: d["message"]["body"] == "One more thing")

        # After the window: closed, told, and nothing stored.
        await submit(harness, lead, cid, "solved", topic)
        async with harness.resources.sessions() as db:
            await db.execute(
                update(Conversation)
                .where(Conversation.id == cid)
                .values(resolved_at=utcnow() - timedelta(minutes=31))
            )
            await db.commit()
        refused = await agent_socket.say(cid, "Are you there?")
        assert refused["error"]["code"] == "conversation_closed"
        assert "new request" in refused["error"]["message"]
        await agent_socket.until("update_conversation", status_is("closed", cid))
        assert agent_socket.client.connected

    bodies = [body for _, _, body in await stored_bodies(harness, cid)]
    assert "Are you there?" not in bodies
    assert bodies.count("One more thing") == 1
    async with harness.resources.sessions() as db:
        types = list(
            await db.scalars(
                select(ConversationEvent.type)
                .where(ConversationEvent.conversation_id == cid)
                .order_by(ConversationEvent.id)
            )
        )
    assert types == [
        "created",
        "assigned",
        "solved",
        "reopened",
        "assigned",
        "solved",
        "closed",
    ]


async def test_a_pending_conversation_goes_back_to_its_leader(
    live: LiveServer, worker: Worker
) -> None:
    harness = live.harness
    first = await harness.user(Role.TEAMLEADER, capacity=2)
    roomy = await harness.user(Role.TEAMLEADER, capacity=10)
    agent = await harness.user(Role.AGENT)
    topic = await topic_id(harness)
    async with (
        connected(live, await sign_in(harness, first)) as first_socket,
        connected(live, await sign_in(harness, roomy)) as roomy_socket,
        connected(live, await sign_in(harness, agent)) as agent_socket,
    ):
        await go(first_socket, "online")
        cid = (await request(harness, agent))["conversation"]["id"]
        await first_socket.expect("assign_conversation")
        await go(roomy_socket, "online")  # now the leader with the most free slots
        await submit(harness, first, cid, "pending", topic)
        await agent_socket.until("update_conversation", status_is("pending", cid))

        ack = await agent_socket.say(cid, "The customer called back")
        assert "message" in ack, ack
        back = await first_socket.expect("assign_conversation")
        assert back["conversation"]["id"] == cid
        assert back["conversation"]["assignee_id"] == first.id
        # The next new request goes by free slots as usual.
        other = (await request(harness, agent))["conversation"]["id"]
        assert (await roomy_socket.expect("assign_conversation"))["conversation"]["id"] == other
    async with harness.resources.sessions() as db:
        requeued = await db.scalar(
            select(ConversationEvent).where(
                ConversationEvent.conversation_id == cid, ConversationEvent.type == "requeued"
            )
        )
    assert requeued is not None and requeued.from_leader_id == first.id


def leaked(probe: Probe, cid: int) -> list[tuple[str, Any]]:
    """Events about conversation `cid` that reached a socket."""
    out = []
    for name, data in probe.drain():
        about = data.get("conversation_id") or (data.get("conversation") or {}).get("id")
        if about == cid:
            out.append((name, data))
    return out


async def test_strangers_are_refused_and_hear_nothing(live: LiveServer, worker: Worker) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER)
    other_lead = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    other_agent = await harness.user(Role.AGENT)
    async with (
        connected(live, await sign_in(harness, lead)) as leader,
        connected(live, await sign_in(harness, agent)) as agent_socket,
        connected(live, await sign_in(harness, other_agent)) as nosy_agent,
        connected(live, await sign_in(harness, other_lead)) as nosy_lead,
    ):
        await go(leader, "online")
        cid = (await request(harness, agent))["conversation"]["id"]
        await leader.expect("assign_conversation")
        target = {"conversation_id": cid}
        for probe in (nosy_agent, nosy_lead):
            for event, payload in (
                ("join_conversation", target),
                ("send_message", {**target, "client_id": "x1", "body": "let me in"}),
                ("mark_read", {**target, "seq": 1}),
                ("typing", target),
            ):
                answer = await probe.call(event, payload)
                assert answer["error"]["code"] == "conversation_not_found", (event, answer)
            caught_up = await probe.call("sync", {"since": [{"conversation_id": cid, "seq": 0}]})
            assert caught_up == {"conversations": [], "messages": [], "truncated": []}
        async with harness.signed_in(other_lead) as client:
            response = await client.post(
                f"/api/conversations/{cid}/transfer", json={"leader_id": other_lead.id}
            )
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "not_assignee"
            # Every leader may read the team's history; taking part live is for its leaders.
            assert (await client.get(f"/api/conversations/{cid}")).status_code == 200
        async with harness.signed_in(other_agent) as client:
            assert (await client.get(f"/api/conversations/{cid}")).status_code == 404
            response = await client.post(
                f"/api/conversations/{cid}/messages", json={"client_id": "y", "body": "hi"}
            )
            assert response.status_code == 404

        # The real conversation goes on; the strangers' sockets hear none of it.
        await agent_socket.say(cid, "private")
        await leader.expect("new_message", conversation_id=cid)
        await agent_socket.call("typing", target)
        await leader.expect("typing", conversation_id=cid)
        await leader.say(cid, "also private")
        await agent_socket.until("new_message", lambda d: d["message"]["body"] == "also private")
        await asyncio.sleep(0.3)
        assert leaked(nosy_agent, cid) == [] and leaked(nosy_lead, cid) == []
        assert nosy_agent.client.connected and nosy_lead.client.connected
    assert [b for _, _, b in await stored_bodies(harness, cid)].count("let me in") == 0

    anonymous = Probe()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await anonymous.client.connect(live.url, transports=["websocket"], wait_timeout=5)
    assert anonymous.refusal["data"]["error"]["code"] == "not_authenticated"


async def test_a_retried_send_is_stored_once_and_a_reconnect_catches_up_exactly(
    live: LiveServer, worker: Worker
) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    leader_token = await sign_in(harness, lead)
    async with connected(live, await sign_in(harness, agent)) as agent_socket:
        async with connected(live, leader_token) as leader:
            await go(leader, "online")
            cid = (await request(harness, agent))["conversation"]["id"]
            assigned = await leader.expect("assign_conversation")
            seen = assigned["conversation"]["last_seq"]
            first = await agent_socket.say(cid, "hello", client_id="c-1")
            again = await agent_socket.say(cid, "hello", client_id="c-1")
            assert first == again
            got = await leader.until(
                "new_message", lambda d: d["message"]["id"] == first["message"]["id"]
            )
            seen = got["message"]["seq"]
            await asyncio.sleep(0.3)
            assert [e for e in leader.drain() if e[0] == "new_message"] == []
        # The leader is away from the socket: three messages go by.
        sent = [(await agent_socket.say(cid, f"missed {i}"))["message"] for i in range(3)]
        async with harness.signed_in(agent) as client:
            response = await client.post(
                f"/api/conversations/{cid}/messages", json={"client_id": "c-1", "body": "hello"}
            )
            assert response.status_code == 201
            assert response.json()["message"]["id"] == first["message"]["id"]
        async with connected(live, leader_token) as leader:
            caught_up = await leader.call(
                "sync", {"since": [{"conversation_id": cid, "seq": seen}]}
            )
            assert caught_up["messages"] == sent
            assert [c["id"] for c in caught_up["conversations"]] == [cid]
            assert caught_up["truncated"] == []
            nothing = await leader.call(
                "sync", {"since": [{"conversation_id": cid, "seq": sent[-1]["seq"]}]}
            )
            assert nothing["messages"] == []
    bodies = [b for _, _, b in await stored_bodies(harness, cid)]
    assert bodies.count("hello") == 1


async def test_bad_payloads_get_error_acks_and_hurt_no_one(
    live: LiveServer, worker: Worker
) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    async with (
        connected(live, await sign_in(harness, lead)) as leader,
        connected(live, await sign_in(harness, agent)) as agent_socket,
    ):
        await go(leader, "online")
        cid = (await request(harness, agent))["conversation"]["id"]
        await leader.expect("assign_conversation")
        huge = "x" * 1_000_000
        cases: list[tuple[str, Any, str]] = [
            ("send_message", {"conversation_id": "one", "client_id": "a", "body": "b"}, "invalid"),
            ("send_message", {"conversation_id": cid, "body": "no client id"}, "invalid"),
            ("send_message", {"conversation_id": cid, "client_id": "a", "body": 12}, "invalid"),
            ("send_message", {"conversation_id": cid, "client_id": "a", "body": huge}, "invalid"),
            ("send_message", {"conversation_id": cid, "client_id": huge, "body": "b"}, "invalid"),
            (
                "send_message",
                {"conversation_id": cid, "client_id": "a", "body": " \n "},
                "empty_message",
            ),
            (
                "send_message",
                {"conversation_id": cid, "client_id": "a", "body": "b", "x": 1},
                "invalid",
            ),
            ("send_message", "just a string", "invalid"),
            ("send_message", [cid, "a", "b"], "invalid"),
            ("send_message", None, "invalid"),
            ("join_conversation", {"conversation_id": None}, "invalid"),
            ("mark_read", {"conversation_id": cid, "seq": -1}, "invalid"),
            ("typing", {}, "invalid"),
            ("sync", {"since": [{"conversation_id": cid}] * 101}, "invalid"),
            ("sync", {"since": "everything"}, "invalid"),
            ("delete_everything", {"conversation_id": cid}, "unknown_event"),
        ]
        for event, payload, code in cases:
            answer = await agent_socket.call(event, payload)
            assert answer["error"]["code"] == code, (event, str(payload)[:80], answer)
            assert agent_socket.client.connected
        # Nothing was stored, and both sides still talk.
        assert len(await stored_bodies(harness, cid)) == 2  # the request and "assigned"
        await agent_socket.say(cid, "still here")
        await leader.until("new_message", lambda d: d["message"]["body"] == "still here")


async def test_messages_are_rate_limited_per_user(live: LiveServer, worker: Worker) -> None:
    harness = live.harness
    agent = await harness.user(Role.AGENT)
    async with connected(live, await sign_in(harness, agent)) as agent_socket:
        cid = (await request(harness, agent))["conversation"]["id"]
        started = time.monotonic()
        answers = [await agent_socket.say(cid, f"m{i}") for i in range(45)]
        elapsed = time.monotonic() - started
    refused = [a for a in answers if "error" in a]
    assert refused and all(a["error"]["code"] == "rate_limited" for a in refused)
    assert refused[0]["error"]["details"]["retry_after"] >= 1
    # 40 at once, then one more every 1.5 s (40 a minute).
    accepted = len(answers) - len(refused)
    assert 40 <= accepted <= 40 + int(elapsed / 1.5) + 1, (accepted, elapsed)
    stored = await stored_bodies(harness, cid)
    assert len([1 for _, kind, _ in stored if kind == "user"]) == 1 + accepted


async def test_transfer_to_a_leader_or_back_to_the_queue(live: LiveServer, worker: Worker) -> None:
    harness = live.harness
    giver = await harness.user(Role.TEAMLEADER, display_name="Gina")
    taker = await harness.user(Role.TEAMLEADER, display_name="Theo", capacity=1)
    away = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    async with (
        connected(live, await sign_in(harness, giver)) as giver_socket,
        connected(live, await sign_in(harness, taker)) as taker_socket,
        connected(live, await sign_in(harness, away)) as away_socket,
        connected(live, await sign_in(harness, agent)) as agent_socket,
    ):
        await go(giver_socket, "online")
        await go(away_socket, "away")
        cid = (await request(harness, agent))["conversation"]["id"]
        await giver_socket.expect("assign_conversation")
        await go(taker_socket, "online")

        async with harness.signed_in(giver) as client:
            targets = (await client.get(f"/api/conversations/{cid}/transfer-targets")).json()
            assert [t["id"] for t in targets["leaders"]] == [taker.id]
            assert targets["leaders"][0] == {
                "id": taker.id,
                "display_name": "Theo",
                "free_slots": 1,
            }
            response = await client.post(
                f"/api/conversations/{cid}/transfer", json={"leader_id": away.id}
            )
            assert response.json()["error"]["code"] == "leader_unavailable"
            response = await client.post(
                f"/api/conversations/{cid}/transfer",
                json={"leader_id": taker.id, "reason": "billing expert"},
            )
            assert response.status_code == 200, response.text
            assert response.json()["conversation"]["assignee_name"] == "Theo"
        given = await taker_socket.expect("assign_conversation")
        assert given["conversation"]["id"] == cid
        assert (given["reason"], given["request"]) == ("billing expert", "Need help")
        await giver_socket.expect("remove_from_basket", conversation_id=cid)
        await agent_socket.until(
            "update_conversation", lambda d: d["conversation"]["assignee_id"] == taker.id
        )
        note = await agent_socket.until(
            "new_message",
            lambda d: d["message"]["kind"] == "system" and "Theo" in d["message"]["body"],
        )
        text = "Gina transferred this conversation to Theo. Reason: billing expert"
        assert note["message"]["body"] == text
        refused = await giver_socket.say(cid, "still mine?")
        assert refused["error"]["code"] == "read_only"
        joined = await giver_socket.call("join_conversation", {"conversation_id": cid})
        assert joined["conversation"]["assignee_id"] == taker.id
        assert "message" in await taker_socket.say(cid, "Theo here")

        # Theo is full now: a second request waits; back to the queue goes to Gina, not Theo.
        second = (await request(harness, agent))["conversation"]["id"]
        assert (await giver_socket.expect("assign_conversation"))["conversation"]["id"] == second
        async with harness.signed_in(taker) as client:
            response = await client.post(
                f"/api/conversations/{cid}/transfer", json={"leader_id": None}
            )
            assert response.status_code == 200, response.text
        await taker_socket.expect("remove_from_basket", conversation_id=cid)
        assert (await giver_socket.expect("assign_conversation"))["conversation"]["id"] == cid
    snapshot = await harness.resources.router.snapshot()
    assert snapshot.leaders[giver.id].basket == {cid, second}
    assert snapshot.leaders[taker.id].basket == set()


async def test_withdraw_while_queued_and_reopen_rules(live: LiveServer, worker: Worker) -> None:
    harness = live.harness
    agent = await harness.user(Role.AGENT)
    other = await harness.user(Role.AGENT)
    async with connected(live, await sign_in(harness, agent)) as agent_socket:
        cid = (await request(harness, agent))["conversation"]["id"]
        async with harness.signed_in(other) as client:
            assert (await client.post(f"/api/conversations/{cid}/withdraw")).status_code == 404
        async with harness.signed_in(agent) as client:
            response = await client.post(f"/api/conversations/{cid}/withdraw")
            assert response.status_code == 200
            assert response.json()["conversation"]["status"] == "cancelled"
            # Sent again (its answer lost): answered as it stands, nothing done twice.
            again = await client.post(f"/api/conversations/{cid}/withdraw")
            assert again.status_code == 200
            assert again.json()["conversation"] == response.json()["conversation"]
            reopen = await client.post(f"/api/conversations/{cid}/reopen")
            assert reopen.json()["error"]["code"] == "not_reopenable"
        await agent_socket.until("update_conversation", status_is("cancelled", cid))
        refused = await agent_socket.say(cid, "hello?")
        assert refused["error"]["code"] == "conversation_closed"
    assert await harness.resources.router.queue_position(cid) is None


async def test_solved_conversations_close_when_the_window_ends(harness: Harness) -> None:
    res = harness.resources
    lead = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    old, fresh = [(await request(harness, agent))["conversation"]["id"] for _ in range(2)]
    async with res.sessions() as db:
        for cid, ago in ((old, 45), (fresh, 5)):
            await db.execute(
                update(Conversation)
                .where(Conversation.id == cid)
                .values(
                    status=Status.SOLVED,
                    assignee_id=lead.id,
                    resolved_at=utcnow() - timedelta(minutes=ago),
                )
            )
        await db.commit()
    assert await lifecycle.close_expired(res, None) == 1
    assert await lifecycle.close_expired(res, None) == 0
    async with res.sessions() as db:
        assert (await db.get_one(Conversation, old)).status == Status.CLOSED
        assert (await db.get_one(Conversation, fresh)).status == Status.SOLVED
        closed = await db.scalar(
            select(func.count()).where(
                ConversationEvent.conversation_id == old, ConversationEvent.type == "closed"
            )
        )
    assert closed == 1


async def test_read_marks_and_typing_reach_the_other_side(live: LiveServer, worker: Worker) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER, display_name="Lou")
    agent = await harness.user(Role.AGENT, display_name="Ann")
    agent_token = await sign_in(harness, agent)
    async with (
        connected(live, await sign_in(harness, lead)) as leader,
        connected(live, agent_token) as agent_socket,
        connected(live, agent_token) as agent_tab,
    ):
        await go(leader, "online")
        cid = (await request(harness, agent))["conversation"]["id"]
        await leader.expect("assign_conversation")
        ack = await agent_socket.say(cid, "hi")
        seq = ack["message"]["seq"]
        async with harness.signed_in(lead) as client:
            (held,) = (await client.get("/api/conversations/basket")).json()["conversations"]
            # The request and "hi": the system line "Assigned to Lou." is not counted.
            assert (held["id"], held["unread"], held["last_message"]["body"]) == (cid, 2, "hi")
        assert await leader.call("mark_read", {"conversation_id": cid, "seq": seq}) == {
            "last_read_seq": seq
        }
        read = await agent_socket.expect("read", conversation_id=cid)
        assert read == {"conversation_id": cid, "user_id": lead.id, "last_read_seq": seq}
        # Never backwards, never past the end.
        back = await leader.call("mark_read", {"conversation_id": cid, "seq": 1})
        assert back == {"last_read_seq": seq}
        ahead = await leader.call("mark_read", {"conversation_id": cid, "seq": 10_000})
        assert ahead == {"last_read_seq": seq}
        async with harness.signed_in(lead) as client:
            detail = (await client.get(f"/api/conversations/{cid}")).json()
            assert detail["last_read_seq"] == seq
            (held,) = (await client.get("/api/conversations/basket")).json()["conversations"]
            assert held["unread"] == 0

        assert await agent_socket.call("typing", {"conversation_id": cid}) == {
            "conversation_id": cid
        }
        typing = await leader.expect("typing", conversation_id=cid)
        assert typing == {"conversation_id": cid, "user_id": agent.id, "display_name": "Ann"}
        await agent_tab.expect("typing", conversation_id=cid)  # the agent's other tab
        # Throttled: a second signal within two seconds is acknowledged, not relayed.
        await agent_socket.call("typing", {"conversation_id": cid})
        await asyncio.sleep(0.3)
        assert [e for e in leader.drain() if e[0] == "typing"] == []
        assert [e for e in agent_socket.drain() if e[0] == "typing"] == []
