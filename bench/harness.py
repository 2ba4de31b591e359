"""What every benchmark runs on: its event loop and results file, its Valkey, the
processes it starts and their logs, ports, waiting, Redis clean-up and percentiles.

The machine's readings are in machine.py, a Team Talk on fresh state in stack.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import aiohttp
from redis.asyncio import Redis

from teamtalk.embedded import EmbeddedValkey

uvloop: ModuleType | None
try:
    import uvloop
except ImportError:  # optional; comes with uvicorn[standard]
    uvloop = None

T = TypeVar("T")

STATS = ("p50", "p90", "p99", "max")
START_TIMEOUT = 60.0  # for a server to be ready (and a worker's first heartbeat)
STOP_TIMEOUT = 15.0  # for a process to exit on SIGTERM before it is killed


# ── The bench process ─────────────────────────────────────────────────────────────────────


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """On uvloop when it is installed, as uvicorn runs the server: the bench's own sockets
    should cost it as little as they cost a server."""
    if uvloop is not None:
        result: T = uvloop.run(main)
        return result
    return asyncio.run(main)


def write_results(out: Path, results: dict[str, Any], started: float) -> None:
    """The JSON results, with the event loop that ran and the wall time since `started`
    (time.monotonic())."""
    results["machine"]["event_loop"] = "uvloop" if uvloop is not None else "asyncio"
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out} in {results['wall_seconds']} s")


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Valkey:
    """The server a bench runs on, and the bench's directory for everything else."""

    url: str
    redis: Redis  # decoded responses
    pid: int | None  # None for a server the bench did not start
    workdir: Path


@contextlib.asynccontextmanager
async def open_valkey(name: str, url: str = "") -> AsyncIterator[Valkey]:
    """A private embedded Valkey (the server Team Talk itself uses by default, same
    configuration) in a fresh directory /tmp/<name>..., or the server at `url`; stopped
    and the directory removed at the end."""
    workdir = Path(tempfile.mkdtemp(prefix=name, dir="/tmp"))
    server = None if url else EmbeddedValkey(workdir)
    redis: Redis | None = None
    try:
        if server is not None:
            url = server.start()
        redis = Redis.from_url(url, decode_responses=True)
        yield Valkey(url, redis, server.pid if server is not None else None, workdir)
    finally:
        if redis is not None:
            await redis.aclose()
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# ── Processes under test ──────────────────────────────────────────────────────────────────


class Process:
    """One process of the stack under test; its log (stderr) and stdout kept in files."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.log = cwd / f"{name}.log"
        with self.log.open("wb") as err, (cwd / f"{name}.out").open("wb") as out:
            self.proc = subprocess.Popen(
                command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def logged(self) -> dict[str, Any]:
        """Warnings and errors it logged (a line that is not JSON counts as an error): how
        many, and the most frequent messages."""
        counts: Counter[str] = Counter()
        messages: Counter[str] = Counter()
        exceptions: Counter[str] = Counter()  # the last line of each traceback
        for line in log_lines(read_log(self.log)):
            level = "error" if line.level == TEXT else line.level
            counts[level] += 1
            messages[f"{level}: {line.message.strip()[:120]}"] += 1
            if line.entry.get("traceback"):
                exceptions[str(line.entry["traceback"]).strip().splitlines()[-1][:200]] += 1
        return {
            "warnings": counts["warning"],
            "errors": counts["error"] + counts["critical"],
            "top": messages.most_common(5),
            "exceptions": exceptions.most_common(3),
        }

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"the {self.name} exited with code {self.proc.returncode}:\n{self.tail()}"
            )

    async def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            await asyncio.to_thread(self.proc.wait, STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_ready(http: aiohttp.ClientSession, server: Process) -> None:
    """Until the server answers /readyz with 200 (`http` has its base URL)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        server.check()
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get("/readyz") as response:
                if response.status == 200:
                    return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server was not ready in {START_TIMEOUT:g} s:\n{server.tail()}")
        await asyncio.sleep(0.1)


async def gather_limited(coroutines: Iterable[Coroutine[Any, Any, Any]], limit: int) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(coroutine: Coroutine[Any, Any, Any]) -> None:
        async with gate:
            await coroutine

    await asyncio.gather(*(one(c) for c in coroutines))


async def delete_prefix(redis: Redis, prefix: str) -> None:
    """Every key under the prefix: a run on a shared server leaves nothing behind."""
    batch: list[str] = []
    async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            await redis.unlink(*batch)
            batch = []
    if batch:
        await redis.unlink(*batch)


# ── Their logs ────────────────────────────────────────────────────────────────────────────

TEXT = "text"  # the level of a log line that is not JSON


@dataclass(frozen=True)
class LogLine:
    level: str  # TEXT for a line that is not a JSON entry
    message: str  # the entry's message, or the whole line
    entry: dict[str, Any]  # the JSON entry ({} for TEXT)


def read_log(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def log_lines(text: str) -> list[LogLine]:
    """Every non-blank line of a log: the JSON lines Team Talk writes, and anything else
    (python-engineio also prints its handler errors as plain tracebacks) as TEXT."""
    lines = []
    for line in filter(str.strip, text.splitlines()):
        try:
            entry = json.loads(line)
            level, message = str(entry["level"]), str(entry.get("message", ""))
        except (ValueError, TypeError, KeyError):
            lines.append(LogLine(TEXT, line, {}))
            continue
        lines.append(LogLine(level, message, entry))
    return lines


def log_summary(lines: Sequence[LogLine], top: int) -> dict[str, Any]:
    """Warnings and errors (TEXT lines counted apart, not as errors of their own): how many,
    and the most frequent, each with the exception behind it (the last line of its
    traceback, or python-socketio's `redis_exception`)."""
    levels: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    for line in lines:
        levels[line.level] += 1
        if line.level == TEXT:
            continue
        entry = line.entry
        cause = entry.get("redis_exception") or (
            str(entry["traceback"]).strip().splitlines()[-1] if entry.get("traceback") else ""
        )
        label = f"{line.level}: {line.message.strip()[:100]}"
        messages[label + (f" ({cause[:140]})" if cause else "")] += 1
    return {
        "warnings": levels["warning"],
        "errors": levels["error"] + levels["critical"],
        "text_lines": levels[TEXT],
        "top": messages.most_common(top),
    }


# ── Numbers ───────────────────────────────────────────────────────────────────────────────


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99 by linear interpolation between the closest ranks, max and mean."""
    s = sorted(values)
    if not s:
        return dict.fromkeys((*STATS, "mean"), math.nan)

    def q(p: float) -> float:
        k = (len(s) - 1) * p
        lo = math.floor(k)
        hi = min(lo + 1, len(s) - 1)
        return s[lo] + (s[hi] - s[lo]) * (k - lo)

    return {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": s[-1], "mean": statistics.fmean(s)}
