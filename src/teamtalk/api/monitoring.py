"""Live routing state for supervisors."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query

from teamtalk.api.deps import Admin, Res
from teamtalk.errors import Invalid
from teamtalk.schemas import MonitoringOverview
from teamtalk.services import monitoring

router = APIRouter(prefix="/monitoring", tags=["monitoring"])


@router.get("/routing")
async def routing(admin: Admin, res: Res) -> dict[str, Any]:
    """The queue, every present leader's load, in-flight and parked work, worker health."""
    return await monitoring.routing_overview(res)


@router.get("/overview")
async def overview(
    admin: Admin,
    res: Res,
    tz: Annotated[
        str | None, Query(max_length=64, description='IANA time zone of "today" (default UTC).')
    ] = None,
) -> MonitoringOverview:
    """The live dashboard: workers, the queue with each request's wait, leaders, totals,
    assignment rates and latency, service level, warnings, real time and the last hour.
    Refetch it on `monitor_changed`."""
    return await monitoring.overview(res, tz=time_zone(tz))


def time_zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        detail = [{"field": "tz", "message": "no such time zone", "type": "time_zone"}]
        raise Invalid("No such time zone.", code="invalid_time_zone", details=detail) from None
