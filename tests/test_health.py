"""Liveness and readiness."""

from __future__ import annotations

import socket

from teamtalk.app import create_app
from tests.conftest import Backend, Harness


async def test_healthz_and_readyz(harness: Harness) -> None:
    async with harness.client() as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


async def test_readyz_names_what_is_down(backend: Backend) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    settings = backend.settings(redis_url=dead)
    harness = Harness(backend, settings, create_app(settings))
    async with harness.client() as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
    await harness.close()
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error: ")


async def test_openapi_is_published(harness: Harness) -> None:
    async with harness.client() as client:
        spec = (await client.get("/api/openapi.json")).json()
        docs = await client.get("/api/docs")
    assert "/api/auth/login" in spec["paths"]
    assert docs.status_code == 200
