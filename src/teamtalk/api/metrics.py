"""Prometheus /metrics: open to loopback clients, behind a bearer token otherwise.

Served by `teamtalk serve` (in the app) and by `teamtalk worker --metrics-port` (`app`).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from teamtalk import metrics
from teamtalk.api.deps import Res
from teamtalk.errors import Forbidden, TeamTalkError
from teamtalk.resources import Resources
from teamtalk.services import monitoring
from teamtalk.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])
# A request relayed by a proxy on this host is not a loopback client.
FORWARDED = ("x-forwarded-for", "forwarded", "x-real-ip")


@router.get("/metrics", include_in_schema=False)
async def scrape(request: Request, res: Res) -> Response:
    authorize(request, res.settings)
    try:
        shared: metrics.Shared | None = await monitoring.shared_metrics(res)
    except Exception as exc:  # the process's own metrics are still worth having
        log.warning("shared metrics not read: %s", exc)
        shared = None
    return Response(metrics.exposition(shared), media_type=metrics.CONTENT_TYPE)


def authorize(request: Request, settings: Settings) -> None:
    token = settings.metrics_token
    given = request.headers.get("authorization", "")
    if token and secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return
    if is_loopback(request):
        return
    message = (
        "Metrics need `Authorization: Bearer <TEAMTALK_METRICS_TOKEN>` from this address."
        if token
        else "Metrics are served to loopback clients only (set TEAMTALK_METRICS_TOKEN)."
    )
    raise Forbidden(message, code="metrics_forbidden")


def is_loopback(request: Request) -> bool:
    if request.client is None or any(h in request.headers for h in FORWARDED):
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def app(resources: Resources) -> FastAPI:
    """/metrics alone, for a process with no web server of its own (the worker)."""
    api = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    api.state.resources = resources
    api.include_router(router)

    @api.exception_handler(TeamTalkError)
    async def known(_: Request, exc: TeamTalkError) -> JSONResponse:
        return JSONResponse(exc.payload(), exc.status, headers=exc.headers)

    return api
