"""The routing worker: a small explicit loop.

Wait for a wake signal (or the adaptive poll, or the end of the earliest grace period), run
the assign script for a batch, commit the batch in the database, settle each in-flight
record, emit. Beside the loop, every second: keep this worker's liveness key alive and
settle what dead workers left in flight. Between batches: housekeeping. While Redis or the
database is down, the loop backs off instead of spinning.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import os
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field

from teamtalk import failures, metrics
from teamtalk.events import Resync
from teamtalk.realtime import Realtime
from teamtalk.resources import Resources
from teamtalk.routing.engine import Assignment, Outcome, Router
from teamtalk.services import lifecycle, outbox, presence, queue_places, reconcile
from teamtalk.services.announce import deliver
from teamtalk.services.assignment import LeaseExpired, commit_assignments, record_failures

log = logging.getLogger(__name__)

HEARTBEAT_TTL = 15
HOUSEKEEPING_SECONDS = 5.0
# A busy worker (never waiting) looks for grace periods that ended this often; an idle one
# waits exactly until the earliest ends.
GRACE_CHECK_SECONDS = 0.25
OUTBOX_DRAIN_SECONDS = 1.0
# Tests set it to kill ("after_assign") or pause ("pause_after_assign") the worker between
# the script and the commit.
FAULT_ENV = "TEAMTALK_FAULT"


@dataclass
class Stats:
    worker_id: str
    started: float = field(default_factory=time.time)
    processed: int = 0
    errors: int = 0
    parked: int = 0
    last_processed: float | None = None
    interval: float = 0.0  # the current adaptive poll, seconds
    heartbeat_at: float | None = None  # time.time() of the stats' last write


class Liveness:
    """This worker's claim on what it has in flight: a key with a short TTL, refreshed every
    third of it. Each record names the life it was claimed in; once that life's key has
    expired, other workers settle its records. A lapsed life (the process was paused, or
    Redis lost the key) is never resumed: the next refresh starts a new one, and work
    claimed in the old one is not committed."""

    def __init__(self, router: Router, worker_id: str, ttl: float) -> None:
        self.router = router
        self.worker_id = worker_id
        self.ttl = ttl
        self.life = ""
        self._lives = itertools.count(1)
        self._refreshed = -math.inf  # time.monotonic() the last good refresh was sent
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock:
            sent = time.monotonic()
            ttl_ms = int(self.ttl * 1000)
            if not self.life or not await self.router.keep_alive(self.life, ttl_ms, renew=True):
                self.life = f"{self.worker_id}:{next(self._lives)}"
                self._refreshed = -math.inf
                await self.router.keep_alive(self.life, ttl_ms, renew=False)
            self._refreshed = sent

    def fresh(self) -> bool:
        return time.monotonic() - self._refreshed < self.ttl / 3

    def deadline(self, life: str) -> float:
        """Until when work claimed in `life` may be committed (time.monotonic()).

        The key expires `ttl` after the refresh reached Redis, so no sooner than `ttl` after
        it was sent, and others settle a life's records only once its key has expired; a
        third of the ttl is left as margin for the commit to land. What remains is the
        instant between this check and the COMMIT reaching the database: a pause exactly
        there lets a commit land after the records were settled. The conversation is still
        assigned once (the other worker's conditional UPDATE then matches no row), and no
        leader goes over capacity (assignment.py counts the baskets under the leader's row
        lock); the Redis side it leaves behind is mended by drift repair."""
        if life != self.life:
            return -math.inf
        return self._refreshed + self.ttl * 2 / 3

    async def end(self) -> None:
        """On a clean exit nothing is in flight: others need not wait for the TTL."""
        if self.life:
            await self.router.end_life(self.life)


class Worker:
    def __init__(self, res: Resources, realtime: Realtime | None) -> None:
        self.res = res
        self.realtime = realtime
        self.settings = res.settings
        self.router = res.router
        worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stats = Stats(worker_id, interval=self.settings.worker_min_interval)
        self.alive = Liveness(self.router, worker_id, self.settings.worker_liveness_seconds)
        self._next_housekeeping = 0.0
        self._grace_due = 0.0
        self.batch: list[Assignment] = []  # the last step's, committed or not
        self._unsettled: dict[Assignment, Outcome] = {}  # answered, but Redis was down
        self._drift = reconcile.Drift(set(), set(), set())

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; the batch in hand is finished first (a drain on SIGTERM)."""
        beside = [
            asyncio.create_task(task(stop))
            for task in (self.keep_alive, self.settle_orphans, self.drain_outbox)
        ]
        backoff = failures.Backoff(log, "routing worker")
        started = False
        while not stop.is_set():
            try:
                if not started:
                    await self.start()
                    started = True
                await self.housekeeping()
                if time.monotonic() >= self._grace_due:
                    await self.end_grace()
                made = await self.step()
                backoff.succeeded()
                if made:
                    self.stats.interval = self.settings.worker_min_interval
                    self._grace_due = min(self._grace_due, time.monotonic() + GRACE_CHECK_SECONDS)
                else:
                    await self.wait(stop)
            except Exception as exc:
                self.stats.errors += 1
                # Housekeeping first once it works again: a Redis that came back empty is
                # rebuilt at once, not at the next round.
                self._next_housekeeping = 0.0
                await _sleep(stop, backoff.failed(exc))
        await asyncio.gather(*beside)
        with contextlib.suppress(Exception):
            await self.alive.end()
            await self.res.redis.delete(self.res.keys.worker_stats(self.stats.worker_id))

    async def wait(self, stop: asyncio.Event) -> None:
        """For a wake-up, `stop`, or the time `idle_wait` says."""
        waiter = asyncio.ensure_future(self.router.wait_for_work(await self.idle_wait()))
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, stopper):
            task.cancel()
        # Until the cancelled one has ended: a BLPOP cancelled while connecting gives its
        # connection back to the pool then, and must not after the pool is closed.
        await asyncio.wait({waiter, stopper})
        if not waiter.cancelled():
            waiter.result()  # raises when Redis went away: the loop backs off

    async def idle_wait(self) -> float:
        """The adaptive poll, bounded by the next housekeeping and by the end of the
        earliest grace period (a disconnect wakes the worker, so a new one is seen)."""
        self.stats.interval = min(self.stats.interval * 2, self.settings.worker_max_interval)
        now = time.monotonic()
        wait = min(self.stats.interval, self._next_housekeeping - now)
        left = await presence.grace_left(self.res)
        if left is not None:
            self._grace_due = now + left + 0.005  # past the ms the entry is stored in
            wait = min(wait, self._grace_due - now)
        else:
            self._grace_due = math.inf
        return max(wait, 0.01)

    async def keep_alive(self, stop: asyncio.Event) -> None:
        """Every third of the liveness TTL, apart from the loop (a long batch or housekeeping
        does not hold it up): refresh this worker's key, and notice a Redis that lost its data."""

        async def step() -> None:
            await self.alive.refresh()
            await self.notice_empty_routing()

        await self._every(self.alive.ttl / 3, stop, "worker liveness", step)

    async def notice_empty_routing(self) -> None:
        """Redis back without its data (restarted empty, flushed): the housekeeping that
        rebuilds it runs now, not at its next round, seconds later."""
        if not await self.res.redis.exists(self.res.keys.built):
            self._next_housekeeping = 0.0
            await self.router.wake()

    async def settle_orphans(self, stop: asyncio.Event) -> None:
        """Twice as often: settle the records of workers whose liveness key is gone (a task of its
        own, so that a slow database never holds up this worker's own liveness)."""
        await self._every(
            self.alive.ttl / 6,
            stop,
            "dead workers' claims",
            lambda: reconcile.settle_orphaned(self.res),
        )

    async def _every(
        self,
        seconds: float,
        stop: asyncio.Event,
        what: str,
        step: Callable[[], Awaitable[object]],
    ) -> None:
        backoff = failures.Backoff(log, what)
        while not stop.is_set():
            try:
                await step()
                backoff.succeeded()
                wait = seconds
            except Exception as exc:
                wait = min(seconds, backoff.failed(exc))
            await _sleep(stop, wait)

    async def start(self) -> None:
        await self.ensure_routing()
        await self.alive.refresh()
        await reconcile.settle_orphaned(self.res)
        # Only records older than the lease: younger ones may belong to a live worker.
        await self.settle_stale(older_than=self.settings.assignment_lease_seconds)

    async def burst(self) -> int:
        """Assign until nothing more can be; for tests and tools. Returns how many."""
        total = 0
        while True:
            total += await self.step()
            if not self.batch:  # a failed batch is requeued: try again
                return total

    async def step(self) -> int:
        """One batch. Returns the number of conversations assigned. Raises when Redis or the
        database cannot be reached (after putting the batch back): the caller backs off."""
        if self._unsettled:
            await self.settle(self._unsettled)
        if not self.alive.fresh():  # burst mode, or the keeper fell behind
            await self.alive.refresh()
        life = self.alive.life
        self.batch = assignments = await self.router.assign(self.settings.worker_batch, worker=life)
        if not assignments:
            return 0
        fault = os.environ.get(FAULT_ENV)
        if fault in ("after_assign", "pause_after_assign"):
            os.kill(os.getpid(), signal.SIGKILL if fault == "after_assign" else signal.SIGSTOP)
        lease_ends = time.monotonic() + self.settings.assignment_lease_seconds / 2

        def deadline() -> float:
            return min(lease_ends, self.alive.deadline(life))

        async with self.res.sessions() as db:
            try:
                staged, outcomes = await commit_assignments(
                    db, assignments, deadline=deadline, realtime=self.realtime
                )
            except Exception as exc:
                outcomes = self.failed(assignments, exc)
                await self.settle(outcomes)
                if failures.dependency(exc):
                    raise
                staged = None
        metrics.assignments_failed(sum(o == Outcome.REQUEUE for o in outcomes.values()))
        if staged is None:  # failed, its transaction ended: now its attempts are written
            await self.record_failures(outcomes)
            await queue_places.tell(self.res, self.realtime)  # back in the queue
            return 0
        metrics.assignments_committed(
            (
                (out.assigned_at - out.created_at).total_seconds(),
                (out.assigned_at - (out.queued_at or out.created_at)).total_seconds(),
            )
            for out in staged.outs
            if out.assigned_at is not None
        )
        await self.settle(outcomes)
        # The leader's basket and the agent's view, for the whole batch at once.
        await deliver(self.realtime, staged)
        await queue_places.tell(self.res, self.realtime)  # the ones behind moved up
        made = len(staged.outs)
        self.stats.processed += made
        if made:
            self.stats.last_processed = time.time()
        return made

    def failed(self, assignments: list[Assignment], exc: Exception) -> dict[Assignment, Outcome]:
        """The batch was not committed. Only a failure of the conversations' own counts an
        attempt (and may park them); an outage or a claim that ran out does not, so a long
        outage parks nothing and the queue drains as soon as the database is back."""
        if failures.dependency(exc):
            return dict.fromkeys(assignments, Outcome.RETRY)  # the loop logs the outage
        self.stats.errors += 1
        if isinstance(exc, LeaseExpired):
            log.warning("assignment batch rolled back: its claim ran out before the commit")
            return dict.fromkeys(assignments, Outcome.RETRY)
        log.error("assignment batch failed; requeued", exc_info=exc)
        return dict.fromkeys(assignments, Outcome.REQUEUE)

    async def record_failures(self, outcomes: dict[Assignment, Outcome]) -> None:
        """The attempts counted, in the database as well; without it (the database failing
        too), Redis alone keeps the count."""
        failed = [a for a, outcome in outcomes.items() if outcome == Outcome.REQUEUE]
        if not failed:
            return
        try:
            async with self.res.sessions() as db:
                await record_failures(db, failed, "error")
                await db.commit()
        except Exception as exc:
            log.warning("could not record failed assignments: %s", exc)

    async def settle(self, outcomes: dict[Assignment, Outcome]) -> None:
        self._unsettled = outcomes  # until Redis has them: retried by the next step
        settled = await self.router.settle_many(outcomes)
        self._unsettled = {}
        for assignment, result in zip(outcomes, settled, strict=True):
            if result == 2:
                self.stats.parked += 1
                log.error(
                    "conversation set aside after repeated assignment failures",
                    extra={"conversation_id": assignment.conversation_id},
                )

    async def housekeeping(self, *, force: bool = False) -> None:
        """Every few seconds, step by step (an outage stops the round where it hits)."""
        if not force and time.monotonic() < self._next_housekeeping:
            return
        self._next_housekeeping = time.monotonic() + HOUSEKEEPING_SECONDS
        steps: list[Callable[[], Awaitable[object]]] = [
            self.heartbeat,
            self.ensure_routing,  # Redis restarted empty
            lambda: self.settle_stale(older_than=self.settings.assignment_lease_seconds),
            lambda: self.router.unpark(int(self.settings.park_seconds * 1000)),
            lambda: presence.sweep_absent(self.res),
            self.end_grace,  # also run on its own, on time; here in case a wake was missed
            lambda: lifecycle.close_expired(self.res, self.realtime),
            self.repair_drift,
        ]
        for step in steps:
            await step()

    async def ensure_routing(self) -> None:
        """Rebuilt when Redis came back empty; clients then refetch, as events of the
        changes made while it was away may have reached nobody."""
        if await reconcile.ensure(self.res) and self.realtime is not None:
            resync = Resync(reason="routing_rebuilt")
            await self.realtime.broadcast(resync.name, resync.model_dump(mode="json"))

    async def drain_outbox(self, stop: asyncio.Event) -> None:
        """Deliver the events whose own delivery failed; a task of its own, so that a slow
        database holds up neither assignments nor this worker's liveness."""
        realtime = self.realtime
        if realtime is not None:
            await self._every(
                OUTBOX_DRAIN_SECONDS, stop, "outbox drain", lambda: outbox.drain(self.res, realtime)
            )

    async def end_grace(self) -> None:
        """Leaders whose grace period ended go offline."""
        await presence.expire_grace(self.res, self.realtime)
        self._grace_due = time.monotonic() + GRACE_CHECK_SECONDS

    async def heartbeat(self) -> None:
        self.stats.heartbeat_at = time.time()
        stats = asdict(self.stats) | {"uptime": self.stats.heartbeat_at - self.stats.started}
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
            await queue_places.tell(self.res, self.realtime)
            found = await reconcile.drift(self.res)
        self._drift = found


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
