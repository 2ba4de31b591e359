"""What supervisors watch live: the queue, the leaders' load, the workers."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from teamtalk.models import User
from teamtalk.resources import Resources


async def routing_overview(res: Resources) -> dict[str, Any]:
    snap = await res.router.snapshot()
    async with res.sessions() as db:
        names = (
            dict(
                (
                    await db.execute(
                        select(User.id, User.display_name).where(User.id.in_(snap.leaders))
                    )
                ).all()
            )
            if snap.leaders
            else {}
        )
    stats = []
    async for key in res.redis.scan_iter(match=res.keys.worker_stats("*"), count=100):
        raw = await res.redis.get(key)
        if raw:
            stats.append(json.loads(raw))
    return {
        "queue": {"length": len(snap.queue), "conversation_ids": snap.queue[:100]},
        "leaders": [
            {
                "id": leader_id,
                "display_name": names.get(leader_id, ""),
                "status": leader.status,
                "capacity": leader.capacity,
                "free": leader.free,
                "basket": sorted(leader.basket),
            }
            for leader_id, leader in sorted(snap.leaders.items())
        ],
        "in_flight": len(snap.inflight),
        "parked": sorted(snap.parked),
        "workers": {
            "alive": bool(await res.redis.exists(res.keys.worker_heartbeat)),
            "stats": stats,
        },
    }
