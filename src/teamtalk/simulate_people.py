"""The simulated people of `teamtalk demo --simulate`: each is a real HTTP session (cookies)
and a real Socket.IO client of a running server, using the product's own routes and events."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
import socketio

from teamtalk.services.auth import COOKIE_NAME

REQUESTS = (
    "Customer says they were charged twice this month.",
    "A refund was promised but has not arrived; can I approve it?",
    "The customer cannot sign in after a password reset.",
    "Parcel marked delivered, customer says it never came.",
    "Which plan should I offer a customer leaving for a competitor?",
    "The invoice shows the wrong company name.",
)
AGENT_REPLIES = ("Thanks, trying that now.", "The customer confirms.", "Got it, thank you!")
LEADER_REPLIES = (
    "Hi! Let me check the account.",
    "Yes, go ahead with the refund.",
    "Ask them to clear the cache and try again.",
    "I see it; I am fixing it on our side.",
)
MAX_PROBLEMS = 20
SIGN_IN_ATTEMPTS = 4


class Failed(Exception):
    """The simulation cannot start or go on (server unreachable, sign-in refused)."""


@dataclass
class Tally:
    """What the simulation did, counted as the server confirmed it."""

    created: int = 0
    assigned: int = 0
    messages: int = 0
    submitted: int = 0
    status_changes: int = 0
    errors: int = 0
    problems: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(what)


@dataclass
class World:
    """What every simulated person shares."""

    url: str
    password: str
    tally: Tally
    rng: random.Random
    think: float  # mean seconds a person takes before acting
    topic_ids: list[int] = field(default_factory=list)

    def pause(self, scale: float = 1.0) -> float:
        return self.rng.uniform(0.5, 1.5) * self.think * scale


def error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


class Person:
    def __init__(self, world: World, email: str) -> None:
        self.world = world
        self.email = email
        self.user_id = 0
        self.http = httpx.AsyncClient(base_url=world.url, headers={"Origin": world.url}, timeout=10)
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("disconnect", self._dropped)
        self.tasks: set[asyncio.Task[None]] = set()
        self.closing = False

    async def sign_in(self) -> None:
        body = {"email": self.email, "password": self.world.password}
        for attempt in range(SIGN_IN_ATTEMPTS):
            try:
                # Password hashing is slow by design: a busy server may take a while.
                response = await self.http.post("/api/auth/login", json=body, timeout=60)
            except httpx.HTTPError as exc:
                raise Failed(f"cannot reach {self.world.url}: {exc!r}") from None
            if response.status_code != 503:  # busy or database_unavailable: try again
                break
            await asyncio.sleep(2**attempt)
        if response.status_code != 200:
            raise Failed(f"{self.email} could not sign in ({error_code(response)})")
        self.user_id = int(response.json()["user"]["id"])

    async def connect(self) -> None:
        cookie = f"{COOKIE_NAME}={self.http.cookies[COOKIE_NAME]}"
        try:
            await self.sio.connect(
                self.world.url, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=5
            )
        except socketio.exceptions.ConnectionError as exc:
            raise Failed(f"{self.email}: the socket was refused ({exc})") from None

    def _dropped(self, *_: Any) -> None:
        if not self.closing:
            self.world.tally.error(f"{self.email}: the server closed the socket")

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON answer, or None after counting the failure."""
        try:
            response = await self.http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            self.world.tally.error(f"{self.email} {method} {path}: {exc!r}")
            return None
        if response.status_code >= 400:
            self.world.tally.error(f"{self.email} {method} {path}: {error_code(response)}")
            return None
        return response.json()

    async def emit(self, event: str, data: Any) -> Any:
        """The ack, or None after counting the failure."""
        try:
            ack = await self.sio.call(event, data, timeout=10)
        except (socketio.exceptions.SocketIOError, OSError) as exc:
            self.world.tally.error(f"{self.email} {event}: {exc!r}")
            return None
        if isinstance(ack, dict) and "error" in ack:
            self.world.tally.error(f"{self.email} {event}: {ack['error'].get('code')}")
            return None
        return ack

    async def say(self, conversation_id: int, body: str) -> bool:
        payload = {"conversation_id": conversation_id, "client_id": uuid.uuid4().hex, "body": body}
        if await self.emit("send_message", payload) is None:
            return False
        self.world.tally.messages += 1
        return True

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(self._guarded(work))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an odd answer: counted, the others go on
            self.world.tally.error(f"{self.email}: {exc!r}")

    async def stop_tasks(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def close(self) -> None:
        self.closing = True
        await self.stop_tasks()
        if self.sio.connected:
            await self.sio.disconnect()
        await self.http.aclose()


class Agent(Person):
    """Opens requests when told to and answers a leader's first message in each."""

    def __init__(self, world: World, email: str) -> None:
        super().__init__(world, email)
        self.answered: set[int] = set()
        self.sio.on("new_message", self._on_message)

    async def open_request(self) -> None:
        rng = self.world.rng
        body = {
            "message": rng.choice(REQUESTS),
            "topic_id": rng.choice(self.world.topic_ids) if rng.random() < 0.7 else None,
            "client_id": uuid.uuid4().hex,
        }
        if await self.request("POST", "/api/conversations", body) is not None:
            self.world.tally.created += 1

    def _on_message(self, data: Any) -> None:
        message, conversation_id = data["message"], data["conversation_id"]
        if message["kind"] != "user" or message["sender_id"] == self.user_id:
            return
        if conversation_id not in self.answered:
            self.answered.add(conversation_id)
            self.spawn(self._reply(conversation_id))

    async def _reply(self, conversation_id: int) -> None:
        await asyncio.sleep(self.world.pause(0.5))
        await self.say(conversation_id, self.world.rng.choice(AGENT_REPLIES))


class Leader(Person):
    """Goes online, answers what it is assigned, submits it as solved or pending, and now and
    then steps away or goes offline for a while."""

    def __init__(self, world: World, email: str) -> None:
        super().__init__(world, email)
        self.handling: dict[int, asyncio.Task[None]] = {}
        # Submitting: its own remove_from_basket must not cancel it, nor may going offline.
        self.submitting: set[int] = set()
        self.seen: set[tuple[int, str]] = set()  # delivery is at least once
        self.sio.on("assign_conversation", self._on_assign)
        self.sio.on("sync_basket", self._on_sync)
        self.sio.on("remove_from_basket", self._on_remove)

    async def set_status(self, status: str) -> bool:
        if await self.emit("set_status", {"status": status}) is None:
            return False
        self.world.tally.status_changes += 1
        return True

    def _on_assign(self, data: Any) -> None:
        conversation = data["conversation"]
        if (conversation["id"], conversation["assigned_at"]) in self.seen:
            return
        self.seen.add((conversation["id"], conversation["assigned_at"]))
        self.world.tally.assigned += 1
        self._take(conversation)

    def _on_sync(self, data: Any) -> None:
        for conversation in data["conversations"]:  # held from before: finished all the same
            self._take(conversation)

    def _on_remove(self, data: Any) -> None:
        if data["conversation_id"] in self.submitting:
            return
        task = self.handling.pop(data["conversation_id"], None)
        if task is not None:
            task.cancel()

    def _take(self, conversation: dict[str, Any]) -> None:
        if conversation["id"] not in self.handling and not self.closing:
            self.handling[conversation["id"]] = self.spawn(self._handle(conversation))

    async def _handle(self, conversation: dict[str, Any]) -> None:
        conversation_id = conversation["id"]
        try:
            await asyncio.sleep(self.world.pause())
            if not await self.say(conversation_id, self.world.rng.choice(LEADER_REPLIES)):
                return
            await asyncio.sleep(self.world.pause(1.5))
            body = {
                "status": "solved" if self.world.rng.random() < 0.8 else "pending",
                "topic_id": conversation["topic_id"] or self.world.rng.choice(self.world.topic_ids),
            }
            path = f"/api/conversations/{conversation_id}/submit"
            self.submitting.add(conversation_id)
            if await self.request("POST", path, body) is not None:
                self.world.tally.submitted += 1
        finally:
            self.submitting.discard(conversation_id)
            if self.handling.get(conversation_id) is asyncio.current_task():
                del self.handling[conversation_id]

    async def wander(self) -> None:
        """Away for a while (keeps the basket) or offline (the basket goes back to the
        queue), then online again."""
        rng = self.world.rng
        while True:
            await asyncio.sleep(rng.expovariate(1 / (self.world.think * 15)))
            if rng.random() < 0.7:
                await self.set_status("away")
            else:
                await self.drop_work()
                await self.set_status("offline")
            await asyncio.sleep(self.world.pause(3))
            await self.set_status("online")

    async def drop_work(self) -> None:
        """Stops answering what it holds, before going offline hands it back."""
        held = list(self.handling.items())
        self.handling.clear()
        for conversation_id, task in held:
            if conversation_id not in self.submitting:
                task.cancel()
        await asyncio.gather(*(task for _, task in held), return_exceptions=True)
