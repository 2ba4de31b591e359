"""The machine a benchmark runs on: what it is, and how busy it and each process are.

CPU and memory readings come from Linux /proc; elsewhere they are None.
"""

from __future__ import annotations

import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.utils import HIREDIS_AVAILABLE


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


async def machine_info(redis: Redis) -> dict[str, Any]:
    """The record every bench's JSON opens with: hardware, Python, the Redis server."""
    server: dict[str, Any] = await redis.info("server")
    name = str(server.get("server_name", "valkey" if "valkey_version" in server else "redis"))
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_count": os.cpu_count(),
        "memory_gib": memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "server": name,
        "server_version": str(server.get(f"{name}_version", server.get("redis_version"))),
        "hiredis": HIREDIS_AVAILABLE,  # the C reply parser; without it redis-py parses in Python
    }


def load_average() -> float | None:
    """The 1-minute load average: other work on a shared machine shows here."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float | None:
    """CPU time spent on anything, all cores together, since boot (Linux /proc/stat)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class CpuMeter:
    """CPU use between two points in time, in % of one core (like top): each process of the
    stack, and the whole machine (which shows load from anything else running)."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self.marks: list[tuple[float, dict[str, float | None]]] = []

    def mark(self) -> None:
        used = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.marks.append((time.perf_counter(), used | {"machine": machine_busy_seconds()}))

    def percent(self) -> dict[str, float | None]:
        (t0, start), (t1, stop) = self.marks[0], self.marks[-1]
        out: dict[str, float | None] = {}
        for name in start:
            a, b = start[name], stop[name]
            out[name] = None if a is None or b is None else 100 * (b - a) / (t1 - t0)
        return out
