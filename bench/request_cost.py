"""What one request costs the server, by kind, against the framework's own cost.

    .venv/bin/python bench/request_cost.py [--quick] [--requests N] [--repeats N]
        [--database-url URL] [--redis-url URL] [--out PATH]

Part 1, the server: `teamtalk serve --no-worker` on fresh state (a SQLite file and a
private Valkey by default; PostgreSQL and another Redis with the URLs), then N sequential
requests of each kind from one client: `GET /healthz`, `GET /api/me`, a create, the team's
history list (50 rows), a leader's basket (4), a message sent over the socket. Reported per
kind: the server process's CPU time per request (user + system from /proc, which a busy
machine does not inflate the way it inflates wall time) and its ratio to `/healthz` in the
same run.

Part 2, the worker: N queued conversations and enough online leaders; a worker in this
process assigns them all at the default batch size (script, commit, settle, emit). Reported:
the worker's CPU time per assignment (this process; the database too on SQLite, which runs
in it) and its ratio to the assignment scripts' own time in Valkey (INFO commandstats,
`evalsha`, the same run).

Medians of --repeats runs; each run starts from fresh state.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from harness import (
    Valkey,
    free_port,
    open_valkey,
    progress,
    run_async,
    wait_ready,
    write_results,
)
from machine import cpu_seconds, load_average, machine_info
from redis.asyncio import Redis
from stack import CAPACITY, Account, Leaders, Stack, cookie, database_version

from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.settings import Settings, normalize_database_url
from teamtalk.worker import Worker

DEFAULT_OUT = Path("bench/results/request_cost.json")
KINDS = ("healthz", "me", "create", "history_50", "basket_4", "socket_send")
HISTORY_ROWS = 50
# Budgets a real user never reaches, raised so that one sequential client is never refused.
UNLIMITED = {
    "TEAMTALK_MESSAGES_PER_MINUTE": "1000000",
    "TEAMTALK_SOCKET_EVENTS_PER_MINUTE": "1000000",
    "TEAMTALK_READS_PER_MINUTE": "1000000",
    "TEAMTALK_READS_BURST": "1000000",
}


class Client:
    """One sequential client of the server under test; every answer must be a success."""

    def __init__(self, http: aiohttp.ClientSession, pid: int) -> None:
        self.http = http
        self.pid = pid

    async def call(self, method: str, path: str, account: Account | None, **kw: Any) -> Any:
        headers = {"Cookie": cookie(account)} if account is not None else {}
        async with self.http.request(method, path, headers=headers, **kw) as response:
            if response.status >= 400:
                raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")
            return await response.json()

    async def cost(self, n: int, one: Callable[[int], Awaitable[object]]) -> float:
        """The server's CPU milliseconds per request over `n` sequential ones."""
        await one(-1)  # warm: first-use imports and caches are not what is measured
        before = cpu_seconds(self.pid)
        for i in range(n):
            await one(i)
        after = cpu_seconds(self.pid)
        assert before is not None and after is not None, "no /proc for the server"
        return (after - before) * 1000 / n


@dataclass
class Served:
    """`teamtalk serve --no-worker` on fresh state, its client, and its users."""

    stack: Stack
    url: str
    client: Client
    leaders: Leaders  # their sockets, connected with `leaders.connect`
    leader_accounts: list[Account]
    agent_accounts: list[Account]


@contextlib.asynccontextmanager
async def serving(
    valkey: Valkey, name: str, database_url: str, leaders: int
) -> AsyncIterator[Served]:
    """A server of its own with `leaders` leaders and one agent; stopped and its state
    removed at the end."""
    stack = Stack(valkey.url, valkey.workdir, name, database_url)
    leader_accounts, agent_accounts = await stack.prepare(leaders=leaders, agents=1)
    port = free_port()
    server = stack.start("server", ["serve", "--no-worker"], stack.env(port) | UNLIMITED)
    url = f"http://127.0.0.1:{port}"
    sockets = Leaders(url)
    try:
        async with aiohttp.ClientSession(url, headers={"Origin": url}) as http:
            await wait_ready(http, server)
            client = Client(http, server.pid)
            yield Served(stack, url, client, sockets, leader_accounts, agent_accounts)
    finally:
        await sockets.close()
        await server.stop()
        await stack.remove(valkey.redis)


@contextlib.asynccontextmanager
async def worker_here(stack: Stack) -> AsyncIterator[Worker]:
    """A worker in this process on the stack's database and Redis, as production runs it
    (emitting through a write-only Socket.IO manager)."""
    settings = Settings.model_validate(
        {
            "database_url": stack.database_url,
            "redis_url": stack.redis_url,
            "redis_prefix": stack.prefix,
            "secret_key": stack.secret,
            "log_level": "WARNING",
        }
    )
    res = Resources.open(settings)
    realtime = Realtime.write_only(stack.redis_url, res.redis, res.keys)
    try:
        yield Worker(res, realtime)
    finally:
        await realtime.close()
        await res.close()


async def server_run(valkey: Valkey, database_url: str, n: int) -> dict[str, float]:
    async with serving(valkey, "cost", database_url, leaders=1) as served:
        client, (leader,), (agent,) = served.client, served.leader_accounts, served.agent_accounts
        costs = {
            # The smallest figure, the one every ratio divides by: more of them, so that
            # the clock's 10 ms ticks weigh less.
            "healthz": await client.cost(4 * n, lambda _: client.call("GET", "/healthz", None)),
            "me": await client.cost(n, lambda _: client.call("GET", "/api/me", agent)),
        }
        opened: list[int] = []

        async def create(_: int) -> None:
            body = {"message": "The customer's invoice is wrong", "client_id": uuid.uuid4().hex}
            made = await client.call("POST", "/api/conversations", agent, json=body)
            opened.append(int(made["conversation"]["id"]))

        costs["create"] = await client.cost(max(n, HISTORY_ROWS), create)
        history = f"/api/conversations?limit={HISTORY_ROWS}"
        listed = await client.call("GET", history, leader)
        assert len(listed["conversations"]) == HISTORY_ROWS, listed
        costs["history_50"] = await client.cost(n, lambda _: client.call("GET", history, leader))
        costs["socket_send"] = await socket_send_cost(client, served.url, agent, opened[0], n)
        await served.leaders.connect(leader)
        async with worker_here(served.stack) as worker:
            await worker.burst()
        basket = "/api/conversations/basket"
        held = await client.call("GET", basket, leader)
        assert len(held["conversations"]) == CAPACITY, held
        costs["basket_4"] = await client.cost(n, lambda _: client.call("GET", basket, leader))
        return costs


async def socket_send_cost(
    client: Client, url: str, agent: Account, conversation_id: int, n: int
) -> float:
    sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
    await sio.connect(url, headers={"Cookie": cookie(agent)}, transports=["websocket"])
    try:

        async def send(_: int) -> None:
            body = {"conversation_id": conversation_id, "client_id": uuid.uuid4().hex, "body": "hi"}
            ack = await sio.call("send_message", body, timeout=30)
            if "message" not in ack:
                raise RuntimeError(f"send_message answered {ack}")

        return await client.cost(n, send)
    finally:
        await sio.disconnect()


async def worker_run(valkey: Valkey, database_url: str, n: int) -> dict[str, float]:
    """The worker's CPU per assignment and the scripts' own time, at the default batch."""
    async with serving(valkey, "cost-worker", database_url, leaders=-(-n // CAPACITY)) as served:
        (agent,) = served.agent_accounts
        for _ in range(n):
            await served.client.call(
                "POST", "/api/conversations", agent, json={"message": "Help, please"}
            )
        for account in served.leader_accounts:
            await served.leaders.connect(account)
        async with worker_here(served.stack) as worker:
            await worker.start()
            script_before = await script_usec(valkey.redis)
            cpu_before = time.process_time()
            made = await worker.burst()
            cpu = time.process_time() - cpu_before
            script = await script_usec(valkey.redis) - script_before
            batch = worker.settings.worker_batch
        assert made == n, f"assigned {made} of {n}"
        per = cpu * 1000 / n
        script_ms = script / 1000 / n
        return {
            "worker_ms": per,
            "scripts_ms": script_ms,
            "ratio": per / script_ms if script_ms else float("nan"),
            "batch": float(batch),
        }


async def script_usec(redis: Redis) -> float:
    """Microseconds the server has spent in EVALSHA since it started (every client's)."""
    stats: dict[str, Any] = await redis.info("commandstats")
    return float(stats.get("cmdstat_evalsha", {}).get("usec", 0))


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with open_valkey("cost-valkey", args.redis_url) as valkey:
        results: dict[str, Any] = {
            "machine": await machine_info(valkey.redis),
            "database": await database_version(
                normalize_database_url(
                    args.database_url or f"sqlite:///{valkey.workdir / 'probe.db'}"
                )
            ),
            "requests": args.requests,
            "server_runs": [],
            "worker_runs": [],
        }
        for i in range(args.repeats):
            costs = await server_run(valkey, args.database_url, args.requests)
            costs |= {f"{k}_ratio": costs[k] / costs["healthz"] for k in KINDS}
            results["server_runs"].append(costs | {"load": load_average() or 0.0})
            progress(f"server run {i + 1}: " + fmt_costs(costs))
            assigned = await worker_run(valkey, args.database_url, args.assignments)
            results["worker_runs"].append(assigned | {"load": load_average() or 0.0})
            progress(
                f"worker run {i + 1}: {assigned['worker_ms']:.2f} ms/assignment, "
                f"scripts {assigned['scripts_ms']:.3f} ms, ratio {assigned['ratio']:.1f}x"
            )
        results["server"] = median_of(results["server_runs"])
        results["worker"] = median_of(results["worker_runs"])
        return results


def fmt_costs(costs: dict[str, float]) -> str:
    return ", ".join(f"{k} {costs[k]:.2f} ms ({costs[k] / costs['healthz']:.1f}x)" for k in KINDS)


def print_summary(results: dict[str, Any]) -> None:
    server, worker = results["server"], results["worker"]
    print(
        f"\nServer CPU per request, {results['database']}, median of {len(results['server_runs'])}"
    )
    print(f"{'kind':<14}{'ms':>8}{'x healthz':>11}")
    for kind in KINDS:
        print(f"{kind:<14}{server[kind]:>8.2f}{server[kind + '_ratio']:>11.1f}")
    print(
        f"\nWorker CPU per assignment (batch {worker['batch']:.0f}): {worker['worker_ms']:.2f} ms; "
        f"the scripts' own time {worker['scripts_ms']:.3f} ms; ratio {worker['ratio']:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run, under a minute")
    parser.add_argument("--requests", type=int, default=0, help="requests of each kind a run")
    parser.add_argument("--assignments", type=int, default=0, help="assignments a worker run")
    parser.add_argument("--repeats", type=int, default=0, help="runs (the medians are reported)")
    parser.add_argument("--database-url", default="", help="PostgreSQL instead of SQLite")
    parser.add_argument("--redis-url", default="", help="a Redis instead of a private Valkey")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    args = parser.parse_args()
    args.requests = args.requests or (50 if args.quick else 300)
    args.assignments = args.assignments or (100 if args.quick else 400)
    args.repeats = args.repeats or (1 if args.quick else 3)
    started = time.monotonic()
    results = run_async(run(args))
    print_summary(results)
    write_results(args.out, results, started)


if __name__ == "__main__":
    main()
