"""Where each waiting request stands (services/queue_places.py): `queue_moved` to every
agent with a request in the queue after each change that may move it, and the same
standing in the request's detail."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from teamtalk.models import Presence, Role, User
from teamtalk.realtime import user_room
from teamtalk.services import presence
from teamtalk.services.queue_places import RATE_WINDOW, Queue, expected_wait
from teamtalk.worker import Worker
from tests.clients import request
from tests.conftest import NO_POLLING, Backend, Harness, harness_with

Told = dict[int, tuple[dict[str, Any], Any]]  # conversation id -> (standing, room)


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    # No worker runs unless a test steps one: the requests wait for what each test does.
    async with harness_with(backend, **NO_POLLING) as h:
        yield h


class Recorder:
    """The `queue_moved` events the app emits, by conversation, since the last `told`."""

    def __init__(self, harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[dict[str, Any], Any]] = []
        realtime = harness.fastapi.state.realtime
        emit_many = realtime.emit_many

        async def many(items: Sequence[tuple[str, Any, Any]], **kwargs: Any) -> None:
            self.seen += [
                (data["standing"], room) for name, data, room in items if name == "queue_moved"
            ]
            await emit_many(items, **kwargs)

        monkeypatch.setattr(realtime, "emit_many", many)

    def told(self) -> Told:
        out = {standing["conversation_id"]: (standing, room) for standing, room in self.seen}
        self.seen = []
        return out

    def places(self) -> dict[int, int]:
        return {cid: standing["position"] for cid, (standing, _) in self.told().items()}


@pytest.fixture
def recorder(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    return Recorder(harness, monkeypatch)


async def set_status(harness: Harness, leader: User, status: Presence) -> None:
    res = harness.resources
    async with res.sessions() as db:
        await presence.set_status(db, res, harness.fastapi.state.realtime, leader.id, status)


async def detail(harness: Harness, user: User, cid: int) -> dict[str, Any]:
    async with harness.signed_in(user) as client:
        response = await client.get(f"/api/conversations/{cid}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_each_change_tells_every_waiting_agent_where_they_stand(
    harness: Harness, recorder: Recorder
) -> None:
    admin = await harness.user(Role.ADMIN)
    lead = await harness.user(Role.TEAMLEADER, capacity=1)
    agents = [await harness.user(Role.AGENT) for _ in range(4)]
    c1, c2, c3, c4 = [(await request(harness, a))["conversation"]["id"] for a in agents]

    # Created: each waiting agent hears, in their own room; nobody online, no estimate.
    told = recorder.told()
    assert {cid: s["position"] for cid, (s, _) in told.items()} == {c1: 1, c2: 2, c3: 3, c4: 4}
    standing, room = told[c4]
    assert room == user_room(agents[3].id)
    assert standing == {
        "conversation_id": c4,
        "position": 4,
        "expected_wait_seconds": None,
        "leaders_online": 0,
    }
    assert (await detail(harness, agents[3], c4))["standing"] == standing

    # Withdrawn: the ones behind move up; the withdrawn one hears nothing more.
    async with harness.signed_in(agents[0]) as client:
        response = await client.post(f"/api/conversations/{c1}/withdraw")
    assert response.status_code == 200, response.text
    assert recorder.places() == {c2: 1, c3: 2, c4: 3}

    # Moved to the front by a supervisor.
    async with harness.signed_in(admin) as client:
        response = await client.post(f"/api/overrides/conversations/{c4}/front")
    assert response.status_code == 200, response.text
    assert recorder.places() == {c4: 1, c2: 2, c3: 3}

    # A leader online with a free slot: the first waits for nobody.
    await set_status(harness, lead, Presence.ONLINE)
    told = recorder.told()
    assert {cid: s["leaders_online"] for cid, (s, _) in told.items()} == {c4: 1, c2: 1, c3: 1}
    assert told[c4][0]["expected_wait_seconds"] == 0

    # Assigned by the worker: the rest move up, with a wait from the assignment rate
    # (one in the window, no free slot: one assignment's time per place).
    assert await Worker(harness.resources, harness.fastapi.state.realtime).step() == 1
    told = recorder.told()
    per_place = int(RATE_WINDOW.total_seconds())
    assert {cid: s["position"] for cid, (s, _) in told.items()} == {c2: 1, c3: 2}
    assert told[c2][0]["expected_wait_seconds"] == per_place
    assert told[c3][0]["expected_wait_seconds"] == 2 * per_place
    assert (await detail(harness, agents[1], c2))["standing"] == told[c2][0]
    assert (await detail(harness, agents[3], c4))["standing"] is None

    # The leader goes offline: their request returns to the head of the queue.
    await set_status(harness, lead, Presence.OFFLINE)
    told = recorder.told()
    assert {cid: s["position"] for cid, (s, _) in told.items()} == {c4: 1, c2: 2, c3: 3}
    assert {s["expected_wait_seconds"] for s, _ in told.values()} == {None}
    assert {s["leaders_online"] for s, _ in told.values()} == {0}


async def test_an_away_leader_is_not_online(harness: Harness, recorder: Recorder) -> None:
    lead = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    cid = (await request(harness, agent))["conversation"]["id"]
    await set_status(harness, lead, Presence.AWAY)
    standing, _ = recorder.told()[cid]
    assert standing["leaders_online"] == 0 and standing["expected_wait_seconds"] is None


def test_expected_wait() -> None:
    window = int(RATE_WINDOW.total_seconds())
    nobody = Queue(order=[1, 2, 3], leaders_online=0, free_slots=0)
    assert expected_wait(1, nobody, assigned_recently=10) is None
    busy = Queue(order=[1, 2, 3], leaders_online=2, free_slots=1)
    assert expected_wait(1, busy, assigned_recently=0) == 0  # a slot is free for it
    assert expected_wait(2, busy, assigned_recently=0) is None  # no rate to go by
    assert expected_wait(3, busy, assigned_recently=window // 60) == 120  # one a minute
