"""One error shape everywhere; cross-site and oversized requests refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from teamtalk.models import Role
from tests.conftest import PASSWORD, Backend, Harness


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


async def test_not_found(harness: Harness) -> None:
    async with harness.signed_in(await harness.user(Role.ADMIN)) as client:
        assert_error(await client.get("/api/nothing-here"), 404, "not_found")
        assert_error(await client.get("/api/users/424242"), 404, "user_not_found")
        assert_error(await client.delete("/api/me"), 405, "method_not_allowed")


async def test_validation_errors_name_the_fields(harness: Harness) -> None:
    async with harness.signed_in(await harness.user(Role.ADMIN)) as client:
        response = await client.post(
            "/api/users",
            json={
                "email": "not-an-email",
                "display_name": "",
                "role": "boss",
                "password": "short",
                "x": 1,
            },
        )
        error = assert_error(response, 422, "invalid")
        fields = {d["field"] for d in error["details"]}
        assert fields == {"email", "display_name", "role", "password", "x"}
        not_json = await client.post(
            "/api/topics", content=b"{oops", headers={"content-type": "application/json"}
        )
        assert_error(not_json, 422, "invalid")


async def test_oversized_bodies_are_refused(harness: Harness) -> None:
    big = "x" * (300 * 1024)
    async with harness.signed_in(await harness.user(Role.ADMIN)) as client:
        assert_error(await client.post("/api/topics", json={"name": big}), 413, "payload_too_large")

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(40):
                yield b"x" * 10_000

        streamed = await client.post(
            "/api/topics", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_error(streamed, 413, "payload_too_large")
        # Field limits are checked too, with a field-level answer.
        long_name = await client.post("/api/topics", json={"name": "x" * 81})
        assert_error(long_name, 422, "invalid")
        assert (await client.get("/api/topics")).json()["topics"] == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "", "Referer": "https://evil.example/page"},
    ],
)
async def test_cross_site_state_changes_are_refused(
    harness: Harness, headers: dict[str, str]
) -> None:
    admin = await harness.user(Role.ADMIN)
    async with harness.signed_in(admin) as client:
        response = await client.post("/api/topics", json={"name": "Evil"}, headers=headers)
        assert_error(response, 403, "origin_not_allowed")
        assert (await client.get("/api/topics")).json()["topics"] == []
        # Reads stay possible (they change nothing; CORS keeps their answers from other sites).
        assert (await client.get("/api/me", headers=headers)).status_code == 200


async def test_cookie_request_without_origin_or_referer_is_refused(harness: Harness) -> None:
    async with harness.signed_in(await harness.user(Role.ADMIN)) as client:
        del client.headers["Origin"]
        assert_error(
            await client.post("/api/topics", json={"name": "X"}), 403, "origin_not_allowed"
        )


async def test_login_from_a_foreign_origin_is_refused(harness: Harness) -> None:
    user = await harness.user()
    async with harness.client(headers={"Origin": "https://evil.example"}) as client:
        response = await client.post(
            "/api/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        assert_error(response, 403, "origin_not_allowed")


async def test_configured_origins_are_allowed(backend: Backend) -> None:
    from teamtalk.app import create_app

    settings = backend.settings(allowed_origins=["https://support.example.com"])
    harness = Harness(backend, settings, create_app(settings))
    user = await harness.user(Role.ADMIN)
    async with harness.signed_in(user) as client:
        ok = await client.post(
            "/api/topics", json={"name": "Ok"}, headers={"Origin": "https://support.example.com"}
        )
        assert ok.status_code == 201
    await harness.close()


async def test_unexpected_errors_are_logged_and_hidden(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom() -> None:
        raise RuntimeError("secret detail")

    harness.fastapi.add_api_route("/api/boom", boom, methods=["POST"])
    # Starlette re-raises after answering, for the server to log; read the answer as a browser.
    transport = httpx.ASGITransport(app=harness.asgi, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=harness.base_url) as client:
        response = await client.post("/api/boom", headers={"Origin": harness.base_url})
    error = assert_error(response, 500, "internal_error")
    assert "secret" not in str(error)
    assert any("secret detail" in (r.exc_text or "") or r.exc_info for r in caplog.records)
