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
    def online_teamleaders(self) -> str:
        return self._k("users:online_teamleaders")

    def basket(self, leader_id: int) -> str:
        return self._k(f"tl:{leader_id}:basket")

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

    def user_sockets(self, user_id: int) -> str:
        """HASH socket id -> session id, across every server process."""
        return self._k(f"user:{user_id}:sockets")

    # Login throttling: failure counters that expire on their own.
    def login_failures_account(self, email: str) -> str:
        digest = hashlib.sha256(email.encode()).hexdigest()[:32]
        return self._k(f"login:failures:account:{digest}")

    def login_failures_address(self, address: str) -> str:
        return self._k(f"login:failures:address:{address}")
