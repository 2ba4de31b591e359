"""Routing benchmark: our assignment script beside the seed's design, on one Valkey/Redis.

    .venv/bin/python bench/routing.py [--quick] [--out PATH] [--redis-url URL]

Part (a), script level: assignments per second from Python and the server-side cost per
assignment, for 10 to 10,000 online leaders. The method and the meaning of every number
are in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.utils import HIREDIS_AVAILABLE

from teamtalk.embedded import EmbeddedValkey
from teamtalk.routing.engine import Assignment, Outcome, Router
from teamtalk.routing.keys import Keys

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "routing.json"
CAPACITY = 4  # the seed's basket size
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


# The baseline: the seed's assignment as /work/shared/seed/ARCHITECTURE.md describes it
# (LPOP the queue, HGETALL users:online_teamleaders, take the most free slots, HINCRBY -1,
# SADD to the basket). The seed pushed new requests with LPUSH, so LPOP served the newest
# first (LIFO); the bench replicates that. It called the script once per assignment; the
# loop over ARGV[1] only gives it the same batching as ours, the algorithm is unchanged.
SEED_ASSIGN_LUA = """
-- seed assign (baseline, modelled on the seed; not part of Team Talk)
-- KEYS[1]  conversations:queue        LIST  LPUSH to add, LPOP to take (LIFO)
-- KEYS[2]  users:online_teamleaders   HASH  leader id -> free slots
-- KEYS[3]  tl:                        prefix of the basket SETs: KEYS[3]..id..":basket"
-- ARGV[1]  the most assignments to make in this call
-- Returns a flat array {conversation id, leader id, ...}.
local made = {}
for _ = 1, tonumber(ARGV[1]) do
  local conv = redis.call('LPOP', KEYS[1])
  if not conv then
    break
  end
  local leaders = redis.call('HGETALL', KEYS[2])
  local best, most = nil, 0
  for i = 1, #leaders, 2 do
    local free = tonumber(leaders[i + 1])
    if free > most then  -- strictly greater: the first one found wins a tie
      best, most = leaders[i], free
    end
  end
  if not best then
    redis.call('LPUSH', KEYS[1], conv)
    break
  end
  redis.call('HINCRBY', KEYS[2], best, -1)
  redis.call('SADD', KEYS[3] .. best .. ':basket', conv)
  made[#made + 1] = conv
  made[#made + 1] = best
end
return made
"""


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
        self.script = redis.register_script(SEED_ASSIGN_LUA)

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


async def delete_prefix(redis: Redis, prefix: str) -> None:
    batch: list[str] = []
    async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            await redis.unlink(*batch)
            batch = []
    if batch:
        await redis.unlink(*batch)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


async def machine_info(redis: Redis) -> dict[str, Any]:
    server: dict[str, Any] = await redis.info("server")
    name = str(server.get("server_name", "valkey" if "valkey_version" in server else "redis"))
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "server": name,
        "server_version": str(server.get(f"{name}_version", server.get("redis_version"))),
        "hiredis": HIREDIS_AVAILABLE,  # the C reply parser; without it redis-py parses in Python
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


async def run(args: argparse.Namespace) -> dict[str, Any]:
    profile = QUICK if args.quick else FULL
    prefix = f"ttbench-{uuid.uuid4().hex[:12]}:"
    owned = not args.redis_url
    tmpdir = tempfile.mkdtemp(prefix="ttb-", dir="/tmp") if owned else None
    server = EmbeddedValkey(Path(tmpdir)) if tmpdir is not None else None
    redis: Redis | None = None
    try:
        url: str = server.start() if server is not None else args.redis_url
        redis = Redis.from_url(url, decode_responses=True)
        results: dict[str, Any] = {
            "machine": await machine_info(redis),
            "profile": asdict(profile) | {"quick": bool(args.quick)},
            "external_server": not owned,
        }

        # Part (a): the assignment script alone.
        results["script_level"] = await script_level(redis, prefix, owned, profile)
        print_script_level(results["script_level"], results["machine"], profile.repeats)

        # Part (b), end to end with the database, is added here: results["end_to_end"],
        # with its summary printed after part (a)'s.

        return results
    finally:
        if redis is not None:
            await delete_prefix(redis, prefix)
            await redis.aclose()
        if server is not None:
            server.stop()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Routing benchmark: our assignment script beside the seed's."
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (< 30 s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument(
        "--redis-url",
        default="",
        help="use this server instead of a private embedded Valkey (keys under a unique "
        "prefix, deleted afterwards; its stats are diffed, never reset)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    results = asyncio.run(run(args))
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out} in {results['wall_seconds']} s")


if __name__ == "__main__":
    main()
