"""Live routing state for supervisors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from teamtalk.api.deps import Admin, Res
from teamtalk.services import monitoring

router = APIRouter(prefix="/monitoring", tags=["monitoring"])


@router.get("/routing")
async def routing(admin: Admin, res: Res) -> dict[str, Any]:
    """The queue, every present leader's load, in-flight and parked work, worker health."""
    return await monitoring.routing_overview(res)
