"""Faults on the production shape: two `teamtalk serve --no-worker` and two `teamtalk
worker` on our own PostgreSQL and Valkey, with leaders and agents as real clients."""

from __future__ import annotations

import asyncio
import random
import signal
import time

import pytest

from teamtalk.worker import FAULT_ENV
from tests.chaos import faults
from tests.chaos.run import GRACEFUL_EXITS, Run, promises_kept, running
from tests.chaos.scale import Scale
from tests.chaos.servers import Postgres, Valkey
from tests.chaos.stack import STOP_TIMEOUT, ClusterStack

pytestmark = pytest.mark.chaos("cluster")
SHORT_LEASE = "3"  # seconds, for the scenario that stops a worker past its lease


async def until_claimed(run: Run, claims: int, seconds: float) -> int:
    """Until `claims` are in flight or `seconds` have passed; how many are."""
    deadline = time.monotonic() + seconds
    held = 0
    while time.monotonic() < deadline and run.claims is not None:
        held = await run.claims.in_flight()
        if held >= claims:
            break
        await asyncio.sleep(0.02)
    return held


async def test_worker_sigkill(cluster: ClusterStack, chaos_scale: Scale) -> None:
    """Workers SIGKILLed right after their assign script, claims in hand (the product's
    fault hook times the kill), and once at a random moment; the other worker lives."""
    async with running("worker SIGKILL", cluster, chaos_scale) as run:
        run.watch_claims()
        victim, other = cluster.workers[1], cluster.workers[0]
        died = 0
        for _ in range(chaos_scale.kills):
            await victim.stop()
            victim.start(**{FAULT_ENV: "after_assign"})
            code = await faults.exits_within(victim, 15)
            if code is None:  # never got a batch: the other worker took everything
                await victim.kill()
            else:
                died += 1
                run.note(f"worker1 died with claims in hand (exit {code})")
            await run.traffic(1)
        victim.start()
        await run.traffic(2)
        await asyncio.sleep(random.uniform(0, 1))
        await other.kill()
        run.note("worker0 SIGKILL at a random moment")
        await run.traffic(1)
        other.start()
        run.figures["kills_with_claims"] = died
        run.promise(f"no worker died holding claims ({died} tries)", died > 0)
        await run.traffic(chaos_scale.settle)
    promises_kept(run)


async def test_server_sigkill(cluster: ClusterStack, chaos_scale: Scale) -> None:
    """A web server SIGKILLed under traffic; its leaders reconnect to the other one, and it
    comes back a second later."""
    async with running("server SIGKILL", cluster, chaos_scale) as run:
        for round_ in range(2):
            await cluster.servers[round_].kill()
            run.note(f"server{round_} SIGKILL")
            await run.traffic(1)
            cluster.servers[round_].start()
            await cluster.ready(round_)
            back = time.monotonic()
            run.note(f"server{round_} back")
            await run.expect_convergence(f"server{round_}_restart", back)
        await run.traffic(chaos_scale.settle)
    promises_kept(run)


@pytest.fixture
def short_lease(cluster_env: dict[str, str]) -> None:
    cluster_env["TEAMTALK_ASSIGNMENT_LEASE_SECONDS"] = SHORT_LEASE


@pytest.mark.usefixtures("short_lease")
async def test_worker_sigstop_past_lease(cluster: ClusterStack, chaos_scale: Scale) -> None:
    """A worker frozen (SIGSTOP) for twice its lease with claims in hand, then resumed
    (SIGCONT): the other takes its claims over, and its late commit assigns nothing twice."""
    async with running("worker SIGSTOP past lease", cluster, chaos_scale) as run:
        run.figures["lease_s"] = float(SHORT_LEASE)
        run.watch_claims()
        frozen = cluster.workers[1]
        for _ in range(chaos_scale.stops):
            # Frozen with claims in hand: both workers' claims wait on the leaders' rows to
            # commit (within half the lease, or they give them back), then the stop lands,
            # then the lock goes.
            async with faults.leaders_locked(cluster.database_url):
                held = await until_claimed(run, 4, float(SHORT_LEASE) / 3)
                frozen.signal(signal.SIGSTOP)
            run.note(f"worker1 SIGSTOP ({held} claims waiting to commit)")
            await run.traffic(2 * float(SHORT_LEASE) + 1)
            frozen.signal(signal.SIGCONT)
            run.note("worker1 SIGCONT")
            await run.traffic(1)
        await run.traffic(chaos_scale.settle)
    promises_kept(run)


async def test_redis_flushall(cluster: ClusterStack, chaos_scale: Scale) -> None:
    """FLUSHALL under traffic: every routing key, socket registry and budget gone at once."""
    async with running("Redis FLUSHALL", cluster, chaos_scale) as run:
        cluster.valkey.flushall()
        flushed = time.monotonic()
        run.note("FLUSHALL")
        await run.expect_convergence("flushall", flushed)
        await run.traffic(chaos_scale.settle)
    promises_kept(run)


async def test_redis_killed_restarted_empty(
    cluster: ClusterStack, valkey: Valkey, chaos_scale: Scale
) -> None:
    """Valkey SIGKILLed, away for a while, back empty on the same address."""
    async with running("Redis SIGKILL + empty restart", cluster, chaos_scale) as run:
        valkey.kill()
        run.note("Valkey SIGKILL")
        await run.traffic(chaos_scale.outage)
        valkey.start()
        back = time.monotonic()
        run.note("Valkey back, empty")
        await run.expect_convergence("redis_restart", back)
        await run.traffic(chaos_scale.settle)
    promises_kept(run)


async def test_postgres_stopped_and_started(
    cluster: ClusterStack, postgres: Postgres, chaos_scale: Scale
) -> None:
    """PostgreSQL stopped (every connection cut) under traffic, started again later."""
    async with running("PostgreSQL stopped and started", cluster, chaos_scale) as run:
        await asyncio.to_thread(postgres.stop, "fast")
        run.note("PostgreSQL stopped")
        await run.traffic(chaos_scale.outage)
        await asyncio.to_thread(postgres.start)
        back = time.monotonic()
        run.note("PostgreSQL started")
        await run.expect_convergence("postgres_restart", back)
        await run.traffic(chaos_scale.settle)
    promises_kept(run)


async def test_graceful_sigterm_during_burst(cluster: ClusterStack, chaos_scale: Scale) -> None:
    """SIGTERM to a server and a worker in the middle of a burst (three times the rate):
    each finishes what it holds and exits 0 in time; nothing answered is lost."""
    async with running("graceful SIGTERM during a burst", cluster, chaos_scale) as run:
        run.agents.rate = chaos_scale.rate * 3
        await run.traffic(1)
        server, worker = cluster.servers[0], cluster.workers[0]
        sent = time.time()
        server.signal(signal.SIGTERM)
        worker.signal(signal.SIGTERM)
        run.note("SIGTERM server0 and worker0")
        began = time.monotonic()
        codes = await asyncio.gather(
            faults.exits_within(server, STOP_TIMEOUT), faults.exits_within(worker, STOP_TIMEOUT)
        )
        run.figures["sigterm_exit_codes"] = codes
        run.figures["sigterm_exit_s"] = round(time.monotonic() - began, 2)
        run.promise(
            f"SIGTERM: exit codes {codes} (promise: {GRACEFUL_EXITS} within {STOP_TIMEOUT:g} s)",
            all(code in GRACEFUL_EXITS for code in codes),
        )
        run.findings.broken("a request cut off by the graceful stop", run.cut_off(sent))
        await run.traffic(1)
        run.agents.rate = chaos_scale.rate
        server.start()
        worker.start()
        await cluster.ready(0)
        await run.traffic(chaos_scale.settle)
    promises_kept(run)
