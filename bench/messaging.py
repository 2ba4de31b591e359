"""Messaging benchmark: Team Talk's send_message beside a bare python-socketio relay.

    .venv/bin/python bench/messaging.py [--quick] [--out PATH] [--repeats N] [--no-deflate]
        [--part exchange|memory|all] [--server teamtalk|echo|both]

Through real `teamtalk serve --no-worker` processes (SQLite, a private Valkey) and, in the
same run, through the BASELINE `bench/echo_server.py` (the same python-socketio stack with
no storage and no checks):

1. delivery latency, an agent's `send_message` emitted until the leader's socket receives
   `new_message`, at steady open-loop rates over many agent-leader pairs;
2. fan-out throughput: `new_message` events delivered per second by one server process at
   saturation, many sockets per leader;
3. memory per idle connection: the server's RSS with 1,000 and 10,000 connected,
   authenticated sockets;
4. two server processes against one: the fan-out load with the agents on one process and
   the leaders on the other.

The clients are light raw-protocol sockets in a few processes of bench/swarm.py. The method
and the meaning of every number are in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
from harness import (
    STATS,
    Process,
    Valkey,
    free_port,
    log_lines,
    log_summary,
    open_valkey,
    percentiles,
    progress,
    read_log,
    run_async,
    wait_ready,
    write_results,
)
from machine import CpuMeter, cpu_seconds, load_average, machine_info, rss_bytes
from redis.asyncio import Redis
from sqlalchemy import text
from stack import CAPACITY, Account, Stack, cookie

from teamtalk import db

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / "results" / "messaging.json"
SWARM = BENCH_DIR / "swarm.py"
ECHO = BENCH_DIR / "echo_server.py"
KINDS = ("teamtalk", "echo")
SWARMS = 4  # client processes
CONNECTS_IN_FLIGHT = 48  # sockets connecting at once, over all client processes
# For the memory runs: more at once made Team Talk's connect time out on SQLite's write lock
# (authenticate takes it) on the shared 2-core machine; see bench/README.md.
MEMORY_CONNECTS_IN_FLIGHT = 16
MEMORY_USERS = 200  # agents whose sessions the idle sockets use (many sockets per user)
MEMORY_WARMUP_SOCKETS = 20  # connected before the "before" reading
SETTLE_SECONDS = 3.0  # after connecting, before reading RSS
IDLE_SECONDS = 10.0  # idle CPU is read over this long: one period of Team Talk's heartbeat
SATURATED = 0.95  # delivered/s below this share of the offered rate: behind the load
# A rate step stops sending once this many seconds of messages (at least 200) wait for
# their ack: the server is far behind, and more queued only makes the drain longer.
MAX_BACKLOG_SECONDS = 1.0
ASSIGN_TIMEOUT = 180.0

# Targets (issue 4, item 10; DESIGN.md "Targets" asks p99 <= 15 ms).
TARGET_P99_MS = 10.0  # at 1,000 messages/s
TARGET_P99_RATE = 1_000.0
TARGET_P99_VS_ECHO = 2.0
TARGET_EVENTS_PER_SECOND = 20_000.0
TARGET_IDLE_SOCKETS = 10_000
TARGET_KIB_PER_SOCKET = 30.0
TARGET_TWO_OVER_ONE = 1.6


@dataclass(frozen=True)
class Profile:
    pairs: int  # agents, each with one conversation assigned to a leader
    rates: tuple[float, ...]  # messages per second, open loop
    warmup_seconds: float
    measure_seconds: float
    tabs: int  # extra sockets in the leaders' rooms for the fan-out runs, over all leaders
    flood_window: int  # messages each agent keeps waiting for their ack in a fan-out run
    flood_warmup_seconds: float
    flood_seconds: float
    memory_counts: tuple[int, ...]
    repeats: int

    @property
    def leaders(self) -> int:
        return math.ceil(self.pairs / CAPACITY)  # every leader holds CAPACITY conversations


FULL = Profile(
    pairs=200,
    rates=(50.0, 100.0, 250.0, 500.0, 1_000.0),
    warmup_seconds=2.0,
    measure_seconds=8.0,
    tabs=1_000,
    flood_window=1,
    flood_warmup_seconds=2.0,
    flood_seconds=8.0,
    memory_counts=(1_000, 10_000),
    repeats=1,
)
QUICK = Profile(
    pairs=40,
    rates=(50.0, 1_000.0),
    warmup_seconds=1.0,
    measure_seconds=3.0,
    tabs=200,
    flood_window=1,
    flood_warmup_seconds=1.0,
    flood_seconds=2.0,
    memory_counts=(1_000,),
    repeats=1,
)


# ── Client processes ──────────────────────────────────────────────────────────────────────


class SwarmProcess:
    """One bench/swarm.py process, driven over its stdin and stdout."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, name: str, workdir: Path) -> SwarmProcess:
        log = workdir / f"{name}.log"
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(SWARM),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                limit=2**28,
            )
        return cls(name, proc, log)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            reply = json.loads(line)
            future = self.waiting.pop(reply["id"], None)
            if future is not None and not future.done():
                future.set_result(reply)
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(RuntimeError(f"{self.name} exited: {self.tail()}"))

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        return "(no log)"

    async def call(self, op: str, **args: Any) -> Any:
        assert self.proc.stdin is not None
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        line = json.dumps({"id": self.next_id, "op": op, **args}) + "\n"
        self.proc.stdin.write(line.encode())
        await self.proc.stdin.drain()
        reply = await future
        if not reply["ok"]:
            raise RuntimeError(f"{self.name} {op}: {reply['error']}")
        return reply["result"]

    async def stop(self) -> None:
        if self.proc.returncode is None and self.proc.stdin is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                self.proc.stdin.write(b'{"id": 0, "op": "exit"}\n')
                await self.proc.stdin.drain()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.reader.cancel()


async def connect_spread(
    swarms: Sequence[SwarmProcess],
    url: str,
    specs: Sequence[dict[str, Any]],
    deflate: bool,
    in_flight: int = CONNECTS_IN_FLIGHT,
    tolerate: bool = False,
) -> dict[str, Any]:
    """Connect the sockets round robin over the swarms; raise if any failed (unless
    `tolerate`: then count them)."""
    ws_url = url.replace("http://", "ws://", 1)
    parts = [list(specs[i :: len(swarms)]) for i in range(len(swarms))]
    gate = max(1, in_flight // len(swarms))
    started = time.perf_counter()
    results = await asyncio.gather(
        *(
            s.call("connect", url=ws_url, sockets=part, concurrency=gate, deflate=deflate)
            for s, part in zip(swarms, parts, strict=True)
            if part
        )
    )
    failed = sum(r["errors"] for r in results)
    first = [e for r in results for e in r["first_errors"]][:3]
    if failed and not tolerate:
        raise RuntimeError(f"{failed} of {len(specs)} sockets failed to connect: {first}")
    return {
        "sockets": len(specs),
        "failed": failed,
        "first_errors": first,
        "seconds": time.perf_counter() - started,
    }


async def close_all(swarms: Sequence[SwarmProcess]) -> None:
    await asyncio.gather(*(s.call("close") for s in swarms))


# ── The two servers under test ────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Pair:
    agent: int  # user id
    leader: int
    conversation_id: int


class Deployment:
    """Team Talk or the echo baseline: its server processes, users and conversations."""

    kind: str

    def __init__(self, valkey_url: str, run_dir: Path) -> None:
        self.valkey_url = valkey_url
        self.run_dir = run_dir
        self.servers: list[Process] = []
        self.urls: list[str] = []
        self.agents: list[int] = []
        self.leaders: list[int] = []

    async def prepare(self, leaders: int, agents: int) -> None:
        raise NotImplementedError

    def command(self, port: int) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def socket(self, user_id: int, tag: str, group: str) -> dict[str, Any]:
        raise NotImplementedError

    def payload(self, pair: Pair) -> dict[str, Any]:
        raise NotImplementedError

    async def open_conversations(self, leader_swarm: SwarmProcess) -> list[Pair]:
        raise NotImplementedError

    async def start_server(self) -> str:
        port = free_port()
        command, env = self.command(port)
        name = f"server{len(self.servers) + 1}"
        server = Process(name, command, env, self.run_dir)
        self.servers.append(server)
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(url) as http:
            await wait_ready(http, server)
        self.urls.append(url)
        return url

    async def stop(self) -> dict[str, Any]:
        """Stop the servers; their logged warnings and errors."""
        logs = {}
        for server in self.servers:
            await server.stop()
            logs[server.name] = log_summary(log_lines(read_log(server.log)), top=6)
        self.servers, self.urls = [], []
        return logs

    async def cleanup(self, redis: Redis) -> None:
        await self.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)


class TeamTalk(Deployment):
    kind = "teamtalk"

    def __init__(self, valkey_url: str, workdir: Path, name: str) -> None:
        self.stack = Stack(valkey_url, workdir, name)
        super().__init__(valkey_url, self.stack.run_dir)
        self.accounts: dict[int, Account] = {}

    async def prepare(self, leaders: int, agents: int) -> None:
        leader_accounts, agent_accounts = await self.stack.prepare(leaders, agents)
        self.leaders = [a.user_id for a in leader_accounts]
        self.agents = [a.user_id for a in agent_accounts]
        self.accounts = {a.user_id: a for a in [*leader_accounts, *agent_accounts]}

    def env(self, port: int) -> dict[str, str]:
        # The per-user limits (120 messages and 600 events a minute, 20 sockets) would
        # refuse the bench's agents and its many tabs per user.
        return self.stack.env(port) | {
            "TEAMTALK_MESSAGES_PER_MINUTE": "100000000",
            "TEAMTALK_SOCKET_EVENTS_PER_MINUTE": "100000000",
            "TEAMTALK_MAX_SOCKETS_PER_USER": "100000",
        }

    def command(self, port: int) -> tuple[list[str], dict[str, str]]:
        serve = ["serve", "--no-worker", "--no-demo", "--port", str(port)]
        return [sys.executable, "-m", "teamtalk", *serve], self.env(port)

    def socket(self, user_id: int, tag: str, group: str) -> dict[str, Any]:
        return {"tag": tag, "group": group, "cookie": cookie(self.accounts[user_id])}

    def payload(self, pair: Pair) -> dict[str, Any]:
        return {"conversation_id": pair.conversation_id}

    async def open_conversations(self, leader_swarm: SwarmProcess) -> list[Pair]:
        """Leaders go online over their sockets, every agent opens a request over HTTP,
        and `teamtalk worker --burst` assigns them all."""
        tags = [f"l{leader}" for leader in self.leaders]
        online = await leader_swarm.call(
            "call", tags=tags, event="set_status", data={"status": "online"}, concurrency=20
        )
        if online["answers"] != {'{"status": "online"}': len(tags)}:
            raise RuntimeError(f"set_status answered {online['answers']}")
        url = self.urls[0]
        created: list[int] = []
        gate = asyncio.Semaphore(20)
        async with aiohttp.ClientSession(
            url, headers={"Origin": url}, cookie_jar=aiohttp.DummyCookieJar()
        ) as http:

            async def create(agent: int) -> None:
                async with (
                    gate,
                    http.post(
                        "/api/conversations",
                        json={"message": "bench conversation"},
                        headers={"Cookie": cookie(self.accounts[agent])},
                    ) as response,
                ):
                    body = await response.read()
                    if response.status != 201:
                        raise RuntimeError(f"POST /api/conversations: {response.status} {body!r}")
                    created.append(int(json.loads(body)["conversation"]["id"]))

            await asyncio.gather(*(create(a) for a in self.agents))
        worker = Process(
            "worker",
            [sys.executable, "-m", "teamtalk", "worker", "--burst"],
            self.env(0),
            self.run_dir,
        )
        await asyncio.to_thread(worker.proc.wait, ASSIGN_TIMEOUT)
        engine = db.create_engine(self.stack.database_url)
        try:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text(
                            "SELECT id, agent_id, assignee_id FROM conversations"
                            " WHERE status = 'assigned'"
                        )
                    )
                ).all()
        finally:
            await engine.dispose()
        if len(rows) != len(created):
            raise RuntimeError(
                f"{len(rows)} of {len(created)} conversations assigned:\n{worker.tail()}"
            )
        return [Pair(int(agent), int(leader), int(cid)) for cid, agent, leader in rows]

    async def cleanup(self, redis: Redis) -> None:
        await self.stop()
        await self.stack.remove(redis)


class Echo(Deployment):
    kind = "echo"

    def __init__(self, valkey_url: str, workdir: Path, name: str) -> None:
        super().__init__(valkey_url, Path(tempfile.mkdtemp(prefix=f"{name}-", dir=workdir)))
        self.channel = f"ttbench-echo-{uuid.uuid4().hex[:12]}"

    async def prepare(self, leaders: int, agents: int) -> None:
        self.leaders = list(range(1, leaders + 1))
        self.agents = list(range(leaders + 1, leaders + agents + 1))

    def command(self, port: int) -> tuple[list[str], dict[str, str]]:
        args = ["--port", str(port), "--redis-url", self.valkey_url, "--channel", self.channel]
        return [sys.executable, str(ECHO), *args], dict(os.environ)

    def socket(self, user_id: int, tag: str, group: str) -> dict[str, Any]:
        return {"tag": tag, "group": group, "query": f"&user={user_id}"}

    def payload(self, pair: Pair) -> dict[str, Any]:
        return {"conversation_id": pair.conversation_id, "to": pair.leader}

    async def open_conversations(self, leader_swarm: SwarmProcess) -> list[Pair]:
        """No storage: conversation i joins agent i and a leader, as Team Talk's worker
        would spread them (each leader holds CAPACITY)."""
        return [
            Pair(agent, self.leaders[i // CAPACITY], 1_000_000 + i)
            for i, agent in enumerate(self.agents)
        ]


def deployment(kind: str, valkey: Valkey, name: str) -> Deployment:
    cls = TeamTalk if kind == "teamtalk" else Echo
    return cls(valkey.url, valkey.workdir, name)


# ── Measurements ──────────────────────────────────────────────────────────────────────────


def cpu_pids(
    dep: Deployment, swarms: Sequence[SwarmProcess], valkey_pid: int | None
) -> dict[str, Any]:
    pids: dict[str, int | None] = {s.name: s.pid for s in dep.servers}
    pids |= {s.name: s.pid for s in swarms}
    return pids | {"valkey": valkey_pid, "bench": os.getpid()}


def cpu_summary(percent: dict[str, float | None], dep: Deployment) -> dict[str, float | None]:
    """% of one core: each server, the clients together, Valkey and the whole machine."""
    out = {s.name: percent.get(s.name) for s in dep.servers}
    clients = [v for k, v in percent.items() if k.startswith("swarm") and v is not None]
    out["clients"] = sum(clients) if clients else None
    out["valkey"] = percent.get("valkey")
    out["machine"] = percent.get("machine")
    return out


async def latency_step(
    dep: Deployment,
    agent_swarm: SwarmProcess,
    leader_swarm: SwarmProcess,
    swarms: Sequence[SwarmProcess],
    pairs: Sequence[Pair],
    rate: float,
    profile: Profile,
    valkey_pid: int | None,
    run_name: str,
) -> dict[str, Any]:
    """Open loop at `rate` for warm-up + measure seconds; latency of the measured ones."""
    senders = [{"tag": f"a{p.agent}", "payload": dep.payload(p)} for p in pairs]
    cpu = CpuMeter(cpu_pids(dep, swarms, valkey_pid))
    await leader_swarm.call("record", on=True)
    seconds = profile.warmup_seconds + profile.measure_seconds
    started = time.perf_counter()
    sending = asyncio.create_task(
        agent_swarm.call(
            "send",
            senders=senders,
            rate=rate,
            seconds=seconds,
            max_backlog=max(200, int(rate * MAX_BACKLOG_SECONDS)),
            run=run_name,
        )
    )
    await asyncio.sleep(0.05 + profile.warmup_seconds)
    cpu.mark()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(sending), profile.measure_seconds)
    cpu.mark()
    sent = await sending
    sends = sent["sends"]
    acked_ok = sum(1 for s in sends if s[3] is not None and s[4] is None)
    # Deliveries are emitted before the ack; give the last frames a moment to land.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        counters = await leader_swarm.call("counters")
        if counters["counts"].get("leader", 0) >= acked_ok:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.2)
    recorded = await leader_swarm.call("record", on=False)
    arrivals = recorded["arrivals"]
    warmup = round(rate * profile.warmup_seconds)
    measured = sends[warmup:]
    e2e, acks, lags, missing, errors = [], [], [], 0, 0
    first_error = None
    last_arrival = math.nan
    for client_id, due, sent_at, acked, error in measured:
        lags.append((sent_at - due) * 1000)
        if error is not None:
            errors += 1
            first_error = first_error or error
            continue
        if acked is not None:
            acks.append((acked - sent_at) * 1000)
        arrival = arrivals.get(f"{client_id}|leader")
        if arrival is None:
            missing += 1
            continue
        e2e.append((arrival[0] - sent_at) * 1000)
        last_arrival = arrival[0] if math.isnan(last_arrival) else max(last_arrival, arrival[0])
    span = last_arrival - measured[0][2] if measured and e2e else math.nan
    delivered_per_second = len(e2e) / span if span and span > 0 else 0.0
    stopped = sent["stopped_at"] is not None
    return {
        "kind": dep.kind,
        "rate": rate,
        "sent": len(sends),
        "measured": len(measured),
        "delivered": len(e2e),
        "missing": missing,
        "errors": errors,
        "first_error": first_error,
        "unacked": sent["outstanding"],
        "duplicates": recorded["duplicates"],
        "stopped_at": sent["stopped_at"],
        "e2e_ms": percentiles(e2e),
        "ack_ms": percentiles(acks),
        "send_lag_ms": percentiles(lags),
        "delivered_per_second": delivered_per_second,
        "saturated": stopped or delivered_per_second < SATURATED * rate or bool(errors),
        "cpu_percent": cpu_summary(cpu.percent(), dep),
        "load_average": load_average(),
        "seconds": time.perf_counter() - started,
    }


async def flood(
    dep: Deployment,
    agent_swarm: SwarmProcess,
    swarms: Sequence[SwarmProcess],
    pairs: Sequence[Pair],
    profile: Profile,
    valkey: Valkey,
    run_name: str,
) -> dict[str, Any]:
    """Closed loop: every agent keeps `flood_window` messages waiting for their ack; count
    the new_message events every socket receives over the measured seconds."""
    senders = [{"tag": f"a{p.agent}", "payload": dep.payload(p)} for p in pairs]
    cpu = CpuMeter(cpu_pids(dep, swarms, valkey.pid))
    await agent_swarm.call(
        "flood_start", senders=senders, window=profile.flood_window, run=run_name
    )
    try:
        await asyncio.sleep(profile.flood_warmup_seconds)
        before = await asyncio.gather(*(s.call("counters") for s in swarms))
        cpu.mark()
        await asyncio.sleep(profile.flood_seconds)
        after = await asyncio.gather(*(s.call("counters") for s in swarms))
        cpu.mark()
    finally:
        totals = await agent_swarm.call("flood_stop")
    delivered_per_second = 0.0
    by_group: dict[str, float] = {}
    for b, a in zip(before, after, strict=True):
        seconds = a["time"] - b["time"]
        for group, count in a["counts"].items():
            rate = (count - b["counts"].get(group, 0)) / seconds
            by_group[group] = by_group.get(group, 0.0) + rate
            delivered_per_second += rate
    # A Redis client per python-socketio reconnect would show here (see "Cannot publish").
    clients: dict[str, Any] = await valkey.redis.info("clients")
    i = list(swarms).index(agent_swarm)
    messages_per_second = (after[i]["acked"] - before[i]["acked"]) / (
        after[i]["time"] - before[i]["time"]
    )
    return {
        "kind": dep.kind,
        "servers": len(dep.servers),
        "delivered_per_second": delivered_per_second,
        "delivered_by_group": by_group,
        "messages_per_second": messages_per_second,
        "fan_out": delivered_per_second / messages_per_second if messages_per_second else None,
        "in_flight": len(senders) * profile.flood_window,
        "errors": totals["errors"],
        "first_errors": totals["first_errors"],
        "open_sockets": sum(a["open"] for a in after),
        "valkey_clients": int(clients["connected_clients"]),
        "cpu_percent": cpu_summary(cpu.percent(), dep),
        "load_average": load_average(),
    }


async def exchange(
    kind: str,
    repeat: int,
    profile: Profile,
    swarms: Sequence[SwarmProcess],
    valkey: Valkey,
    deflate: bool,
) -> dict[str, Any]:
    """Latency at each rate, then fan-out on one process, then on two."""
    started = time.perf_counter()
    agent_swarm, leader_swarm, tab_swarms = swarms[0], swarms[1], swarms[2:]
    dep = deployment(kind, valkey, f"{kind}-exchange")
    result: dict[str, Any] = {"kind": kind, "repeat": repeat, "load_average": load_average()}
    try:
        await dep.prepare(profile.leaders, profile.pairs)
        url = await dep.start_server()
        leader_specs = [dep.socket(u, f"l{u}", "leader") for u in dep.leaders]
        await connect_spread([leader_swarm], url, leader_specs, deflate)
        pairs = await dep.open_conversations(leader_swarm)
        agent_specs = [dep.socket(u, f"a{u}", "agent") for u in dep.agents]
        await connect_spread([agent_swarm], url, agent_specs, deflate)
        result["setup_seconds"] = time.perf_counter() - started
        progress(f"  {kind}: {len(pairs)} conversations open ({result['setup_seconds']:.0f} s)")

        steps: list[dict[str, Any]] = []
        saturated_at: float | None = None
        for rate in profile.rates:
            if saturated_at is not None:
                steps.append({"kind": kind, "rate": rate, "skipped": True})
                progress(f"  {kind} {rate:>6,.0f}/s skipped: stopped at {saturated_at:g}/s")
                continue
            run_name = f"{kind}-{repeat}-{rate:g}"
            step = await latency_step(
                dep, agent_swarm, leader_swarm, swarms, pairs, rate, profile, valkey.pid, run_name
            )
            steps.append(step)
            e2e = step["e2e_ms"]
            progress(
                f"  {kind} {rate:>6,.0f}/s p50 {e2e['p50']:8.1f} p99 {e2e['p99']:8.1f}"
                f" max {e2e['max']:8.1f} ms, {step['delivered_per_second']:6.0f} delivered/s,"
                f" {step['delivered']}/{step['measured']} delivered, {step['errors']} errors,"
                f" machine cpu {step['cpu_percent']['machine'] or 0:.0f}%"
                + (f", stopped after {step['stopped_at']} sends" if step["stopped_at"] else "")
                + (f"\n    first error: {step['first_error']}" if step["first_error"] else "")
            )
            if step["stopped_at"] is not None:  # far behind: a higher rate says nothing more
                saturated_at = rate
        result["latency"] = steps

        # Fan-out on one process: more sockets in every leader's room (tabs of the leader).
        per_leader = max(1, profile.tabs // len(dep.leaders))
        tab_specs = [
            dep.socket(u, f"t{u}-{k}", "tab") for u in dep.leaders for k in range(per_leader)
        ]
        await connect_spread(tab_swarms, url, tab_specs, deflate)
        one = await flood(dep, agent_swarm, swarms, pairs, profile, valkey, f"{kind}-f1")
        progress_flood(kind, one)

        # Two processes: the agents on the first, the leaders and their tabs on the second.
        url2 = await dep.start_server()
        await close_all(swarms)
        await connect_spread([leader_swarm], url2, leader_specs, deflate)
        await connect_spread(tab_swarms, url2, tab_specs, deflate)
        await connect_spread([agent_swarm], url, agent_specs, deflate)
        two = await flood(dep, agent_swarm, swarms, pairs, profile, valkey, f"{kind}-f2")
        progress_flood(kind, two)
        result["fan_out"] = {"one": one, "two": two}
        result["two_over_one"] = (
            two["delivered_per_second"] / one["delivered_per_second"]
            if one["delivered_per_second"]
            else None
        )
        await close_all(swarms)
        await asyncio.sleep(1)  # let the servers handle the disconnects before stopping
        result["logs"] = await dep.stop()
        report_logs(kind, result["logs"])
    finally:
        await dep.cleanup(valkey.redis)
    result["seconds"] = time.perf_counter() - started
    return result


def progress_flood(kind: str, f: dict[str, Any]) -> None:
    progress(
        f"  {kind} fan-out on {f['servers']} process(es): {f['delivered_per_second']:8,.0f}"
        f" new_message/s delivered, {f['messages_per_second']:6,.0f} messages/s,"
        f" {f['errors']} errors, machine cpu {f['cpu_percent']['machine'] or 0:.0f}%"
        + (f"\n    first errors: {f['first_errors']}" if f["first_errors"] else "")
    )


def report_logs(kind: str, logs: dict[str, Any]) -> None:
    for name, log in logs.items():
        for message, count in log["top"][:4]:
            progress(f"    {kind} {name} log: {count} x {message}")


async def valkey_used_memory(valkey: Redis) -> int:
    info: dict[str, Any] = await valkey.info("memory")
    return int(info["used_memory"])


async def memory(
    kind: str,
    counts: Sequence[int],
    swarms: Sequence[SwarmProcess],
    valkey: Valkey,
    deflate: bool,
) -> dict[str, Any]:
    """A fresh server; RSS with a few sockets, then with each count of idle ones."""
    started = time.perf_counter()
    dep = deployment(kind, valkey, f"{kind}-memory")
    result: dict[str, Any] = {
        "kind": kind,
        "deflate": deflate,
        "users": MEMORY_USERS,
        "load_average": load_average(),
    }
    try:
        await dep.prepare(0, MEMORY_USERS)
        url = await dep.start_server()
        pid = dep.servers[0].pid
        users = dep.agents

        def specs(start: int, stop: int) -> list[dict[str, Any]]:
            return [dep.socket(users[i % len(users)], f"m{i}", "idle") for i in range(start, stop)]

        # A few sockets first, so the "before" reading has every code path loaded.
        await connect_spread(swarms, url, specs(0, MEMORY_WARMUP_SOCKETS), deflate)
        await asyncio.sleep(SETTLE_SECONDS)
        before = {
            "rss": rss_bytes(pid),
            "valkey": await valkey_used_memory(valkey.redis),
            "cpu": cpu_seconds(pid) or 0.0,
        }
        connected = MEMORY_WARMUP_SOCKETS
        failed = 0
        rows = []
        for count in counts:
            cpu0 = cpu_seconds(pid) or 0.0
            done = await connect_spread(
                swarms,
                url,
                specs(connected, MEMORY_WARMUP_SOCKETS + count),
                deflate,
                in_flight=MEMORY_CONNECTS_IN_FLIGHT,
                tolerate=True,
            )
            connect_cpu = (cpu_seconds(pid) or 0.0) - cpu0
            added = MEMORY_WARMUP_SOCKETS + count - connected
            connected += added
            await asyncio.sleep(SETTLE_SECONDS)
            # Idle: what the open sockets cost in CPU (Engine.IO pings every 25 s; Team Talk
            # re-registers every socket in Redis every 10 s).
            cpu1, t1 = cpu_seconds(pid) or 0.0, time.perf_counter()
            await asyncio.sleep(IDLE_SECONDS)
            idle_cpu = 100 * ((cpu_seconds(pid) or 0.0) - cpu1) / (time.perf_counter() - t1)
            counters = await asyncio.gather(*(s.call("counters") for s in swarms))
            rss = rss_bytes(pid)
            used = await valkey_used_memory(valkey.redis)
            failed += done["failed"]
            # Per socket actually open: a failed connect leaves little behind.
            open_now = sum(c["open"] for c in counters) - MEMORY_WARMUP_SOCKETS
            row = {
                "sockets": count,
                "open": open_now,
                "failed": failed,
                "first_errors": done["first_errors"],
                "rss_bytes": rss,
                "kib_per_socket": (rss - before["rss"]) / max(open_now, 1) / 1024,
                "valkey_bytes_per_socket": (used - before["valkey"]) / max(open_now, 1),
                "connect_seconds": done["seconds"],
                "connects_per_second": added / done["seconds"],
                "server_cpu_ms_per_connect": 1000 * connect_cpu / added,
                "idle_cpu_percent": idle_cpu,
            }
            rows.append(row)
            progress(
                f"  {kind} memory{'' if deflate else ' (no deflate)'}: {count:>6,} sockets"
                f" {row['kib_per_socket']:6.1f} KiB each (RSS {rss / 2**20:,.0f} MiB),"
                f" Valkey {row['valkey_bytes_per_socket']:5.0f} B each,"
                f" {row['connects_per_second']:5.0f} connects/s,"
                f" {row['server_cpu_ms_per_connect']:.2f} ms server cpu per connect,"
                f" idle cpu {idle_cpu:.0f}%"
                + (f"\n    {failed} failed to connect: {done['first_errors']}" if failed else "")
            )
        result["before"] = before
        result["rows"] = rows
        await close_all(swarms)
        await asyncio.sleep(2)
        result["logs"] = await dep.stop()
        report_logs(kind, result["logs"])
    finally:
        with contextlib.suppress(Exception):
            await close_all(swarms)
        await dep.cleanup(valkey.redis)
    result["seconds"] = time.perf_counter() - started
    return result


# ── Summary ───────────────────────────────────────────────────────────────────────────────


def med(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(present) if present else None


def summarize(results: dict[str, Any], profile: Profile) -> dict[str, Any]:
    exchanges = results.get("exchange", [])
    latency: dict[str, dict[str, Any]] = {}
    fan_out: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        runs = [r for r in exchanges if r["kind"] == kind]
        if not runs:
            continue
        latency[kind] = {}
        for rate in profile.rates:
            steps = [
                s for r in runs for s in r["latency"] if s["rate"] == rate and not s.get("skipped")
            ]
            if not steps:
                latency[kind][f"{rate:g}"] = {"skipped": True}
                continue
            latency[kind][f"{rate:g}"] = {
                "e2e_ms": {s: med([x["e2e_ms"][s] for x in steps]) for s in STATS},
                "e2e_ms_min": {s: min(x["e2e_ms"][s] for x in steps) for s in STATS},
                "e2e_ms_max": {s: max(x["e2e_ms"][s] for x in steps) for s in STATS},
                "ack_ms": {s: med([x["ack_ms"][s] for x in steps]) for s in STATS},
                "delivered_per_second": med([x["delivered_per_second"] for x in steps]),
                "saturated": sum(1 for x in steps if x["saturated"]),
                "runs": len(steps),
                "errors": sum(x["errors"] for x in steps),
                "missing": sum(x["missing"] for x in steps),
                "cpu_percent": {
                    k: med([x["cpu_percent"][k] for x in steps]) for k in steps[0]["cpu_percent"]
                },
            }
        fan_out[kind] = {
            which: {
                "delivered_per_second": med(
                    [r["fan_out"][which]["delivered_per_second"] for r in runs]
                ),
                "messages_per_second": med(
                    [r["fan_out"][which]["messages_per_second"] for r in runs]
                ),
                "fan_out": med([r["fan_out"][which]["fan_out"] for r in runs]),
                "errors": sum(r["fan_out"][which]["errors"] for r in runs),
                "cpu_percent": {
                    k: med([r["fan_out"][which]["cpu_percent"].get(k) for r in runs])
                    for k in runs[0]["fan_out"][which]["cpu_percent"]
                },
            }
            for which in ("one", "two")
        } | {"two_over_one": med([r["two_over_one"] for r in runs])}

    memory_rows: dict[str, list[dict[str, Any]]] = {}
    for m in results.get("memory", []):
        memory_rows.setdefault(m["kind"], []).extend(
            row | {"deflate": m["deflate"]} for row in m["rows"]
        )

    targets = targets_of(latency, fan_out, memory_rows)
    return {"latency": latency, "fan_out": fan_out, "memory": memory_rows, "targets": targets}


def targets_of(
    latency: dict[str, Any], fan_out: dict[str, Any], memory_rows: dict[str, Any]
) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []

    def add(label: str, value: float | None, met: bool | None, note: str = "") -> None:
        targets.append({"label": label, "value": value, "met": met, "note": note})

    key = f"{TARGET_P99_RATE:g}"
    ours = latency.get("teamtalk", {}).get(key, {})
    echo = latency.get("echo", {}).get(key, {})
    if latency:
        if ours.get("skipped"):
            add(
                f"delivery p99 <= {TARGET_P99_MS:g} ms at {TARGET_P99_RATE:,.0f} messages/s",
                None,
                False,
                "not run: far behind at a lower rate",
            )
        elif ours:
            p99 = ours["e2e_ms"]["p99"]
            note = "behind the load" if ours["saturated"] else ""
            add(
                f"delivery p99 <= {TARGET_P99_MS:g} ms at {TARGET_P99_RATE:,.0f} messages/s",
                p99,
                p99 is not None and p99 <= TARGET_P99_MS and not ours["saturated"],
                note,
            )
            if echo and not echo.get("skipped"):
                ratio = p99 / echo["e2e_ms"]["p99"] if p99 and echo["e2e_ms"]["p99"] else None
                add(
                    f"delivery p99 within {TARGET_P99_VS_ECHO:g}x the echo's",
                    ratio,
                    ratio is not None and ratio <= TARGET_P99_VS_ECHO and not ours["saturated"],
                )
    if "teamtalk" in fan_out:
        value = fan_out["teamtalk"]["one"]["delivered_per_second"]
        add(
            f">= {TARGET_EVENTS_PER_SECOND:,.0f} events/s delivered by one process",
            value,
            value is not None and value >= TARGET_EVENTS_PER_SECOND,
        )
        ratio = fan_out["teamtalk"]["two_over_one"]
        add(
            f"two processes >= {TARGET_TWO_OVER_ONE:g}x one",
            ratio,
            ratio is not None and ratio >= TARGET_TWO_OVER_ONE,
        )
    rows = [
        r
        for r in memory_rows.get("teamtalk", [])
        if r["deflate"] and r["sockets"] >= TARGET_IDLE_SOCKETS
    ]
    if rows:
        value = rows[0]["kib_per_socket"]
        add(
            f"{TARGET_IDLE_SOCKETS:,} idle sockets on one process at <= "
            f"{TARGET_KIB_PER_SOCKET:g} KiB each",
            value,
            value <= TARGET_KIB_PER_SOCKET and rows[0]["open"] >= rows[0]["sockets"],
        )
    elif "teamtalk" in memory_rows:
        add(
            f"{TARGET_IDLE_SOCKETS:,} idle sockets at <= {TARGET_KIB_PER_SOCKET:g} KiB each",
            None,
            None,
            f"not run (largest count here: {max(r['sockets'] for r in memory_rows['teamtalk'])})",
        )
    return targets


def fmt(value: float | None, spec: str = ",.1f") -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else format(value, spec)
    )


def print_summary(results: dict[str, Any], profile: Profile) -> None:
    summary = results["summary"]
    machine = results["machine"]
    p = results["profile"]
    print()
    print(
        f"Messaging — {machine['cpu']} ({machine['cores']} cores), Python {machine['python']},"
        f" {machine['server']} {machine['server_version']}; clients"
        f" {'offer' if p['deflate'] else 'do not offer'} permessage-deflate;"
        f" median of {profile.repeats} run(s)"
    )
    latency = summary["latency"]
    if latency:
        print()
        print(
            "Delivery, agent → leader — send_message emitted → the leader's socket receives"
            " new_message"
        )
        print(
            f"{profile.pairs} conversations ({profile.pairs} agents, {profile.leaders} leaders),"
            f" open loop, {profile.measure_seconds:g} s measured after"
            f" {profile.warmup_seconds:g} s warm-up"
        )
        head = (
            f"{'rate/s':>7} {'server':<9} │ {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}"
            f" {'max ms':>9} │ {'ack p50':>8} │ {'delivered/s':>11} │ cpu % server clients machine"
        )
        print(head)
        print("─" * len(head))
        for rate in profile.rates:
            key = f"{rate:g}"
            for kind in KINDS:
                cell = latency.get(kind, {}).get(key)
                if cell is None:
                    continue
                if cell.get("skipped"):
                    print(f"{rate:>7,.0f} {kind:<9} │ not run: far behind at a lower rate")
                    continue
                e2e, cpu = cell["e2e_ms"], cell["cpu_percent"]
                mark = " !" if cell["saturated"] else ""
                print(
                    f"{rate:>7,.0f} {kind:<9} │"
                    + "".join(f" {fmt(e2e[s]):>8}" for s in STATS[:3])
                    + f" {fmt(e2e['max']):>9} │ {fmt(cell['ack_ms']['p50']):>8} │"
                    f" {fmt(cell['delivered_per_second'], ',.0f'):>11} │"
                    f" {fmt(cpu.get('server1'), '.0f'):>6} {fmt(cpu['clients'], '.0f'):>7}"
                    f" {fmt(cpu['machine'], '.0f'):>7}{mark}"
                )
            ours, echo = latency.get("teamtalk", {}).get(key), latency.get("echo", {}).get(key)
            if ours and echo and not ours.get("skipped") and not echo.get("skipped"):
                ratios = [
                    ours["e2e_ms"][s] / echo["e2e_ms"][s]
                    if ours["e2e_ms"][s] and echo["e2e_ms"][s]
                    else None
                    for s in STATS
                ]
                print(
                    f"{'':>7} {'tt/echo':<9} │"
                    + "".join(f" {fmt(r, '.2f'):>8}" for r in ratios[:3])
                    + f" {fmt(ratios[3], '.2f'):>9} │"
                )
        print("! behind the load (delivered below 95% of the rate, stopped, or errors)")
    fan_out = summary["fan_out"]
    if fan_out:
        print()
        print(
            f"Fan-out — closed loop, {profile.pairs} agents x {profile.flood_window} message(s)"
            f" in flight; each leader's room has about {1 + profile.tabs // profile.leaders}"
            f" sockets; {profile.flood_seconds:g} s measured"
        )
        head = (
            f"{'server':<9} {'processes':>9} │ {'new_message/s':>13} {'messages/s':>10}"
            f" {'fan-out':>7} │ cpu % servers clients valkey machine"
        )
        print(head)
        print("─" * len(head))
        for kind in KINDS:
            if kind not in fan_out:
                continue
            for which, n in (("one", 1), ("two", 2)):
                f = fan_out[kind][which]
                cpu = f["cpu_percent"]
                servers = "+".join(
                    fmt(cpu.get(f"server{i}"), ".0f") for i in range(1, 3) if f"server{i}" in cpu
                )
                print(
                    f"{kind:<9} {n:>9} │ {fmt(f['delivered_per_second'], ',.0f'):>13}"
                    f" {fmt(f['messages_per_second'], ',.0f'):>10} {fmt(f['fan_out'], '.1f'):>7} │"
                    f" {servers:>13} {fmt(cpu['clients'], '.0f'):>7}"
                    f" {fmt(cpu['valkey'], '.0f'):>6} {fmt(cpu['machine'], '.0f'):>7}"
                )
            print(f"{kind:<9} {'2 / 1':>9} │ {fmt(fan_out[kind]['two_over_one'], '.2f'):>13}x")
        if "teamtalk" in fan_out and "echo" in fan_out:
            ours = fan_out["teamtalk"]["one"]["delivered_per_second"]
            echo = fan_out["echo"]["one"]["delivered_per_second"]
            if ours and echo:
                print(f"teamtalk / echo, one process: {ours / echo:.2f}x")
    memory_rows = summary["memory"]
    if memory_rows:
        print()
        print(
            f"Memory per idle connection — server RSS after - before ({MEMORY_WARMUP_SOCKETS}"
            f" sockets) / sockets; sockets spread over {MEMORY_USERS} users"
        )
        head = (
            f"{'server':<9} {'deflate':>7} {'sockets':>8} {'open':>7} │ {'KiB/socket':>10}"
            f" {'RSS MiB':>8}"
            f" │ {'Valkey B/socket':>15} │ {'connects/s':>10} {'cpu ms/connect':>14}"
            f" {'idle cpu %':>10}"
        )
        print(head)
        print("─" * len(head))
        for kind in KINDS:
            for row in memory_rows.get(kind, []):
                print(
                    f"{kind:<9} {'yes' if row['deflate'] else 'no':>7} {row['sockets']:>8,}"
                    f" {row['open']:>7,} │"
                    f" {row['kib_per_socket']:>10.1f} {row['rss_bytes'] / 2**20:>8,.0f} │"
                    f" {row['valkey_bytes_per_socket']:>15,.0f} │"
                    f" {row['connects_per_second']:>10,.0f}"
                    f" {row['server_cpu_ms_per_connect']:>14.2f}"
                    f" {row['idle_cpu_percent']:>10.0f}"
                )
    print()
    print("targets (Team Talk):")
    for t in summary["targets"]:
        mark = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        note = f" ({t['note']})" if t["note"] else ""
        print(f"  {t['label']:<58} {fmt(t['value'], ',.2f'):>10}  {mark}{note}")


def code_version() -> dict[str, Any]:
    """The commit the servers ran, and whether src/ had uncommitted changes (the tree is
    shared while others work on it)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=BENCH_DIR.parent, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "src_changed": git("status", "--short", "src")}


# ── Main ──────────────────────────────────────────────────────────────────────────────────


async def run(args: argparse.Namespace) -> dict[str, Any]:
    profile: Profile = args.profile
    async with open_valkey("ttm-") as valkey:
        results: dict[str, Any] = {
            "machine": await machine_info(valkey.redis),
            "code": code_version(),
            "profile": asdict(profile) | {"deflate": args.deflate, "quick": bool(args.quick)},
            "load_average_start": load_average(),
        }
        swarms: list[SwarmProcess] = []
        try:
            for i in range(SWARMS):
                swarms.append(await SwarmProcess.start(f"swarm{i + 1}", valkey.workdir))
            if args.part in ("exchange", "all"):
                results["exchange"] = []
                for repeat in range(profile.repeats):
                    # Alternate which goes first, so load that comes and goes hits both alike.
                    kinds = args.kinds if repeat % 2 == 0 else tuple(reversed(args.kinds))
                    for kind in kinds:
                        progress(f"run {repeat + 1}/{profile.repeats} {kind}")
                        results["exchange"].append(
                            await exchange(kind, repeat, profile, swarms, valkey, args.deflate)
                        )
            if args.part in ("memory", "all"):
                results["memory"] = []
                for kind in args.kinds:
                    results["memory"].append(
                        await memory(kind, profile.memory_counts, swarms, valkey, args.deflate)
                    )
        finally:
            for swarm in swarms:
                await swarm.stop()
        results["summary"] = summarize(results, profile)
        return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Messaging benchmark: Team Talk beside a bare python-socketio relay."
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run (< 2 minutes)")
    parser.add_argument(
        "--part",
        choices=("exchange", "memory", "all"),
        default="all",
        help="exchange: latency, fan-out, two processes; memory: idle sockets; all (default)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--repeats", type=int, default=0, help="exchange runs of each server")
    parser.add_argument(
        "--server",
        choices=(*KINDS, "both"),
        default="both",
        help="measure Team Talk, the echo baseline, or both (default; the ratios need both)",
    )
    parser.add_argument(
        "--no-deflate",
        dest="deflate",
        action="store_false",
        help="clients do not offer permessage-deflate (browsers do)",
    )
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    if args.repeats:
        profile = replace(profile, repeats=args.repeats)
    args.profile = profile
    args.kinds = KINDS if args.server == "both" else (args.server,)
    started = time.monotonic()
    results = run_async(run(args))
    print_summary(results, profile)
    write_results(args.out, results, started)


if __name__ == "__main__":
    main()
