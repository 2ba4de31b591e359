"""Routing benchmark: our design beside the seed's, on one Valkey/Redis.

    .venv/bin/python bench/routing.py [--quick] [--part a|b|all] [--out PATH]
        [--redis-url URL] [--database-url URL] [--rate N] [--repeats N]

Part (a), script level: assignments per second from Python and the server-side cost per
assignment, for 10 to 10,000 online leaders, our assignment script beside the seed's.

Part (b), end to end: a request created over HTTP until the leader's Socket.IO client
receives it, through a real web server, worker and database, at a steady request rate;
our worker beside a baseline worker that polls as the seed's did.

The method and the meaning of every number are in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from harness import (
    STATS,
    Process,
    Valkey,
    delete_prefix,
    free_port,
    gather_limited,
    open_valkey,
    percentiles,
    run_async,
    wait_ready,
    write_results,
)
from machine import CpuMeter, load_average, machine_info
from redis.asyncio import Redis
from stack import (
    CAPACITY,
    CONNECT_CONCURRENCY,
    Account,
    Leaders,
    Stack,
    cookie,
    database_version,
    wait_heartbeat,
)

from teamtalk.logs import setup_logging
from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.routing.engine import Assignment, Outcome, Router
from teamtalk.routing.keys import Keys
from teamtalk.settings import Settings
from teamtalk.worker import Worker

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / "results" / "routing.json"
# The baseline of part (a): the seed's assignment script, modelled (see its header).
SEED_ASSIGN = BENCH_DIR / "seed_assign.lua"
BATCHES = (1, 5, 50)
FEED_CHUNK = 5_000  # conversations added to the queue at a time, outside the measurement
CONCURRENCY = 50  # script calls in flight at once during setup and restore (pool holds 100)

# Targets from DESIGN.md "Targets".
TARGET_PER_SECOND = 25_000  # batched (the largest batch)
TARGET_USEC = 10.0  # server-side cost per assignment
TARGET_FLATNESS = 1.25  # cost at the most leaders / cost at the fewest


@dataclass(frozen=True)
class Profile:
    leader_counts: tuple[int, ...]
    repeats: int
    max_assignments: int  # per run
    measure_seconds: float  # a run stops once its measured calls add up to this
    min_calls: int  # ... but only after at least this many calls


FULL = Profile(
    (10, 100, 1_000, 10_000), repeats=5, max_assignments=20_000, measure_seconds=0.15, min_calls=3
)
QUICK = Profile((10, 1_000), repeats=1, max_assignments=5_000, measure_seconds=0.15, min_calls=3)


class Design(Protocol):
    """One routing design under test, with its own keys on the shared server."""

    name: str

    async def add_leaders(self, count: int) -> None: ...

    async def feed(self, conversation_ids: Sequence[int]) -> None: ...

    async def assign(self, limit: int) -> list[Assignment]: ...

    async def restore(self, made: Sequence[Assignment]) -> None:
        """Undo the baskets an assign call filled (not measured)."""
        ...

    async def check_idle(self, leaders: int) -> None:
        """Raise unless every leader has all slots free and nothing is in flight."""
        ...


class Ours:
    name = "ours"

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.router = Router(redis, self.keys)

    async def add_leaders(self, count: int) -> None:
        for start in range(1, count + 1, CONCURRENCY):
            stop = min(start + CONCURRENCY, count + 1)
            await asyncio.gather(
                *(self.router.leader_set(lid, "online", CAPACITY) for lid in range(start, stop))
            )

    async def feed(self, conversation_ids: Sequence[int]) -> None:
        await self.router.enqueue(conversation_ids)

    async def assign(self, limit: int) -> list[Assignment]:
        return await self.router.assign(limit)

    async def restore(self, made: Sequence[Assignment]) -> None:
        async def one(a: Assignment) -> None:
            # What the worker does after a commit, then the leader solving the conversation.
            if await self.router.settle(a, Outcome.COMMITTED) != 1:
                raise RuntimeError(f"settle found nothing for {a}")
            await self.router.release(a.leader_id, a.conversation_id)

        for i in range(0, len(made), CONCURRENCY):
            await asyncio.gather(*(one(a) for a in made[i : i + CONCURRENCY]))

    async def check_idle(self, leaders: int) -> None:
        k = self.keys
        available = await self.redis.zcard(k.available)
        inflight = await self.redis.hlen(k.inflight)
        frees = set((await self.redis.hgetall(k.online_teamleaders)).values())
        if available != leaders or inflight or frees != {str(CAPACITY)}:
            raise RuntimeError(f"ours not idle: {available=} {inflight=} {frees=}")


class Seed:
    name = "seed"

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.queue = f"{prefix}seed:conversations:queue"
        self.leaders = f"{prefix}seed:users:online_teamleaders"
        self.basket_prefix = f"{prefix}seed:tl:"
        self.script = redis.register_script(SEED_ASSIGN.read_text())

    async def add_leaders(self, count: int) -> None:
        await self.redis.hset(self.leaders, mapping={str(i): CAPACITY for i in range(1, count + 1)})

    async def feed(self, conversation_ids: Sequence[int]) -> None:
        await self.redis.lpush(self.queue, *conversation_ids)

    async def assign(self, limit: int) -> list[Assignment]:
        flat = await self.script(keys=[self.queue, self.leaders, self.basket_prefix], args=[limit])
        return [Assignment(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def restore(self, made: Sequence[Assignment]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for a in made:
                pipe.srem(f"{self.basket_prefix}{a.leader_id}:basket", str(a.conversation_id))
                pipe.hincrby(self.leaders, str(a.leader_id), 1)
            await pipe.execute()

    async def check_idle(self, leaders: int) -> None:
        free = await self.redis.hgetall(self.leaders)
        if len(free) != leaders or set(free.values()) != {str(CAPACITY)}:
            raise RuntimeError(f"seed not idle: {len(free)} leaders, {set(free.values())}")


@dataclass
class Run:
    design: str
    leaders: int
    batch: int
    repeat: int
    calls: int
    assignments: int
    seconds: float  # sum of the measured assign calls, as seen from Python
    server_usec: int  # EVALSHA time inside the server over the same calls

    @property
    def per_second(self) -> float:
        return self.assignments / self.seconds

    @property
    def usec_per_assignment(self) -> float:
        return self.server_usec / self.assignments


class ServerClock:
    """Server-side time spent in EVALSHA, from INFO commandstats.

    On a server we own, stats are reset before each measured call; on someone else's they
    are read before and after and diffed (then other clients' scripts count too).
    """

    def __init__(self, redis: Redis, owned: bool) -> None:
        self.redis = redis
        self.owned = owned
        self._start = (0, 0)

    async def _read(self) -> tuple[int, int]:
        stats: dict[str, Any] = await self.redis.info("commandstats")
        entry = stats.get("cmdstat_evalsha", {})
        return int(entry.get("calls", 0)), int(entry.get("usec", 0))

    async def start(self) -> None:
        if self.owned:
            await self.redis.config_resetstat()
            self._start = (0, 0)
        else:
            self._start = await self._read()

    async def stop(self) -> tuple[int, int]:
        """(EVALSHA calls, usec) since start()."""
        calls, usec = await self._read()
        return calls - self._start[0], usec - self._start[1]


class Feeder:
    """Keeps at least one batch queued, with fresh conversation ids, outside the timing."""

    def __init__(self, design: Design) -> None:
        self.design = design
        self.next_id = 1
        self.queued = 0

    async def ensure(self, batch: int) -> None:
        if self.queued >= batch:
            return
        ids = range(self.next_id, self.next_id + FEED_CHUNK)
        await self.design.feed(ids)
        self.next_id += FEED_CHUNK
        self.queued += FEED_CHUNK


async def measure(
    design: Design,
    feeder: Feeder,
    clock: ServerClock,
    leaders: int,
    batch: int,
    repeat: int,
    profile: Profile,
) -> Run:
    """Assign calls of `batch`, each from the same state: every leader fully free."""
    # Warm-up, not measured: loads the script and the connection.
    await feeder.ensure(batch)
    made = await design.assign(batch)
    feeder.queued -= len(made)
    await design.restore(made)

    run = Run(design.name, leaders, batch, repeat, 0, 0, 0.0, 0)
    while run.calls < profile.min_calls or (
        run.seconds < profile.measure_seconds and run.assignments < profile.max_assignments
    ):
        await feeder.ensure(batch)
        await clock.start()
        t0 = time.perf_counter()
        made = await design.assign(batch)
        elapsed = time.perf_counter() - t0
        calls, usec = await clock.stop()
        if clock.owned and calls != 1:
            raise RuntimeError(f"expected 1 EVALSHA in the measured call, the server saw {calls}")
        if not made:
            raise RuntimeError(f"{design.name}: nothing assigned with {leaders} leaders")
        feeder.queued -= len(made)
        run.calls += 1
        run.assignments += len(made)
        run.seconds += elapsed
        run.server_usec += usec
        await design.restore(made)
    await design.check_idle(leaders)
    return run


def median(runs: Sequence[Run], value: Callable[[Run], float]) -> float:
    return statistics.median(value(r) for r in runs)


def summarize(runs: Sequence[Run], profile: Profile) -> dict[str, Any]:
    def cell(design: str, leaders: int, batch: int) -> dict[str, float]:
        chosen = [r for r in runs if (r.design, r.leaders, r.batch) == (design, leaders, batch)]
        return {
            "per_second": median(chosen, lambda r: r.per_second),
            "usec_per_assignment": median(chosen, lambda r: r.usec_per_assignment),
            "usec_min": min(r.usec_per_assignment for r in chosen),
            "usec_max": max(r.usec_per_assignment for r in chosen),
            # Wall time per assignment outside the server: client, protocol, scheduling.
            "client_usec_per_assignment": median(
                chosen, lambda r: 1e6 / r.per_second - r.usec_per_assignment
            ),
            "assignments_per_call": median(chosen, lambda r: r.assignments / r.calls),
            "assignments_per_run": median(chosen, lambda r: r.assignments),
        }

    rows: list[dict[str, Any]] = []
    for leaders in profile.leader_counts:
        for batch in BATCHES:
            ours, seed = cell("ours", leaders, batch), cell("seed", leaders, batch)
            rows.append(
                {
                    "leaders": leaders,
                    "batch": batch,
                    "ours": ours,
                    "seed": seed,
                    # > 1 means ours is better in both.
                    "throughput_ratio": ours["per_second"] / seed["per_second"],
                    "cost_ratio": seed["usec_per_assignment"] / ours["usec_per_assignment"],
                }
            )

    fewest, most = min(profile.leader_counts), max(profile.leader_counts)
    flatness: dict[str, dict[str, float]] = {}
    for batch in BATCHES:
        lo = next(r for r in rows if (r["leaders"], r["batch"]) == (fewest, batch))
        hi = next(r for r in rows if (r["leaders"], r["batch"]) == (most, batch))
        flatness[str(batch)] = {
            design: hi[design]["usec_per_assignment"] / lo[design]["usec_per_assignment"]
            for design in ("ours", "seed")
        }

    top = max(BATCHES)
    batched = [r for r in rows if r["batch"] == top]

    def target(label: str, goal: float, worst: float, higher_is_better: bool) -> dict[str, Any]:
        met = worst >= goal if higher_is_better else worst <= goal
        return {"label": label, "goal": goal, "worst": worst, "met": met}

    targets = {
        "per_second_batched": target(
            f"assignments/s, batch {top} (>= {TARGET_PER_SECOND:,})",
            TARGET_PER_SECOND,
            min(r["ours"]["per_second"] for r in batched),
            higher_is_better=True,
        ),
        "usec_batched": target(
            f"server µs per assignment, batch {top} (<= {TARGET_USEC:g})",
            TARGET_USEC,
            max(r["ours"]["usec_per_assignment"] for r in batched),
            higher_is_better=False,
        ),
        "usec_any_batch": target(
            f"server µs per assignment, any batch (<= {TARGET_USEC:g})",
            TARGET_USEC,
            max(r["ours"]["usec_per_assignment"] for r in rows),
            higher_is_better=False,
        ),
        "flatness": target(
            f"cost at {most:,} / at {fewest:,} leaders, any batch (<= {TARGET_FLATNESS:g}x)",
            TARGET_FLATNESS,
            max(f["ours"] for f in flatness.values()),
            higher_is_better=False,
        ),
    }
    return {"rows": rows, "flatness": flatness, "targets": targets}


async def script_level(redis: Redis, prefix: str, owned: bool, profile: Profile) -> dict[str, Any]:
    """Part (a): the assignment script alone, ours and the seed's, for each leader count."""
    clock = ServerClock(redis, owned)
    designs: dict[int, list[Design]] = {}
    feeders: dict[tuple[int, str], Feeder] = {}
    for leaders in profile.leader_counts:
        # Every leader count has its own keys, all set up before measuring.
        designs[leaders] = [
            Ours(redis, f"{prefix}a{leaders}:"),
            Seed(redis, f"{prefix}a{leaders}:"),
        ]
        for d in designs[leaders]:
            await d.add_leaders(leaders)
            await d.check_idle(leaders)
            feeders[leaders, d.name] = Feeder(d)
    # Repeats outermost, then leader counts, batches and designs: load that comes and goes on
    # a shared machine then lands on every configuration alike instead of on one of them.
    runs: list[Run] = []
    for repeat in range(profile.repeats):
        for leaders in profile.leader_counts:
            for batch in BATCHES:
                for d in designs[leaders]:
                    feeder = feeders[leaders, d.name]
                    run = await measure(d, feeder, clock, leaders, batch, repeat, profile)
                    runs.append(run)
                    print(
                        f"  run {repeat + 1}/{profile.repeats} {d.name:4} leaders={leaders:<6}"
                        f" batch={batch:<3} {run.per_second:>9,.0f}/s"
                        f" {run.usec_per_assignment:>8.1f} µs ({run.assignments} assignments)",
                        file=sys.stderr,
                    )
    await delete_prefix(redis, prefix)
    return {
        "method": (
            f"Every leader online with capacity {CAPACITY}. Each measured call is "
            "assign(limit=batch) starting from the same state: every leader fully free and at "
            "least a batch queued. After each call, outside the timing, the bench undoes it "
            "(ours: settle COMMITTED then release; seed: SREM and HINCRBY +1). per_second = "
            "assignments / summed wall time of the assign calls from Python (one client, one "
            "call at a time). usec_per_assignment = EVALSHA usec from INFO commandstats over "
            "the assign calls only / assignments. Medians over repeats."
        ),
        "capacity": CAPACITY,
        "batches": list(BATCHES),
        "runs": [
            asdict(r) | {"per_second": r.per_second, "usec": r.usec_per_assignment} for r in runs
        ],
        **summarize(runs, profile),
    }


def print_script_level(section: dict[str, Any], machine: dict[str, Any], repeats: int) -> None:
    print()
    print(
        f"Routing, script level — {machine['server']} {machine['server_version']},"
        f" {machine['cpu']} ({machine['cores']} cores), Python {machine['python']}"
    )
    print(f"median of {repeats} run(s); capacity {CAPACITY}; one client, calls one at a time")
    print()
    head = (
        f"{'leaders':>7} {'batch':>5} │ {'ours /s':>9} {'seed /s':>9} {'x':>7} │"
        f" {'ours µs':>8} {'seed µs':>9} {'x':>7}"
    )
    print(head)
    print("─" * len(head))
    for row in section["rows"]:
        ours, seed = row["ours"], row["seed"]
        capped = "*" if ours["assignments_per_call"] < row["batch"] else " "
        print(
            f"{row['leaders']:>7,} {row['batch']:>4}{capped} │"
            f" {ours['per_second']:>9,.0f} {seed['per_second']:>9,.0f}"
            f" {row['throughput_ratio']:>6.1f}x │"
            f" {ours['usec_per_assignment']:>8.2f} {seed['usec_per_assignment']:>9.1f}"
            f" {row['cost_ratio']:>6.1f}x"
        )
    if any(r["ours"]["assignments_per_call"] < r["batch"] for r in section["rows"]):
        print(f"* fewer free slots than the batch ({CAPACITY} x leaders): each call is capped")
    print()
    for batch, flat in section["flatness"].items():
        print(
            f"cost at most / fewest leaders, batch {batch:>2}:"
            f" ours {flat['ours']:.2f}x, seed {flat['seed']:.1f}x"
        )
    print()
    print("targets (ours; worst over leader counts):")
    for t in section["targets"].values():
        mark = "met" if t["met"] else "MISSED"
        print(f"  {t['label']:<58} worst {t['worst']:>9,.2f}  {mark}")


# ── Part (b): end to end ──────────────────────────────────────────────────────────────────
#
# A request created over HTTP until the leader's Socket.IO client receives
# `assign_conversation`, through a real web server (its own process), a real worker (its own
# process) and a real database, at a steady open-loop rate. Our worker and the baseline
# worker run one after the other on fresh state with the same schedule.

WORKERS = ("ours", "baseline")
TARGET_P50_MS = 3.0
TARGET_P99_MS = 15.0
TARGET_LEADERS = 500  # the targets are stated for 500 leaders online at 100 requests/s
TARGET_RATE = 100.0
DRAIN_TIMEOUT = 180.0  # after the last request, for every assignment to arrive
SATURATED = 0.95  # assigned/s below this share of the request rate: the stack fell behind
HTTP_CONNECTIONS = 500  # the agents' keep-alive connections, at most

# The BASELINE worker, modelled on the seed's as /work/shared/seed/ARCHITECTURE.md describes
# it: "Adaptive Polling: speeds up when busy (100ms), slows down when idle (30s)" and "Batch
# processing (up to 5 assignments per cycle)", with no wake signal. Not part of Team Talk.
# It calls our Worker.step(), so the assignment script, the commit and the emit are ours:
# only the loop around them is the seed's.
SEED_BATCH = 5
SEED_BUSY_INTERVAL = 0.1
SEED_IDLE_INTERVAL = 30.0


@dataclass(frozen=True)
class EndToEndProfile:
    leaders: int
    agents: int
    rate: float  # requests per second, open loop
    warmup_seconds: float
    measure_seconds: float
    repeats: int

    @property
    def warmup_requests(self) -> int:
        return round(self.rate * self.warmup_seconds)

    @property
    def total_requests(self) -> int:
        return self.warmup_requests + round(self.rate * self.measure_seconds)


# Every request of a run fits in the leaders' free slots (500 x 4 = 2,000 > 1,700), so no
# leader fills up and nobody has to solve anything during the run.
E2E_FULL = EndToEndProfile(500, 100, 100.0, 2.0, 15.0, repeats=3)
E2E_QUICK = EndToEndProfile(100, 20, 100.0, 0.5, 3.3, repeats=1)


async def baseline_worker() -> None:
    """The BASELINE worker loop (see SEED_*), run as its own process like `teamtalk worker`:
    one batch of at most 5 per cycle, then sleep 100 ms after work, doubling up to 30 s
    while cycles find nothing. Same environment, settings and housekeeping as ours."""
    settings = Settings().model_copy(update={"worker_batch": SEED_BATCH})
    setup_logging(settings)
    if settings.redis_url is None:
        raise SystemExit("the baseline worker needs REDIS_URL and DATABASE_URL")
    res = Resources.open(settings)
    realtime = Realtime.write_only(settings.redis_url, res.redis, res.keys)
    worker = Worker(res, realtime)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await worker.start()
        interval = SEED_BUSY_INTERVAL
        while not stop.is_set():
            try:
                await worker.housekeeping()
                made = await worker.step()
            except Exception:
                logging.getLogger("bench.baseline").exception("baseline cycle failed")
                made = 0
            interval = SEED_BUSY_INTERVAL if made else min(interval * 2, SEED_IDLE_INTERVAL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        await res.redis.delete(res.keys.worker_stats(worker.stats.worker_id))
        await realtime.close()
        await res.close()


def worker_command(kind: str) -> list[str]:
    if kind == "ours":
        return [sys.executable, "-m", "teamtalk", "worker"]
    return [sys.executable, str(Path(__file__).resolve()), "--baseline-worker"]


@dataclass
class Request:
    index: int
    scheduled: float  # time.perf_counter() it was due
    sent: float = 0.0  # just before the POST
    answered: float = 0.0  # its response read
    conversation_id: int | None = None
    error: str | None = None


async def send_requests(
    http: aiohttp.ClientSession,
    agents: Sequence[Account],
    profile: EndToEndProfile,
    cpu: CpuMeter,
) -> list[Request]:
    """Open loop: request i is sent at start + i / rate whether or not earlier ones have been
    answered; agents take turns. CPU is metered over the measured requests' sending."""
    requests = [Request(i, 0.0) for i in range(profile.total_requests)]

    async def send(request: Request) -> None:
        agent = agents[request.index % len(agents)]
        request.sent = time.perf_counter()
        try:
            async with http.post(
                "/api/conversations",
                json={"message": f"bench request {request.index}"},
                headers={"Cookie": cookie(agent)},
            ) as response:
                body = await response.read()
            request.answered = time.perf_counter()
            if response.status == 201:
                request.conversation_id = int(json.loads(body)["conversation"]["id"])
            else:
                request.error = f"HTTP {response.status}: {body[:200]!r}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            request.answered = time.perf_counter()
            request.error = repr(exc)

    tasks = []
    start = time.perf_counter() + 0.01
    for request in requests:
        request.scheduled = start + request.index / profile.rate
        delay = request.scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if request.index == profile.warmup_requests:
            cpu.mark()
        tasks.append(asyncio.create_task(send(request)))
    cpu.mark()
    await asyncio.gather(*tasks)
    return requests


async def wait_delivered(leaders: Leaders, requests: Sequence[Request], worker: Process) -> None:
    expected = {r.conversation_id for r in requests if r.conversation_id is not None}
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while not expected <= leaders.arrived.keys() and time.monotonic() < deadline:
        worker.check()
        await asyncio.sleep(0.01)


async def end_to_end_run(
    valkey: Valkey, database_url: str, kind: str, repeat: int, profile: EndToEndProfile
) -> dict[str, Any]:
    """One worker on fresh state: a new database, a new key prefix, a new server."""
    started = time.perf_counter()
    load = load_average()
    stack = Stack(valkey.url, valkey.workdir, kind, database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = stack.env(port)

    leader_accounts, agent_accounts = await stack.prepare(profile.leaders, profile.agents)
    database = await database_version(stack.database_url)
    server = stack.start("server", ["serve", "--no-worker", "--no-demo", "--port", str(port)], env)
    worker: Process | None = None
    leaders = Leaders(url)
    # Keep-alive connections, as many as the agents' browsers would open; the Origin header
    # is what a browser on the site sends. (aiohttp: httpx cost the bench 4x the CPU.)
    http = aiohttp.ClientSession(
        url,
        headers={"Origin": url},
        connector=aiohttp.TCPConnector(limit=HTTP_CONNECTIONS),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=60),
    )
    try:
        await wait_ready(http, server)
        await gather_limited((leaders.connect(a) for a in leader_accounts), CONNECT_CONCURRENCY)
        # Started last, so the baseline's poll interval starts at 100 ms with the load.
        worker = Process("worker", worker_command(kind), env, stack.run_dir)
        await wait_heartbeat(valkey.redis, stack.keys, worker)
        setup_seconds = time.perf_counter() - started
        cpu = CpuMeter(
            {
                "server": server.pid,
                "worker": worker.pid,
                "valkey": valkey.pid,
                "bench": os.getpid(),
            }
        )
        requests = await send_requests(http, agent_accounts, profile, cpu)
        await wait_delivered(leaders, requests, worker)
        logs = {"server": server.logged(), "worker": worker.logged()}
    finally:
        if worker is not None:
            await worker.stop()
        await leaders.close()
        await http.close()
        await server.stop()
        await stack.remove(valkey.redis)

    measured = requests[profile.warmup_requests :]
    created = [r for r in measured if r.conversation_id is not None]
    arrived = [r for r in created if r.conversation_id in leaders.arrived]
    e2e = [(leaders.arrived[r.conversation_id] - r.sent) * 1000 for r in arrived]  # type: ignore[index]
    last = max((leaders.arrived[r.conversation_id] for r in arrived), default=math.nan)  # type: ignore[index]
    last_answer = max((r.answered for r in created), default=math.nan)
    return {
        "worker": kind,
        "repeat": repeat,
        "database": database,
        "requests": len(measured),
        "created": len(created),
        "delivered": len(arrived),
        "missing": len(created) - len(arrived),
        "errors": sum(1 for r in requests if r.error),
        "first_error": next((r.error for r in requests if r.error), None),
        "duplicates": leaders.duplicates,
        "misrouted": leaders.misrouted,
        "e2e_ms": percentiles(e2e),
        "create_ms": percentiles([(r.answered - r.sent) * 1000 for r in created]),
        "send_lag_ms": percentiles([(r.sent - r.scheduled) * 1000 for r in measured]),
        # How fast the server answered and assignments reached leaders: measured requests /
        # first measured send to the last answer, or to the last arrival. Below the request
        # rate means the server, or the server and worker together, fell behind: latency is
        # then mostly queueing and grows with the length of the run.
        "created_per_second": len(created) / (last_answer - measured[0].sent) if created else 0.0,
        "delivered_per_second": len(arrived) / (last - measured[0].sent) if arrived else 0.0,
        "cpu_percent": cpu.percent(),
        "load_average": load,  # 1-minute, as the run started
        "logs": logs,
        "setup_seconds": setup_seconds,
        "seconds": time.perf_counter() - started,
    }


def summarize_end_to_end(
    runs: Sequence[dict[str, Any]], profile: EndToEndProfile
) -> dict[str, Any]:
    workers: dict[str, dict[str, Any]] = {}
    for kind in WORKERS:
        chosen = [r for r in runs if r["worker"] == kind]

        def med(metric: str, chosen: list[dict[str, Any]] = chosen) -> dict[str, float]:
            return {s: statistics.median(r[metric][s] for r in chosen) for s in STATS}

        workers[kind] = {
            "e2e_ms": med("e2e_ms"),
            "create_ms": med("create_ms"),
            "e2e_ms_min": {s: min(r["e2e_ms"][s] for r in chosen) for s in STATS},
            "e2e_ms_max": {s: max(r["e2e_ms"][s] for r in chosen) for s in STATS},
            "created_per_second": statistics.median(r["created_per_second"] for r in chosen),
            "delivered_per_second": statistics.median(r["delivered_per_second"] for r in chosen),
            "cpu_percent": {
                name: (
                    statistics.median(v)
                    if (v := [r["cpu_percent"][name] for r in chosen if r["cpu_percent"][name]])
                    else None
                )
                for name in chosen[0]["cpu_percent"]
            },
            "missing": sum(r["missing"] for r in chosen),
            "errors": sum(r["errors"] for r in chosen),
            "duplicates": sum(r["duplicates"] for r in chosen),
            "misrouted": sum(r["misrouted"] for r in chosen),
            "log_errors": sum(log["errors"] for r in chosen for log in r["logs"].values()),
            "log_warnings": sum(log["warnings"] for r in chosen for log in r["logs"].values()),
        }
    ours, baseline = workers["ours"], workers["baseline"]
    applies = profile.leaders >= TARGET_LEADERS and profile.rate >= TARGET_RATE
    targets = {
        stat: {
            "label": f"end to end {stat} (<= {goal:g} ms)",
            "goal": goal,
            "median": ours["e2e_ms"][stat],
            "worst": ours["e2e_ms_max"][stat],
            "met": ours["e2e_ms"][stat] <= goal,
            # Only a run with at least 500 leaders at 100 requests/s says anything about them.
            "applies": applies,
        }
        for stat, goal in (("p50", TARGET_P50_MS), ("p99", TARGET_P99_MS))
    }
    return {
        "workers": workers,
        # < 1 means ours is faster.
        "ours_over_baseline": {s: ours["e2e_ms"][s] / baseline["e2e_ms"][s] for s in STATS},
        "targets": targets,
    }


async def end_to_end(valkey: Valkey, database_url: str, profile: EndToEndProfile) -> dict[str, Any]:
    """Part (b): ours and the baseline, alternating, `repeats` times."""
    runs: list[dict[str, Any]] = []
    for repeat in range(profile.repeats):
        for kind in WORKERS:
            run = await end_to_end_run(valkey, database_url, kind, repeat, profile)
            runs.append(run)
            e2e = run["e2e_ms"]
            print(
                f"  run {repeat + 1}/{profile.repeats} {kind:8} p50 {e2e['p50']:9,.1f} ms"
                f" p99 {e2e['p99']:9,.1f} ms max {e2e['max']:9,.1f} ms,"
                f" {run['delivered_per_second']:5.1f} assigned/s,"
                f" {run['delivered']}/{run['requests']} delivered, {run['errors']} errors,"
                f" machine cpu {run['cpu_percent']['machine'] or 0:.0f}%"
                f" ({run['setup_seconds']:.0f} s setup, {run['seconds']:.0f} s in all)",
                file=sys.stderr,
            )
            problems = {
                k: run[k] for k in ("missing", "errors", "duplicates", "misrouted") if run[k]
            }
            if problems or run["first_error"]:
                print(f"    {problems}, first error: {run['first_error']}", file=sys.stderr)
            for name, log in run["logs"].items():
                for message, count in log["top"][:3] + log["exceptions"][:2]:
                    print(f"    {name} log: {count} x {message}", file=sys.stderr)
    database = runs[0]["database"]
    return {
        "method": (
            "A web server (teamtalk serve --no-worker) and a worker, each its own process, on "
            "a fresh database and fresh Redis keys per run. The leaders' Socket.IO clients "
            "(websocket) are connected and online in the bench process; agents POST "
            "/api/conversations open loop at a steady rate over keep-alive connections. "
            "e2e_ms = the leader's client receives assign_conversation - just before the "
            "POST, one clock (time.perf_counter) in one process. create_ms = the POST's "
            "response read - just before the POST. The first warmup_seconds of requests are "
            "not measured. Medians over repeats."
        ),
        "profile": asdict(profile) | {"capacity": CAPACITY, "database": database},
        "baseline": {
            "batch": SEED_BATCH,
            "busy_interval": SEED_BUSY_INTERVAL,
            "idle_interval": SEED_IDLE_INTERVAL,
            "wake_signal": False,
        },
        "runs": runs,
        **summarize_end_to_end(runs, profile),
    }


def print_end_to_end(section: dict[str, Any]) -> None:
    p = section["profile"]
    workers = section["workers"]
    print()
    print(
        "Routing, end to end — POST /api/conversations sent → the leader's socket receives"
        " assign_conversation"
    )
    print(
        f"{p['leaders']} leaders online (capacity {p['capacity']}), {p['agents']} agents,"
        f" {p['rate']:g} requests/s open loop, {p['measure_seconds']:g} s measured after"
        f" {p['warmup_seconds']:g} s warm-up, {p['database']}; median of {p['repeats']} run(s)"
    )
    print()
    head = (
        f"{'worker':<14} │ {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'max ms':>9} │"
        f" {'create p50':>10} {'p99':>7} │ {'assigned/s':>10} │ cpu % server worker machine"
    )
    print(head)
    print("─" * len(head))
    for kind in WORKERS:
        w = workers[kind]
        e2e, create, cpu = w["e2e_ms"], w["create_ms"], w["cpu_percent"]
        cpus = " ".join(
            f"{cpu[n]:>6.0f}" if cpu.get(n) is not None else f"{'-':>6}"
            for n in ("server", "worker", "machine")
        )
        print(
            f"{kind:<14} │"
            + "".join(f" {e2e[s]:>9,.1f}" for s in STATS)
            + f" │ {create['p50']:>10,.1f} {create['p99']:>7,.1f} │"
            f" {w['delivered_per_second']:>10.1f} │       {cpus}"
        )
    ratio = section["ours_over_baseline"]
    print(f"{'ours/baseline':<14} │" + "".join(f" {ratio[s]:>9.4f}" for s in STATS) + " │")
    for kind in WORKERS:
        w = workers[kind]
        if w["delivered_per_second"] < SATURATED * p["rate"]:
            print(
                f"! {kind}: behind the load ({w['created_per_second']:.0f} created/s,"
                f" {w['delivered_per_second']:.0f} assigned/s for {p['rate']:g} sent/s):"
                " latency is queueing, it grows with the run's length"
            )
    print()
    for kind in WORKERS:
        lo, hi = workers[kind]["e2e_ms_min"], workers[kind]["e2e_ms_max"]
        print(
            f"{kind:<9} over runs: p50 {lo['p50']:,.1f} to {hi['p50']:,.1f} ms,"
            f" p99 {lo['p99']:,.1f} to {hi['p99']:,.1f} ms"
        )
    print()
    applies = all(t["applies"] for t in section["targets"].values())
    note = "" if applies else f" — not the target setup ({TARGET_LEADERS} leaders, 100/s)"
    print(f"targets (ours; median of runs){note}:")
    for t in section["targets"].values():
        mark = "met" if t["met"] else "MISSED"
        print(f"  {t['label']:<34} median {t['median']:>8.2f}  worst {t['worst']:>8.2f}  {mark}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    profile = QUICK if args.quick else FULL
    e2e_profile = args.e2e_profile
    prefix = f"ttbench-{uuid.uuid4().hex[:12]}:"
    owned = not args.redis_url
    async with open_valkey("ttb-", args.redis_url) as valkey:
        try:
            results: dict[str, Any] = {
                "machine": await machine_info(valkey.redis),
                "external_server": not owned,
                "part": args.part,
            }

            # Part (a): the assignment script alone.
            if args.part in ("a", "all"):
                results["profile"] = asdict(profile) | {"quick": bool(args.quick)}
                results["script_level"] = await script_level(valkey.redis, prefix, owned, profile)
                print_script_level(results["script_level"], results["machine"], profile.repeats)

            # Part (b): end to end, through a web server, a worker and a database.
            if args.part in ("b", "all"):
                results["end_to_end"] = await end_to_end(valkey, args.database_url, e2e_profile)
                print_end_to_end(results["end_to_end"])

            return results
        finally:
            await delete_prefix(valkey.redis, prefix)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Routing benchmark: our design beside the seed's, script level and end to end."
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (< 1 minute)")
    parser.add_argument(
        "--part",
        choices=("a", "b", "all"),
        default="all",
        help="a: the assignment script alone; b: end to end; all (default): both",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument(
        "--redis-url",
        default="",
        help="use this server instead of a private embedded Valkey (keys under a unique "
        "prefix, deleted afterwards; its stats are diffed, never reset)",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="part b: use this database (e.g. PostgreSQL) instead of a fresh SQLite file per "
        "run; the bench drops and recreates Team Talk's tables in it for every run, and "
        "refuses if it holds users it did not make",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="part b: requests per second (default 100); every run must fit in the leaders' "
        f"free slots ({CAPACITY} each)",
    )
    parser.add_argument(
        "--repeats", type=int, default=0, help="part b: runs of each worker (default 3, quick 1)"
    )
    # The baseline worker runs as its own process: this script started with this flag.
    parser.add_argument("--baseline-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_worker:
        asyncio.run(baseline_worker())
        return
    e2e_profile = E2E_QUICK if args.quick else E2E_FULL
    if args.rate:
        e2e_profile = replace(e2e_profile, rate=args.rate)
    if args.repeats:
        e2e_profile = replace(e2e_profile, repeats=args.repeats)
    if e2e_profile.total_requests > e2e_profile.leaders * CAPACITY:
        parser.error(
            f"{e2e_profile.total_requests} requests per run would fill the"
            f" {e2e_profile.leaders * CAPACITY} free slots; lower --rate"
        )
    args.e2e_profile = e2e_profile
    started = time.monotonic()
    # On uvloop when present: the 500 sockets of part b are the bench's own load.
    results = run_async(run(args))
    write_results(args.out, results, started)


if __name__ == "__main__":
    main()
