"""create_app(settings): the HTTP API, Socket.IO and the single-page app in one ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import socketio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from teamtalk import db, sockets
from teamtalk.api import (
    auth,
    canned,
    conversations,
    health,
    history,
    metrics,
    monitoring,
    overrides,
    reports,
    topics,
    users,
)
from teamtalk.apidocs import add_api_docs
from teamtalk.errors import (
    TeamTalkError,
    dependency_error,
    dependency_failures,
    error_payload,
    field_errors,
    log_outage,
)
from teamtalk.failures import Backoff
from teamtalk.headers import SecurityHeaders
from teamtalk.middleware import (
    BodyLimit,
    BodyTimeout,
    HostGuard,
    OriginGuard,
    RequestTimer,
    allowed_hosts,
)
from teamtalk.realtime import SERVER_TTL, Realtime
from teamtalk.resources import Resources
from teamtalk.services.live_sessions import LiveSessions
from teamtalk.settings import Settings
from teamtalk.worker import Worker

log = logging.getLogger(__name__)
API_ROUTERS = (
    auth.router,
    users.router,
    topics.router,
    conversations.router,
    history.router,
    monitoring.router,
    reports.router,
    overrides.router,
    canned.router,
)  # mounted under /api
WEB_DIR = Path(__file__).parent / "web"
UNPARSED_BODY = "There was an error parsing the body"  # fastapi.routing's detail


def create_app(settings: Settings) -> Any:
    resources = Resources.open(settings)
    sio = sockets.create_server(resources)
    realtime = Realtime(sio.manager, resources.redis, resources.keys)
    live = LiveSessions(resources)
    sockets.register(sio, resources, realtime, live)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        await realtime.heartbeat()
        tasks = [
            asyncio.create_task(_heartbeats(realtime, stop)),
            asyncio.create_task(live.run(stop, sio.disconnect)),
        ]
        database_file = db.sqlite_file(settings.sqlalchemy_url)
        if database_file is not None:
            tasks.append(asyncio.create_task(db.checkpoints(database_file, stop)))
        if settings.run_worker:
            tasks.append(asyncio.create_task(Worker(resources, realtime).run(stop)))
        # What start-up made lives as long as the process: out of the collector's way, so a
        # full collection scans only what requests make, not a pause of ~1 ms per 1,000
        # objects held since start-up.
        gc.freeze()
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await sio.shutdown()
            await realtime.close()
            await resources.close()

    api = FastAPI(
        title="Team Talk",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # apidocs.py serves /api/docs without a CDN
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    api.state.resources = resources
    api.state.realtime = realtime
    api.state.sio = sio
    api.state.live = live
    _add_error_handlers(api)
    for router in API_ROUTERS:
        api.include_router(router, prefix="/api")
    api.include_router(health.router)
    api.include_router(metrics.router)
    add_api_docs(api)
    _add_web(api)

    guarded = BodyLimit(OriginGuard(RequestTimer(api), settings.allowed_origins))
    sio_app = socketio.ASGIApp(sio, other_asgi_app=guarded, socketio_path="socket.io")
    # Host and body deadline outside Socket.IO: its handshake and polling POSTs need them too.
    hosts = allowed_hosts(settings.allowed_origins, settings.allowed_hosts)
    checked = HostGuard(BodyTimeout(sio_app, settings.body_timeout_seconds), hosts)
    # Outermost, so that Socket.IO's polling answers get the headers too.
    asgi: Any = SecurityHeaders(checked)
    asgi.api = api  # for tests and tools that need the FastAPI app behind the wrapper
    return asgi


async def _heartbeats(realtime: Realtime, stop: asyncio.Event) -> None:
    backoff = Backoff(log, "socket registry heartbeat")
    while not stop.is_set():
        try:
            await realtime.heartbeat()
            backoff.succeeded()
            wait = SERVER_TTL / 3
        except Exception as exc:
            # Sooner than usual: once Redis is back, the registry is there again at once.
            wait = backoff.failed(exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)


def app_from_env() -> Any:
    """Factory for `uvicorn --factory` (used by `teamtalk serve --reload`)."""
    from teamtalk.logs import setup_logging

    settings = Settings()
    setup_logging(settings)
    return create_app(settings)


def _add_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(TeamTalkError)
    async def known(_: Request, exc: TeamTalkError) -> JSONResponse:
        return JSONResponse(exc.payload(), exc.status, headers=exc.headers)

    @api.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        body = error_payload("invalid", "The request is not valid.", field_errors(exc.errors()))
        return JSONResponse(body, 422)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == UNPARSED_BODY:
            # FastAPI's answer to a body that is not UTF-8 or holds an integer Python will
            # not parse (over 4,300 digits): malformed JSON, as any other.
            detail = [{"field": "body", "message": "not valid JSON", "type": "json_invalid"}]
            return JSONResponse(
                error_payload("invalid", "The body is not valid JSON.", detail), 422
            )
        codes = {404: "not_found", 405: "method_not_allowed"}
        code = codes.get(exc.status_code, f"http_{exc.status_code}")
        return JSONResponse(error_payload(code, str(exc.detail)), exc.status_code)

    async def dependency_failed(request: Request, exc: Exception) -> JSONResponse:
        # Answered here, in the app, rather than by the catch-all below: Starlette re-raises
        # what that one answers, and the server would log a traceback for every request of
        # an outage.
        known = dependency_error(exc)
        if known is None:
            return await unexpected(request, exc)
        log_outage(log, known, exc)
        return JSONResponse(known.payload(), known.status, headers=known.headers)

    for failure in dependency_failures():
        api.add_exception_handler(failure, dependency_failed)

    @api.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_payload("internal_error", "Something went wrong."), 500)


def _add_web(api: FastAPI) -> None:
    """Serve the built SPA: static assets, and index.html for every client-side route."""
    index = WEB_DIR / "index.html"
    if (WEB_DIR / "assets").is_dir():
        api.mount("/assets", StaticFiles(directory=WEB_DIR / "assets"), name="assets")

    @api.get("/{path:path}", include_in_schema=False, response_model=None)
    async def spa(path: str) -> FileResponse | JSONResponse:
        if path.startswith("api/") or path == "api":
            return JSONResponse(error_payload("not_found", "Not found."), 404)
        file = (WEB_DIR / path).resolve()
        if path and file.is_file() and WEB_DIR.resolve() in file.parents:
            return FileResponse(file)
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        body = error_payload("web_not_built", "The web UI is not built; run scripts/serve.")
        return JSONResponse(body, 404)
