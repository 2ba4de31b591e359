"""Simulated people as real clients: agents opening requests over HTTP, team leaders
holding their basket over Socket.IO and submitting each conversation as solved over HTTP.
Every HTTP answer is written down in the ledger, for the audit."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import socketio

from teamtalk.schemas import ConversationCreate
from tests.chaos.stack import People, Person

# The product takes a client id on create (a retried create opens one request): then
# agents retry through 503s and lost answers with the same id; until then only when the
# request never reached a server.
CREATE_IDS = "client_id" in ConversationCreate.model_fields
HTTP_TIMEOUT = 15.0
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
RETRY_STATUS = frozenset({502, 503, 504})


@dataclass
class Attempt:
    started: float  # time.time()
    ended: float
    server: str
    status: int | None  # None: no answer (the error names why)
    code: str | None = None  # the error body's code
    error: str | None = None
    detail: str = ""  # the body of a 5xx answer
    # Sent on a connection kept alive from an earlier request, which the server closed before
    # any answer: a stopping server closes its idle connections, and a request that was on
    # its way then was never read. Clients retry it (RFC 9112, 9.3.1; browsers do).
    unread: bool = False


@dataclass
class Operation:
    """One thing a person meant to do, with every try at it."""

    kind: str  # "create" or "submit"
    key: str  # the create's marker, or "conversation:leader" for a submit
    attempts: list[Attempt] = field(default_factory=list)
    conversation_id: int | None = None
    leader_id: int | None = None

    @property
    def succeeded(self) -> bool:
        return any(a.status is not None and a.status < 300 for a in self.attempts)

    @property
    def unanswered(self) -> bool:
        """Some try got no answer: the client cannot know whether it happened."""
        return any(a.status is None for a in self.attempts)


class Ledger:
    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def new(self, kind: str, key: str) -> Operation:
        op = Operation(kind, key)
        self.operations.append(op)
        return op

    def answers(self) -> list[Attempt]:
        return [a for op in self.operations for a in op.attempts]


class Servers:
    """Round-robin over the servers, as a load balancer would."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self._next = itertools.cycle(range(len(self.urls)))
        self.client = httpx.AsyncClient(timeout=HTTP_TIMEOUT)

    def pick(self) -> str:
        return self.urls[next(self._next)]

    async def post(self, op: Operation, person: Person, path: str, body: Any) -> Attempt:
        url = self.pick()
        started = time.time()
        steps: list[str] = []

        async def trace(step: str, info: dict[str, Any]) -> None:
            steps.append(step)

        try:
            response = await self.client.post(
                f"{url}{path}",
                json=body,
                headers={"Cookie": person.cookie, "Origin": url},
                extensions={"trace": trace},
            )
        except httpx.HTTPError as exc:
            attempt = Attempt(started, time.time(), url, None, error=type(exc).__name__)
            attempt.unread = "connection.connect_tcp.started" not in steps and (
                "http11.receive_response_headers.failed" in steps
            )
        else:
            code = None
            if response.status_code >= 400:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    code = response.json()["error"]["code"]
            detail = response.text[:300] if response.status_code >= 500 else ""
            attempt = Attempt(started, time.time(), url, response.status_code, code, None, detail)
        op.attempts.append(attempt)
        return attempt

    async def close(self) -> None:
        await self.client.aclose()


def should_retry(attempt: Attempt, *, with_id: bool) -> bool:
    if attempt.status is None:
        return with_id or attempt.error in {e.__name__ for e in NOT_SENT}
    return with_id and attempt.status in RETRY_STATUS


class Agents:
    """Agents opening requests at `rate` per second, each with a unique marker as its
    message (and client id, when the product takes one)."""

    def __init__(self, people: People, servers: Servers, ledger: Ledger, rate: float) -> None:
        self.people, self.servers, self.ledger, self.rate = people, servers, ledger, rate
        self.tasks: set[asyncio.Task[None]] = set()
        self.give_up_at = float("inf")  # time.time() after which nothing is retried

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`; then the creates in hand finish (retrying until `give_up_at`)."""
        while not stop.is_set():
            agent = random.choice(self.people.agents)
            task = asyncio.create_task(self.create(agent))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), random.expovariate(self.rate))
        if self.tasks:
            await asyncio.wait(set(self.tasks))

    async def create(self, agent: Person) -> None:
        marker = f"chaos {uuid.uuid4().hex}"
        op = self.ledger.new("create", marker)
        body: dict[str, Any] = {"message": marker}
        if CREATE_IDS:
            body["client_id"] = marker.split()[1]
        delay = 0.2
        while True:
            attempt = await self.servers.post(op, agent, "/api/conversations", body)
            if not should_retry(attempt, with_id=CREATE_IDS) or time.time() > self.give_up_at:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


class Leader:
    """A team leader's browser: online, holding the basket the server's events describe,
    reconnecting (to the next server) whenever its socket drops."""

    def __init__(self, person: Person, crew: Leaders) -> None:
        self.person, self.crew = person, crew
        self.basket: dict[int, float] = {}  # conversation id -> when it arrived here
        self.newest: dict[int, datetime] = {}  # conversation id -> newest state heard
        self.connected = False
        self.connects = 0
        self.dropped = asyncio.Event()
        self.status: str | None = None
        self.submitting: set[int] = set()
        self.fetching = False  # a basket refetch is under way
        self.heard_while_fetching = False

    @property
    def user_id(self) -> int:
        return self.person.user_id

    def shows(self) -> set[int]:
        return set(self.basket)

    def _arrived(self, conversation_id: int) -> None:
        if conversation_id not in self.basket:
            now = time.time()
            self.basket[conversation_id] = now
            self.crew.first_seen.setdefault(conversation_id, now)
        self.crew.schedule(self, conversation_id)

    def _left(self, conversation_id: int) -> None:
        self.basket.pop(conversation_id, None)

    def _heard(self) -> None:
        # As the web app does: a refetch under way may answer with the basket as it was
        # before this event, so it is fetched once more afterwards.
        if self.fetching:
            self.heard_while_fetching = True

    def _conversation(self, conversation: dict[str, Any]) -> None:
        cid = int(conversation["id"])
        # As the web app does: delivery is at least once, and a late copy of an older state
        # (the outbox's) must not undo a newer one.
        at = datetime.fromisoformat(conversation["updated_at"])
        if cid in self.newest and at < self.newest[cid]:
            return
        self.newest[cid] = at
        if conversation.get("status") == "assigned" and conversation.get("assignee_id") == (
            self.user_id
        ):
            self._arrived(cid)
        else:
            self._left(cid)

    def _replace(self, conversations: list[dict[str, Any]]) -> None:
        held = {int(c["id"]) for c in conversations}
        for cid in list(self.basket):
            if cid not in held:
                self._left(cid)
        for c in conversations:
            self._conversation(c)

    async def _refetch_basket(self) -> None:
        """The basket from the server, retried for a while through an outage, and again
        when an event changed it meanwhile."""
        servers = self.crew.servers
        tries = 0
        while tries < 20:
            tries += 1
            url = servers.pick()
            self.fetching, self.heard_while_fetching = True, False
            try:
                response = await servers.client.get(
                    f"{url}/api/conversations/basket", headers={"Cookie": self.person.cookie}
                )
            except httpx.HTTPError:
                response = None
            finally:
                self.fetching = False
            if response is not None and response.status_code == 200:
                self._replace(response.json()["conversations"])
                if not self.heard_while_fetching:
                    return
                continue
            await asyncio.sleep(0.25)

    def _client(self) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)

        async def sync_basket(data: dict[str, Any]) -> None:
            self._replace(data["conversations"])

        async def assign(data: dict[str, Any]) -> None:
            self._heard()
            self._conversation(data["conversation"])

        async def update(data: dict[str, Any]) -> None:
            self._heard()
            self._conversation(data["conversation"])

        async def remove(data: dict[str, Any]) -> None:
            self._heard()
            self._left(int(data["conversation_id"]))

        async def resync(data: dict[str, Any]) -> None:
            # As the web app does: events may have been lost, so the basket is fetched.
            await self._refetch_basket()

        async def ack_status(data: dict[str, Any]) -> None:
            self.status = data["status"]

        async def disconnect(*_: Any) -> None:
            self.connected = False
            self.dropped.set()

        sio.on("sync_basket", sync_basket)
        sio.on("assign_conversation", assign)
        sio.on("update_conversation", update)
        sio.on("remove_from_basket", remove)
        sio.on("ack_status", ack_status)
        sio.on("resync", resync)
        sio.on("disconnect", disconnect)
        return sio

    async def live(self, stop: asyncio.Event) -> None:
        """Connected (and online) until `stop`, through server kills and restarts."""
        while not stop.is_set():
            url = self.crew.servers.pick()
            sio = self._client()
            self.dropped.clear()
            self.status = None
            try:
                await sio.connect(
                    url,
                    headers={"Cookie": self.person.cookie},
                    transports=["websocket"],
                    wait_timeout=5,
                )
            except (socketio.exceptions.ConnectionError, OSError, TimeoutError):
                with contextlib.suppress(Exception):
                    await sio.disconnect()
                await asyncio.sleep(0.3)
                continue
            self.connected = True
            self.connects += 1
            try:
                await self._go_online(sio)
                waits = {
                    asyncio.ensure_future(stop.wait()),
                    asyncio.ensure_future(self.dropped.wait()),
                }
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for w in waits:
                    w.cancel()
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await sio.disconnect()

    async def _go_online(self, sio: socketio.AsyncClient) -> None:
        """As a leader who chose "online": set again only if the server says otherwise."""
        for _ in range(20):
            if self.status is not None or self.dropped.is_set():
                break
            await asyncio.sleep(0.05)
        while self.status != "online" and not self.dropped.is_set():
            try:
                ack = await sio.call("set_status", {"status": "online"}, timeout=5)
            except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
                await asyncio.sleep(0.5)
                continue
            if isinstance(ack, dict) and ack.get("status") == "online":
                self.status = "online"
                return
            await asyncio.sleep(0.5)


class Leaders:
    """Every leader's client, and the submits they make: each conversation that arrives is
    submitted as solved after 0.2-2 s, retried through outages until it leaves the basket."""

    def __init__(self, people: People, servers: Servers, ledger: Ledger) -> None:
        self.people, self.servers, self.ledger = people, servers, ledger
        self.leaders = [Leader(p, self) for p in people.leaders]
        self.first_seen: dict[int, float] = {}  # conversation id -> first arrival anywhere
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.submits: set[asyncio.Task[None]] = set()
        self.give_up_at = float("inf")

    async def start(self) -> None:
        self.tasks = [asyncio.create_task(leader.live(self.stop)) for leader in self.leaders]
        deadline = time.monotonic() + 30
        while not all(ldr.connected and ldr.status == "online" for ldr in self.leaders):
            if time.monotonic() > deadline:
                late = [ldr.user_id for ldr in self.leaders if ldr.status != "online"]
                raise RuntimeError(f"leaders {late} did not come online in 30 s")
            await asyncio.sleep(0.05)

    def schedule(self, leader: Leader, conversation_id: int) -> None:
        if conversation_id in leader.submitting:
            return
        leader.submitting.add(conversation_id)
        task = asyncio.create_task(self._submit(leader, conversation_id))
        self.submits.add(task)
        task.add_done_callback(self.submits.discard)

    async def _submit(self, leader: Leader, conversation_id: int) -> None:
        try:
            await asyncio.sleep(random.uniform(0.2, 2.0))
            op = self.ledger.new("submit", f"{conversation_id}:{leader.user_id}")
            op.conversation_id, op.leader_id = conversation_id, leader.user_id
            body = {"status": "solved", "topic_id": self.people.topic_id}
            path = f"/api/conversations/{conversation_id}/submit"
            delay = 0.2
            while conversation_id in leader.basket and time.time() < self.give_up_at:
                attempt = await self.servers.post(op, leader.person, path, body)
                if attempt.status is not None and attempt.status < 300:
                    leader.basket.pop(conversation_id, None)
                    return
                if attempt.status is not None and attempt.status not in RETRY_STATUS | {500}:
                    return  # not theirs (any more): the basket's events decide
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        finally:
            leader.submitting.discard(conversation_id)
        # Still shown but never submitted (given up): nothing more to do.

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for task in list(self.submits):
            task.cancel()
        await asyncio.gather(*self.submits, return_exceptions=True)

    def baskets(self) -> dict[int, set[int]]:
        return {ldr.user_id: ldr.shows() for ldr in self.leaders}
