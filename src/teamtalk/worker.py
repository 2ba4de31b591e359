"""The routing worker: a small explicit loop.

Wait for a wake signal (or the adaptive poll), run the assign script for a batch, commit the
batch in the database, settle each in-flight record, emit. Between batches: heartbeat,
settle in-flight records whose worker died, end grace periods, repair drift.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field

from teamtalk.events import Resync
from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.routing.engine import Assignment, Outcome
from teamtalk.services import lifecycle, outbox, presence, reconcile
from teamtalk.services.announce import announce
from teamtalk.services.assignment import commit_assignments

log = logging.getLogger(__name__)

HEARTBEAT_TTL = 15
HOUSEKEEPING_SECONDS = 5.0
# Tests switch this on to kill the worker between the script and the commit.
FAULT_ENV = "TEAMTALK_FAULT"


@dataclass
class Stats:
    worker_id: str
    started: float = field(default_factory=time.time)
    processed: int = 0
    errors: int = 0
    parked: int = 0
    last_processed: float | None = None
    interval: float = 0.0


class Worker:
    def __init__(self, res: Resources, realtime: Realtime | None) -> None:
        self.res = res
        self.realtime = realtime
        self.settings = res.settings
        self.router = res.router
        worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stats = Stats(worker_id, interval=self.settings.worker_min_interval)
        self._next_housekeeping = 0.0
        self._attempted = 0
        self._drift = reconcile.Drift(set(), set(), set())

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; the batch in hand is finished first (a drain on SIGTERM)."""
        await self.start()
        while not stop.is_set():
            try:
                await self.housekeeping()
                made = await self.step()
            except Exception:
                self.stats.errors += 1
                log.exception("routing worker cycle failed")
                made = 0
            if made:
                self.stats.interval = self.settings.worker_min_interval
                continue
            self.stats.interval = min(self.stats.interval * 2, self.settings.worker_max_interval)
            wait = min(self.stats.interval, self._next_housekeeping - time.monotonic())
            waiter = asyncio.ensure_future(self.router.wait_for_work(max(wait, 0.01)))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in (waiter, stopper):
                task.cancel()
        await self.res.redis.delete(self.res.keys.worker_stats(self.stats.worker_id))

    async def start(self) -> None:
        await self.ensure_routing()
        # Only records older than the lease: younger ones may belong to a live worker.
        await self.settle_stale(older_than=self.settings.assignment_lease_seconds)

    async def burst(self) -> int:
        """Assign until nothing more can be; for tests and tools. Returns how many."""
        total = 0
        while True:
            total += await self.step()
            if not self._attempted:  # a failed batch is requeued: try again
                return total

    async def step(self) -> int:
        """One batch. Returns the number of conversations assigned."""
        assignments = await self.router.assign(self.settings.worker_batch)
        self._attempted = len(assignments)
        if not assignments:
            return 0
        if os.environ.get(FAULT_ENV) == "after_assign":
            os.kill(os.getpid(), signal.SIGKILL)
        deadline = time.monotonic() + self.settings.assignment_lease_seconds / 2
        async with self.res.sessions() as db:
            try:
                changes, outcomes = await commit_assignments(db, assignments, deadline=deadline)
            except Exception as exc:  # LeaseExpired, or the database is down
                self.stats.errors += 1
                log.error("assignment batch failed; requeued", exc_info=exc)
                changes, outcomes = [], dict.fromkeys(assignments, Outcome.REQUEUE)
            await self.settle(outcomes)
            # The leader's basket and the agent's view, for the whole batch at once.
            await announce(db, self.realtime, changes)
        self.stats.processed += len(changes)
        if changes:
            self.stats.last_processed = time.time()
        return len(changes)

    async def settle(self, outcomes: dict[Assignment, Outcome]) -> None:
        settled = await self.router.settle_many(outcomes)
        for assignment, result in zip(outcomes, settled, strict=True):
            if result == 2:
                self.stats.parked += 1
                log.error(
                    "conversation set aside after repeated assignment failures",
                    extra={"conversation_id": assignment.conversation_id},
                )

    async def housekeeping(self, *, force: bool = False) -> None:
        if not force and time.monotonic() < self._next_housekeeping:
            return
        self._next_housekeeping = time.monotonic() + HOUSEKEEPING_SECONDS
        await self.heartbeat()
        await self.ensure_routing()
        await self.settle_stale(older_than=self.settings.assignment_lease_seconds)
        await self.router.unpark(int(self.settings.park_seconds * 1000))
        await presence.sweep_absent(self.res)
        await presence.expire_grace(self.res, self.realtime)
        await lifecycle.close_expired(self.res, self.realtime)
        await self.repair_drift()
        if self.realtime is not None:
            await outbox.drain(self.res, self.realtime)

    async def ensure_routing(self) -> None:
        """Rebuilt when Redis came back empty; clients then refetch, as events of the
        changes made while it was away may have reached nobody."""
        if await reconcile.ensure(self.res) and self.realtime is not None:
            resync = Resync(reason="routing_rebuilt")
            await self.realtime.broadcast(resync.name, resync.model_dump(mode="json"))

    async def heartbeat(self) -> None:
        stats = asdict(self.stats) | {"uptime": time.time() - self.stats.started}
        async with self.res.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.res.keys.worker_heartbeat, self.stats.worker_id, ex=HEARTBEAT_TTL)
            pipe.set(
                self.res.keys.worker_stats(self.stats.worker_id),
                json.dumps(stats),
                ex=HEARTBEAT_TTL,
            )
            await pipe.execute()

    async def settle_stale(self, *, older_than: float) -> int:
        return await reconcile.settle_stale(self.res, older_than=older_than)

    async def repair_drift(self) -> None:
        """Mend what disagrees with the database in two checks in a row (in one only, it may
        be a change caught between its commit and its Redis step)."""
        found = await reconcile.drift(self.res)
        lasting = found & self._drift
        if lasting:
            log.warning("routing state disagrees with the database; mending", extra=asdict(lasting))
            await reconcile.repair(self.res, lasting)
            found = await reconcile.drift(self.res)
        self._drift = found
