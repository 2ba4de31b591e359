"""Every server -> client event, as the server emits it and as clients receive it, fits the
JSON Schema that the web UI's event types are generated from (events.schema_document)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from teamtalk.events import ALL_EVENTS, schema_document
from teamtalk.models import Role
from teamtalk.worker import Worker
from tests.clients import Probe, connected, go, request, sign_in
from tests.conftest import LiveServer

Emitted = list[tuple[str, Any]]


def closed(schema: Any) -> Any:
    """The schema as the TypeScript types read it (scripts/contract generates them with no
    room for fields a schema does not name): no object may carry other fields."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: closed(value) for key, value in schema.items()}
    if "properties" in out:
        out.setdefault("additionalProperties", False)
    return out


def validators() -> dict[str, Draft202012Validator]:
    """One validator per event name, each against its payload's definition in the document."""
    document = schema_document()
    Draft202012Validator.check_schema(document)
    defs = closed(document["$defs"])
    return {
        name: Draft202012Validator(
            {"$defs": defs, "$ref": ref["$ref"]},
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        for name, ref in document["properties"].items()
    }


def check(events: Emitted, where: str) -> set[str]:
    """Validates each event; the names seen."""
    known = validators()
    for name, payload in events:
        assert name in known, f"{where}: {name!r} has no schema in teamtalk.events"
        problems = [error.message for error in known[name].iter_errors(payload)]
        assert not problems, f"{where}: {name} {payload!r} does not fit its schema: {problems}"
    return {name for name, _ in events}


def test_the_document_names_every_event_and_its_shared_objects() -> None:
    document = schema_document()
    Draft202012Validator.check_schema(document)
    assert set(document["properties"]) == {event.name for event in ALL_EVENTS}
    assert document["required"] == [event.name for event in ALL_EVENTS]
    for event in ALL_EVENTS:
        assert document["properties"][event.name] == {"$ref": f"#/$defs/{event.__name__}"}
    assert {"ConversationOut", "MessageOut"} <= set(document["$defs"])


def record(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Emitted:
    """Everything this process's Realtime emits (the API's handlers and the worker share it)."""
    realtime = live.harness.fastapi.state.realtime
    emitted: Emitted = []
    emit, emit_many = realtime.emit, realtime.emit_many

    async def one(event: str, data: Any, *args: Any, **kwargs: Any) -> None:
        emitted.append((event, copy.deepcopy(data)))
        await emit(event, data, *args, **kwargs)

    async def many(items: Sequence[tuple[str, Any, Any]], **kwargs: Any) -> None:
        emitted.extend((event, copy.deepcopy(data)) for event, data, _ in items)
        await emit_many(items, **kwargs)

    monkeypatch.setattr(realtime, "emit", one)
    monkeypatch.setattr(realtime, "emit_many", many)
    return emitted


async def test_every_event_the_server_emits_fits_its_schema(
    live: LiveServer, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = live.harness
    emitted = record(live, monkeypatch)
    admin = await harness.user(Role.ADMIN)
    first = await harness.user(Role.TEAMLEADER, display_name="First Leader")
    second = await harness.user(Role.TEAMLEADER, display_name="Second Leader")
    agent = await harness.user(Role.AGENT, display_name="Agent")
    async with harness.signed_in(admin) as client:
        created = await client.post("/api/topics", json={"name": "Refunds"})
    assert created.status_code == 201, created.text
    topic_id = created.json()["topic"]["id"]

    probes: list[Probe] = []
    async with (
        connected(live, await sign_in(harness, first)) as first_socket,
        connected(live, await sign_in(harness, second)) as second_socket,
        connected(live, await sign_in(harness, agent)) as agent_socket,
        connected(live, await sign_in(harness, admin)) as admin_socket,
    ):
        probes = [first_socket, second_socket, agent_socket, admin_socket]
        # A leader's socket gets the basket and the status on connect, then each change.
        await first_socket.expect("sync_basket")
        await go(first_socket, "online")
        await first_socket.expect("ack_status", status="online")
        # Admins' dashboards hear every routing change.
        status_change = await admin_socket.expect("monitor_changed")
        assert status_change["changes"] == [
            {"what": "leader_status", "conversation_id": None, "leader_id": first.id}
        ]

        # A new request: the worker assigns it and both sides hear.
        conversation_id = (await request(harness, agent, "Refund for order 881"))["conversation"][
            "id"
        ]
        assigned = await first_socket.expect("assign_conversation")
        assert assigned["conversation"]["id"] == conversation_id
        await agent_socket.until(
            "update_conversation", lambda data: data["conversation"]["status"] == "assigned"
        )
        await admin_socket.until(
            "monitor_changed",
            lambda data: (
                {"what": "assigned", "conversation_id": conversation_id, "leader_id": first.id}
                in data["changes"]
            ),
        )

        # The chat: messages, typing, reading.
        joined = await agent_socket.call("join_conversation", {"conversation_id": conversation_id})
        assert joined["conversation"]["id"] == conversation_id
        sent = await agent_socket.say(conversation_id, "Charged twice")
        await first_socket.expect("new_message", conversation_id=conversation_id)
        await first_socket.call("typing", {"conversation_id": conversation_id})
        await agent_socket.expect("typing", conversation_id=conversation_id)
        seq = sent["message"]["seq"]
        await agent_socket.call("mark_read", {"conversation_id": conversation_id, "seq": seq})
        await first_socket.expect("read", conversation_id=conversation_id, user_id=agent.id)

        # A transfer takes it out of one basket into another; solving takes it out again.
        await go(second_socket, "online")
        await second_socket.expect("ack_status", status="online")
        async with harness.signed_in(first) as client:
            moved = await client.post(
                f"/api/conversations/{conversation_id}/transfer",
                json={"leader_id": second.id},
            )
        assert moved.status_code == 200, moved.text
        await first_socket.expect("remove_from_basket", conversation_id=conversation_id)
        await second_socket.expect("assign_conversation")
        async with harness.signed_in(second) as client:
            solved = await client.post(
                f"/api/conversations/{conversation_id}/submit",
                json={"status": "solved", "topic_id": topic_id},
            )
        assert solved.status_code == 200, solved.text
        await second_socket.expect("remove_from_basket", conversation_id=conversation_id)
        await agent_socket.until(
            "update_conversation", lambda data: data["conversation"]["status"] == "solved"
        )

        # Nobody free: a new request waits, and its agent hears where it stands.
        for probe in (first_socket, second_socket):
            await go(probe, "away")
        waiting = (await request(harness, agent, "Still waiting"))["conversation"]["id"]
        moved = await agent_socket.until(
            "queue_moved", lambda data: data["standing"]["conversation_id"] == waiting
        )
        assert moved["standing"]["position"] == 1

        # Redis lost its data: routing is rebuilt and every client told to resync.
        await harness.resources.redis.delete(harness.resources.keys.built)
        await worker.ensure_routing()
        for probe in probes:
            await probe.expect("resync", reason="routing_rebuilt")

    every = {event.name for event in ALL_EVENTS}
    sent_names = check(emitted, "emitted")
    received: Emitted = [item for probe in probes for item in probe.log]
    received_names = check(received, "received")
    # A new event type without a scenario here fails, so every type stays tested.
    assert sent_names == every, f"never emitted: {sorted(every - sent_names)}"
    assert received_names == every, f"never received: {sorted(every - received_names)}"
