"""Faults on the embedded default: one `teamtalk serve` on SQLite, with the private Valkey
it starts and the worker inside it, as `scripts/serve` runs it."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.chaos import faults
from tests.chaos.run import GRACEFUL_EXITS, promises_kept, running
from tests.chaos.scale import Scale
from tests.chaos.stack import STOP_TIMEOUT, EmbeddedStack

pytestmark = pytest.mark.chaos("embedded")


async def test_embedded_server_sigkill(embedded: EmbeddedStack, chaos_scale: Scale) -> None:
    """The one server SIGKILLed (its Valkey goes with it); started again, with the same
    data directory, it picks up where the database says."""
    async with running("embedded: server SIGKILL", embedded, chaos_scale) as run:
        server = embedded.servers[0]
        valkey = embedded.valkey_pid()
        await server.kill()
        run.note("server SIGKILL")
        if valkey is not None:
            run.promise("the server's Valkey outlived it", await faults.gone(valkey))
        await run.traffic(1)
        server.start()
        await embedded.ready(0)
        back = time.monotonic()
        run.note("server back")
        await run.expect_convergence("server_restart", back)
        await run.traffic(chaos_scale.settle)
    promises_kept(run)


async def test_embedded_valkey_killed(embedded: EmbeddedStack, chaos_scale: Scale) -> None:
    """The server's own Valkey SIGKILLed: the server brings it back by itself (its data
    is rebuilt from the database) and clients converge."""
    async with running("embedded: its Valkey SIGKILL", embedded, chaos_scale) as run:
        pid = embedded.valkey_pid()
        run.promise("the embedded Valkey's pid file names a process", pid is not None)
        if pid is not None:
            faults.kill_pid(pid)
            killed = time.monotonic()
            run.note(f"embedded Valkey {pid} SIGKILL")
            restarted = await restart_of(embedded, pid, chaos_scale.converge)
            run.figures["valkey_back_after_s"] = restarted and round(restarted - killed, 2)
            run.promise(
                f"the server restarted its Valkey within {chaos_scale.converge:g} s",
                restarted is not None,
            )
            if restarted is not None:
                run.note("embedded Valkey back")
                await run.expect_convergence("valkey_restart", restarted)
        await run.traffic(chaos_scale.settle)
    promises_kept(run)


async def restart_of(stack: EmbeddedStack, pid: int, bound: float) -> float | None:
    """When (time.monotonic()) a new Valkey answered in place of `pid`; None if not in time."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        now = stack.valkey_pid()
        if now not in (None, pid) and not faults.is_gone(now) and await stack.redis_answers():
            return time.monotonic()
        await asyncio.sleep(0.1)
    return None


async def test_sqlite_locked(embedded: EmbeddedStack, chaos_scale: Scale) -> None:
    """Another program holds the database file locked (BEGIN EXCLUSIVE) for a while:
    requests wait or are answered 503, never 500, and nothing is lost."""
    async with running("embedded: SQLite file locked", embedded, chaos_scale) as run:
        run.note("BEGIN EXCLUSIVE by another connection")
        await faults.sqlite_locked(embedded.database_file, chaos_scale.outage)
        released = time.monotonic()
        run.note("lock released")
        await run.expect_convergence("lock_release", released)
        await run.traffic(chaos_scale.settle)
    promises_kept(run)


async def test_embedded_graceful_sigterm(embedded: EmbeddedStack, chaos_scale: Scale) -> None:
    """SIGTERM in the middle of a burst: the server finishes what it holds, stops its
    Valkey and exits 0; started again, it goes on."""
    async with running("embedded: graceful SIGTERM during a burst", embedded, chaos_scale) as run:
        run.agents.rate = chaos_scale.rate * 3
        await run.traffic(1)
        server = embedded.servers[0]
        sent = time.time()
        server.signal(signal.SIGTERM)
        run.note("SIGTERM server")
        began = time.monotonic()
        code = await faults.exits_within(server, STOP_TIMEOUT)
        run.figures["sigterm_exit_code"] = code
        run.figures["sigterm_exit_s"] = round(time.monotonic() - began, 2)
        run.promise(
            f"SIGTERM: exit code {code} (promise: {GRACEFUL_EXITS} within {STOP_TIMEOUT:g} s)",
            code in GRACEFUL_EXITS,
        )
        run.findings.broken("a request cut off by the graceful stop", run.cut_off(sent))
        run.agents.rate = chaos_scale.rate
        await asyncio.sleep(0.5)
        server.start()
        await embedded.ready(0)
        await run.traffic(chaos_scale.settle)
    promises_kept(run)
