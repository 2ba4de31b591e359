"""How big a chaos run is: CI-sized by default, larger with TEAMTALK_CHAOS_SCALE=large
(scripts/chaos). Which stacks run: TEAMTALK_CHAOS=embedded|cluster|all."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    leaders: int
    agents: int
    rate: float  # requests per second, all agents together
    warmup: float  # seconds of traffic before the first fault
    settle: float  # seconds of traffic after the last fault
    drain: float  # at most this long for the queue and baskets to empty
    converge: float  # at most this long to wait for recovery (the promise is 5 s)
    kills: int  # worker kills in the worker-kill scenario
    stops: int  # SIGSTOP/SIGCONT rounds in the worker-stop scenario
    outage: float  # seconds a database or Redis stays away


CI = Scale(
    "ci", leaders=6, agents=10, rate=4.0, warmup=2, settle=3, drain=10, converge=10, kills=2,
    stops=1, outage=4,
)  # fmt: skip
LARGE = Scale(
    "large", leaders=30, agents=60, rate=5.0, warmup=10, settle=20, drain=45, converge=30,
    kills=8, stops=3, outage=15,
)  # fmt: skip


def current() -> Scale:
    return LARGE if os.environ.get("TEAMTALK_CHAOS_SCALE") == "large" else CI


def stacks() -> set[str]:
    """The embedded default always runs on the plain test run; the cluster (our own
    PostgreSQL and Valkey) on the run with TEST_DATABASE_URL / TEST_REDIS_URL, as the
    rest of the suite's external backends do: each run keeps within its time budget."""
    chosen = os.environ.get("TEAMTALK_CHAOS")
    if chosen == "all":
        return {"embedded", "cluster"}
    if chosen in ("embedded", "cluster"):
        return {chosen}
    external = os.environ.get("TEST_DATABASE_URL") or os.environ.get("TEST_REDIS_URL")
    return {"cluster"} if external else {"embedded"}
