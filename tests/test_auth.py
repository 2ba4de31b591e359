"""Sign-in sessions: login, logout, expiry, rotation, throttling."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from teamtalk.models import Role, Session, utcnow
from teamtalk.services.auth import COOKIE_NAME, hash_token
from tests.conftest import PASSWORD, Harness


async def test_login_sets_http_only_cookie_and_me_returns_the_user(harness: Harness) -> None:
    user = await harness.user(Role.TEAMLEADER, email="Lead@Example.com")
    async with harness.client() as client:
        response = await client.post(
            "/api/auth/login", json={"email": " lead@EXAMPLE.com ", "password": PASSWORD}
        )
        assert response.status_code == 200
        assert response.json()["user"]["id"] == user.id
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        me = await client.get("/api/me")
        assert me.status_code == 200
        assert me.json()["user"] == {**response.json()["user"], "email": "lead@example.com"}
        assert "password" not in str(me.json())


async def test_wrong_password_and_unknown_email_are_answered_alike(harness: Harness) -> None:
    user = await harness.user()
    async with harness.client() as client:
        wrong = await client.post(
            "/api/auth/login", json={"email": user.email, "password": "nope-nope"}
        )
        unknown = await client.post(
            "/api/auth/login", json={"email": "nobody@example.com", "password": "nope-nope"}
        )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers


async def test_deactivated_account_is_answered_like_a_wrong_password(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user()
    async with harness.signed_in(admin) as client:
        assert (await client.post(f"/api/users/{agent.id}/deactivate")).status_code == 200
    async with harness.client() as client:
        response = await client.post(
            "/api/auth/login", json={"email": agent.email, "password": PASSWORD}
        )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


async def test_failures_per_account_slow_down_browsers_it_never_signed_in_from(
    harness: Harness,
) -> None:
    user = await harness.user()
    limit = harness.settings.login_max_failures_per_account
    async with harness.client() as client:
        # The free failures, then one more that starts the backoff
        # (tests/security/test_login_throttle.py shows it growing, and the real user's
        # own browser unaffected).
        for _ in range(limit + 1):
            bad = await client.post(
                "/api/auth/login", json={"email": user.email, "password": "x" * 9}
            )
            assert bad.status_code == 401
        # Throttled now, even with the right password; from another address too.
        right = {"email": user.email, "password": PASSWORD}
        response = await client.post("/api/auth/login", json=right)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_attempts"
    assert int(response.headers["retry-after"]) > 0
    async with harness.client(client=("10.9.9.9", 1)) as elsewhere:
        assert (await elsewhere.post("/api/auth/login", json=right)).status_code == 429


async def test_failures_per_address_are_throttled(harness: Harness) -> None:
    limit = harness.settings.login_max_failures_per_address
    user = await harness.user()
    async with harness.client(client=("10.1.2.3", 1)) as client:
        for i in range(limit):
            email = f"nobody{i}@example.com"
            response = await client.post(
                "/api/auth/login", json={"email": email, "password": "x" * 9}
            )
            assert response.status_code == 401
        right = {"email": user.email, "password": PASSWORD}
        assert (await client.post("/api/auth/login", json=right)).status_code == 429
    async with harness.client(client=("10.1.2.4", 1)) as other:
        assert (await other.post("/api/auth/login", json=right)).status_code == 200


async def test_logout_ends_the_session(harness: Harness) -> None:
    user = await harness.user()
    async with harness.signed_in(user) as client:
        token = client.cookies[COOKIE_NAME]
        assert (await client.post("/api/auth/logout")).status_code == 204
        assert (await client.get("/api/me")).status_code == 401
    async with harness.client(cookies={COOKIE_NAME: token}) as replay:
        assert (await replay.get("/api/me")).status_code == 401
    async with harness.resources.sessions() as db:
        assert await db.scalar(select(Session).where(Session.user_id == user.id)) is None


async def test_login_rotates_the_token(harness: Harness) -> None:
    user = await harness.user()
    async with harness.signed_in(user) as client:
        first = client.cookies[COOKIE_NAME]
        again = await client.post(
            "/api/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        assert again.status_code == 200
        second = client.cookies[COOKIE_NAME]
        assert second != first
        assert (await client.get("/api/me")).status_code == 200
    async with harness.client(cookies={COOKIE_NAME: first}) as old:
        assert (await old.get("/api/me")).status_code == 401


async def test_idle_session_expires(harness: Harness) -> None:
    user = await harness.user()
    async with harness.signed_in(user) as client:
        idle = timedelta(minutes=harness.settings.session_idle_minutes)
        await _age_session(
            harness, client.cookies[COOKIE_NAME], last_seen=utcnow() - idle + timedelta(minutes=1)
        )
        assert (await client.get("/api/me")).status_code == 200  # still inside the window; touched
        await _age_session(harness, client.cookies[COOKIE_NAME], last_seen=utcnow() - idle)
        response = await client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


async def test_absolute_lifetime_ends_even_an_active_session(harness: Harness) -> None:
    user = await harness.user()
    async with harness.signed_in(user) as client:
        await _age_session(
            harness, client.cookies[COOKIE_NAME], expires=utcnow() - timedelta(seconds=1)
        )
        assert (await client.get("/api/me")).status_code == 401


async def test_the_token_is_stored_only_hashed(harness: Harness) -> None:
    user = await harness.user()
    async with harness.signed_in(user) as client:
        token = client.cookies[COOKIE_NAME]
    async with harness.resources.sessions() as db:
        stored = (await db.scalars(select(Session.token_hash))).all()
    assert stored == [hash_token(token, harness.resources.settings.resolved_secret_key())]
    assert token not in stored


async def _age_session(harness: Harness, token: str, **changes: object) -> None:
    values = {"last_seen_at" if k == "last_seen" else "expires_at": v for k, v in changes.items()}
    async with harness.resources.sessions() as db:
        await db.execute(
            update(Session)
            .where(
                Session.token_hash
                == hash_token(token, harness.resources.settings.resolved_secret_key())
            )
            .values(values)
        )
        await db.commit()
