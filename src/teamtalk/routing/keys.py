"""Every Redis key and channel name Team Talk uses, under one optional prefix.

The seed's names are kept (`conversations:queue`, `users:online_teamleaders`,
`tl:{id}:basket`, `users:online_agents`, `worker:heartbeat`) so people who know the
original design can find their way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = ""

    def _k(self, name: str) -> str:
        return f"{self.prefix}{name}"

    # Routing state (mirrors the database; rebuilt from it when missing).
    @property
    def queue(self) -> str:
        return self._k("conversations:queue")

    @property
    def returned(self) -> str:
        """ZSET of conversations back in the queue (from a leader or a failed assignment),
        by id: served before `queue`, oldest first."""
        return self._k("conversations:returned")

    @property
    def online_teamleaders(self) -> str:
        return self._k("users:online_teamleaders")

    def basket(self, leader_id: int) -> str:
        return self._k(f"tl:{leader_id}:basket")

    @property
    def basket_prefix(self) -> str:
        """For Lua, which builds `prefix .. id .. ":basket"` for leaders it picks itself."""
        return self._k("tl:")

    @property
    def available(self) -> str:
        """ZSET of online (not away) leaders with a free slot: most free first, then the
        oldest last assignment. O(log N) to pick from."""
        return self._k("routing:available")

    @property
    def leader_status(self) -> str:
        """HASH leader id -> "online" | "away" (absent: offline)."""
        return self._k("routing:status")

    @property
    def leader_capacity(self) -> str:
        return self._k("routing:capacity")

    @property
    def last_assigned(self) -> str:
        """HASH leader id -> sequence number of their last assignment (for tie-breaks)."""
        return self._k("routing:last_assigned")

    @property
    def assign_seq(self) -> str:
        return self._k("routing:assign_seq")

    @property
    def inflight(self) -> str:
        """HASH conversation id -> "leader id:ms:worker life": assigned in Redis, not yet
        settled with the database. The life (absent in records no worker claimed) names a
        `worker_alive` key: once it has expired, other workers settle the record; the ms
        are the last resort (the assignment lease)."""
        return self._k("routing:inflight")

    @property
    def preferred(self) -> str:
        """HASH conversation id -> "+leader" (offer it to them first) or "-leader" (anyone
        else first), used once, when the conversation next leaves the queue."""
        return self._k("routing:preferred")

    @property
    def front(self) -> str:
        """HASH conversation id -> the number (event id) of the supervisor's move that put it
        ahead of everything; kept through failed attempts until its assignment is settled."""
        return self._k("routing:front")

    @property
    def attempts(self) -> str:
        """HASH conversation id -> failed assignment attempts."""
        return self._k("routing:attempts")

    @property
    def parked(self) -> str:
        """ZSET of conversations set aside after too many failed attempts -> ms."""
        return self._k("routing:parked")

    @property
    def wake(self) -> str:
        """LIST the workers block on; anything that may make an assignment possible pushes."""
        return self._k("routing:wake")

    @property
    def disconnected(self) -> str:
        """ZSET leader id -> ms when their last socket went away (grace period running)."""
        return self._k("routing:disconnected")

    @property
    def server_lost(self) -> str:
        """SET of leaders in `disconnected` because their server died (not a closed tab)."""
        return self._k("routing:server_lost")

    @property
    def built(self) -> str:
        """Marker: routing state was built from the database and is maintained since."""
        return self._k("routing:built")

    @property
    def rebuild_lock(self) -> str:
        return self._k("routing:rebuild_lock")

    def worker_alive(self, life: str) -> str:
        """A worker life's liveness, with a short TTL the worker keeps refreshing; a life
        whose key expired is over (its worker starts a new one)."""
        return self._k(f"worker:alive:{life}")

    def worker_stats(self, worker_id: str) -> str:
        return self._k(f"worker:stats:{worker_id}")

    @property
    def online_agents(self) -> str:
        return self._k("users:online_agents")

    @property
    def worker_heartbeat(self) -> str:
        return self._k("worker:heartbeat")

    # Real time.
    @property
    def socketio_channel(self) -> str:
        return self._k("socketio")

    @property
    def outbox_delivered(self) -> str:
        """ZSET outbox entry id -> ms it was published: what the outbox drain need not send."""
        return self._k("outbox:delivered")

    @property
    def outbox_lock(self) -> str:
        return self._k("outbox:drain_lock")

    def user_sockets(self, user_id: int) -> str:
        """HASH socket id -> "session id:server id", across every server process."""
        return self._k(f"user:{user_id}:sockets")

    @property
    def events_emitted(self) -> str:
        """HASH event name -> how many were emitted, counted by every process."""
        return self._k("realtime:events_emitted")

    @property
    def server_sockets(self) -> str:
        """HASH web server id -> its open sockets (entries of dead servers are ignored)."""
        return self._k("realtime:sockets")

    @property
    def server_rooms(self) -> str:
        """HASH web server id -> JSON of its rooms by kind, as of its last heartbeat."""
        return self._k("realtime:rooms")

    def server(self, host_id: str) -> str:
        """A web server process's liveness, with a TTL it keeps refreshing."""
        return self._k(f"servers:{host_id}")

    def status_changes(self, user_id: int) -> str:
        """Counter for rate-limiting a user's status changes."""
        return self._k(f"ratelimit:status:{user_id}")

    # Login throttling: failure counters that expire on their own.
    def login_failures_account(self, email: str) -> str:
        digest = hashlib.sha256(email.encode()).hexdigest()[:32]
        return self._k(f"login:failures:account:{digest}")

    def login_failures_address(self, address: str) -> str:
        return self._k(f"login:failures:address:{address}")

    def login_gate_account(self, email: str) -> str:
        """Held for an account's backoff after each attempt past its free failures."""
        digest = hashlib.sha256(email.encode()).hexdigest()[:32]
        return self._k(f"login:gate:account:{digest}")

    def login_failures_device(self, nonce: str) -> str:
        """Failures by a browser with a device cookie (its nonce) for one account."""
        return self._k(f"login:failures:device:{nonce}")

    def messages_sent(self, user_id: int) -> str:
        """When a user's message allowance is next full (ms), for rate limiting."""
        return self._k(f"ratelimit:messages:{user_id}")

    def budget(self, name: str, user_id: int) -> str:
        """When a user's allowance of one kind (costly reads) is next full (ms)."""
        return self._k(f"ratelimit:{name}:{user_id}")
