"""One scenario's run: the stack up, people on it, traffic, the scenario's faults, then the
drain and the audit. Figures are kept with the findings (and appended, as JSON lines, to
TEAMTALK_CHAOS_RESULTS when set)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.chaos import audit
from tests.chaos.people import CREATE_IDS, NOT_SENT, Agents, Leaders, Ledger, Servers
from tests.chaos.scale import Scale
from tests.chaos.stack import CAPACITY, People, Stack

CONVERGE_PROMISE = 5.0  # seconds for every basket to match the database after recovery
CLAIM_PROMISE = 5.0  # seconds a dead worker's claim may wait while another worker lives


NOT_SENT_NAMES = frozenset(e.__name__ for e in NOT_SENT)
# uvicorn raises the signal again once its graceful shutdown is done.
GRACEFUL_EXITS = (0, -15)


class Run:
    def __init__(
        self, name: str, stack: Stack, scale: Scale, people: People, servers: Servers
    ) -> None:
        self.name, self.stack, self.scale = name, stack, scale
        self.ledger = Ledger()
        self.leaders = Leaders(people, servers, self.ledger)
        self.agents = Agents(people, servers, self.ledger, scale.rate)
        self.stop_agents = asyncio.Event()
        self.agents_task: asyncio.Task[None] | None = None
        self.last_differences: list[str] = []
        self.summary = ""  # the report, once the run is over
        self.engine = audit.engine_for(stack.database_url)
        self.claims: ClaimWatch | None = None
        self.findings = audit.Findings()
        self.figures: dict[str, Any] = {"scenario": name, "scale": scale.name}
        self.figures["client_ids_on_create"] = CREATE_IDS
        self.started = time.monotonic()
        self.faults: list[str] = []

    def watch_claims(self) -> None:
        """From now on, every claim's delay to its commit is measured and checked."""
        self.claims = ClaimWatch(self.stack.redis_url, self.stack.keys.inflight)
        self.claims.start()

    # ── during the run ────────────────────────────────────────────────────────────────

    def note(self, fault: str) -> None:
        self.faults.append(f"{time.monotonic() - self.started:6.1f}s {fault}")

    async def traffic(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def promise(self, text: str, ok: bool) -> None:
        if not ok:
            self.findings.problems.append(text)

    def begin_traffic(self) -> None:
        self.agents_task = asyncio.create_task(self.agents.run(self.stop_agents))

    async def converged(self, since: float, bound: float) -> float | None:
        """Seconds from `since` (time.monotonic()) until the system has recovered: every
        leader's client shows the basket the database holds, and a conversation has been
        assigned since (routing goes on, or nothing is left to assign). Checked every
        0.1 s for at most `bound` s; None if it did not recover in that time."""
        wall = datetime.fromtimestamp(time.time() - (time.monotonic() - since), UTC)
        deadline = since + bound
        while True:
            try:
                before = self.leaders.baskets()
                held = await audit.baskets_now(self.engine)
                after = self.leaders.baskets()
                moving = await audit.assigned_since(self.engine, wall)
                idle = not moving and not await audit.busy(self.engine)
                self.last_differences = audit.basket_differences(after, held)
                if before == after and not self.last_differences and (moving or idle):
                    return round(time.monotonic() - since, 2)
            except Exception as exc:  # the database may still be away
                self.last_differences = [f"database: {type(exc).__name__}"]
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.1)

    async def expect_convergence(self, what: str, since: float) -> float | None:
        took = await self.converged(since, self.scale.converge)
        self.figures[f"converged_after_{what}_s"] = took
        self.promise(
            f"baskets matched the database {took} s after {what} (promise: "
            f"{CONVERGE_PROMISE:g} s); still differing: {self.last_differences}",
            took is not None and took <= CONVERGE_PROMISE,
        )
        return took

    # ── the end ───────────────────────────────────────────────────────────────────────

    async def drain(self) -> None:
        """Agents stop; leaders keep submitting until nothing is queued or assigned."""
        self.agents.give_up_at = time.time() + self.scale.drain
        self.stop_agents.set()
        if self.agents_task is not None:
            await self.agents_task
        begun = time.monotonic()
        deadline = begun + self.scale.drain
        self.leaders.give_up_at = time.time() + self.scale.drain + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if not await audit.busy(self.engine):
                    break
            await asyncio.sleep(0.25)
        self.figures["drain_s"] = round(time.monotonic() - begun, 2)
        # A basket event may still be on its way: give it the promised time.
        await self.converged(time.monotonic(), CONVERGE_PROMISE)

    async def audit(self) -> audit.Findings:
        f = self.findings
        # A claim may be settled a moment after the drain: the promised time for it.
        for _ in range(int(CLAIM_PROMISE * 4)):
            redis_view = await audit.read_redis(self.stack.redis_url, self.stack.keys)
            if not any(redis_view.values()):
                break
            await asyncio.sleep(0.25)
        # One moment: the database, then the clients.
        state = await audit.read_state(self.engine)
        shown = self.leaders.baskets()
        audit.audit_creates(f, self.ledger, state)
        audit.audit_submits(f, self.ledger, state)
        audit.audit_answers(f, self.ledger)
        audit.audit_assignments(f, state, CAPACITY)
        audit.audit_end(f, state, shown, redis_view)
        if self.claims is not None:
            await self.claims.close()
            audit.audit_claims(f, state, self.claims.claims(), CLAIM_PROMISE)
        f.figures = (
            self.figures | f.figures | audit.delays(state, self.ledger, self.leaders.first_seen)
        )
        f.figures["reconnects"] = sum(ldr.connects - 1 for ldr in self.leaders.leaders)
        f.figures["errors_logged"] = {p.name: p.errors_logged() for p in self.stack.processes}
        f.figures["faults"] = self.faults
        f.figures["wall_s"] = round(time.monotonic() - self.started, 1)
        return f

    def cut_off(self, since: float) -> list[str]:
        """Requests sent after `since` (time.time()) that got no answer although a server
        read them (a connection refused is not one, nor a request on an idle connection the
        stopping server closed unread: counted in the figures, and retried)."""
        late = [a for a in self.ledger.answers() if a.started >= since and a.status is None]
        self.figures["closed_unread"] = sum(a.unread for a in late)
        return [
            f"{a.server} {a.error} after {a.ended - a.started:.2f} s"
            for a in late
            if a.error not in NOT_SENT_NAMES and not a.unread
        ]

    def report(self) -> str:
        figures = "\n".join(
            f"  {name}: {json.dumps(value, default=str)}"
            for name, value in self.findings.figures.items()
        )
        if not self.findings.problems:
            return f"{self.name}: all promises kept\n{figures}"
        broken = "\n".join(f"  - {p}" for p in self.findings.problems)
        return (
            f"{self.name}: {len(self.findings.problems)} promises broken\n{broken}\n"
            f"figures:\n{figures}\nlogs:\n{self.stack.logs()}"
        )


@asynccontextmanager
async def running(name: str, stack: Stack, scale: Scale) -> AsyncIterator[Run]:
    """The stack started with people on it and traffic flowing; at the end of the block,
    the drain and the audit. The test asserts `run.findings.problems` is empty."""
    try:
        people = await stack.prepare(scale.leaders, scale.agents)
    except BaseException:
        stack.remove()
        raise
    servers = Servers(stack.urls)
    run = Run(name, stack, scale, people, servers)
    try:
        stack.start_all()
        await stack.all_ready()
        await run.leaders.start()
        run.figures["startup_s"] = round(time.monotonic() - run.started, 1)
        run.begin_traffic()
        await run.traffic(scale.warmup)
        yield run
        await run.drain()
        await run.audit()
        save(run.findings)
    finally:
        run.stop_agents.set()
        run.agents.give_up_at = 0
        if run.agents_task is not None:
            await asyncio.gather(run.agents_task, return_exceptions=True)
        await run.leaders.close()
        await servers.close()
        await stack.stop_all()
        if run.claims is not None:
            await run.claims.close()
        await run.engine.dispose()
        run.summary = run.report()  # with what the processes logged
        if not run.findings.problems:
            print(run.summary)  # shown by pytest -rP; a failure shows it anyway
        stack.remove()


def promises_kept(run: Run) -> None:
    """The scenario's verdict: fails with every broken promise, the figures and the logs."""
    if run.findings.problems:
        pytest.fail(run.summary, pytrace=False)


def save(findings: audit.Findings) -> None:
    path = os.environ.get("TEAMTALK_CHAOS_RESULTS")
    if path:
        entry = findings.figures | {"problems": findings.problems}
        with open(path, "a") as out:
            out.write(json.dumps(entry, default=str) + "\n")


class ClaimWatch:
    """Polls the in-flight records (the workers' claims) every 50 ms: when each was first
    seen, and the record's own start time (ms) when it carries one."""

    def __init__(self, redis_url: str, key: str) -> None:
        self.redis = Redis.from_url(redis_url, decode_responses=True, socket_timeout=2)
        self.key = key
        self.seen: dict[tuple[int, str], float] = {}  # (conversation, record) -> epoch s
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                now = time.time()
                for conversation, record in (await self.redis.hgetall(self.key)).items():
                    self.seen.setdefault((int(conversation), str(record)), now)
            await asyncio.sleep(0.05)

    async def in_flight(self) -> int:
        try:
            return int(await self.redis.hlen(self.key))
        except Exception:
            return 0

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
            await self.redis.aclose()

    def claims(self) -> list[tuple[int, float]]:
        """(conversation, claimed at, epoch s), from the record's start time if it has one."""
        out = []
        for (conversation, record), first_seen in self.seen.items():
            claimed = first_seen
            for part in record.split(":")[1:]:
                if part.isdigit() and len(part) >= 12:  # a time in ms
                    claimed = min(first_seen, int(part) / 1000)
                    break
            out.append((conversation, claimed))
        return out
