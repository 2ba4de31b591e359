"""Login throttling: a stranger's guesses are slowed, the real user is not locked out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from teamtalk.cli import app
from teamtalk.models import Role, User
from teamtalk.services.login_throttle import DEVICE_COOKIE, device_cookie, trusted_device
from teamtalk.settings import Settings
from tests.conftest import PASSWORD, Backend, Harness, harness_with

WRONG = "not the password"
FREE = 2  # failures per account before the backoff starts, kept small for speed


@pytest.fixture
async def h(backend: Backend) -> AsyncIterator[Harness]:
    async with harness_with(
        backend,
        login_max_failures_per_account=FREE,
        login_max_failures_per_address=4,
        login_backoff_max_seconds=4,
    ) as harness:
        yield harness


async def attempt(
    h: Harness,
    email: str,
    password: str = WRONG,
    address: str = "10.6.6.6",
    device: str | None = None,
) -> httpx.Response:
    cookies = {DEVICE_COOKIE: device} if device else {}
    async with h.client(client=(address, 5000), cookies=cookies) as client:
        return await client.post("/api/auth/login", json={"email": email, "password": password})


async def device_of(h: Harness, user: User, address: str = "10.0.0.5") -> str:
    """The device cookie a successful sign-in gives this browser."""
    response = await attempt(h, user.email, PASSWORD, address)
    assert response.status_code == 200, response.text
    cookie = next(c for c in response.headers.get_list("set-cookie") if DEVICE_COOKIE in c)
    assert "HttpOnly" in cookie and "Path=/api/auth/login" in cookie
    assert user.email not in cookie
    return response.cookies[DEVICE_COOKIE]


async def start_backoff(h: Harness, email: str) -> None:
    """A stranger's free failures and the one that starts the backoff, each from a new
    address (the per-address limit never comes into it)."""
    for i in range(FREE + 1):
        assert (await attempt(h, email, address=f"10.6.0.{i}")).status_code == 401


def assert_throttled(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "too_many_attempts"
    retry_after = int(response.headers["retry-after"])
    assert retry_after == response.json()["error"]["details"]["retry_after"] >= 1
    return retry_after


async def lapse_wait(h: Harness, email: str) -> None:
    """As if the current wait had run out (without sleeping through it)."""
    await h.resources.redis.delete(h.resources.keys.login_gate_account(email))


async def test_a_strangers_guesses_do_not_lock_the_real_user_out(h: Harness) -> None:
    user = await h.user()
    device = await device_of(h, user)
    await start_backoff(h, user.email)
    for _ in range(3):  # the stranger keeps trying, and keeps being refused
        assert_throttled(await attempt(h, user.email))
    # The stranger cannot get in even with the right password: no guess is checked.
    assert_throttled(await attempt(h, user.email, PASSWORD))
    # The real user's browser signs in, from its own address or after a new DHCP lease.
    assert (await attempt(h, user.email, PASSWORD, "10.0.0.5", device)).status_code == 200
    assert (await attempt(h, user.email, PASSWORD, "10.0.0.77", device)).status_code == 200


async def test_the_stranger_waits_longer_after_each_guess(h: Harness) -> None:
    user = await h.user()
    await start_backoff(h, user.email)
    waits = []
    for i in range(4):
        waits.append(assert_throttled(await attempt(h, user.email, address=f"10.7.0.{i}")))
        await lapse_wait(h, user.email)
        assert (await attempt(h, user.email, address=f"10.8.0.{i}")).status_code == 401
    assert waits == [1, 2, 4, 4]  # doubling up to login_backoff_max_seconds


async def test_the_wait_runs_out_by_itself(h: Harness) -> None:
    user = await h.user()
    await start_backoff(h, user.email)
    assert assert_throttled(await attempt(h, user.email)) == 1
    await asyncio.sleep(1.2)
    assert (await attempt(h, user.email)).status_code == 401


async def test_concurrent_guesses_cannot_slip_under_the_limit(h: Harness) -> None:
    user = await h.user()
    burst = [attempt(h, user.email, address=f"10.9.0.{i}") for i in range(10)]
    codes = sorted(r.status_code for r in await asyncio.gather(*burst))
    # The free failures and the one that starts the backoff; every other one is refused.
    assert codes == [401] * (FREE + 1) + [429] * (10 - FREE - 1)


async def test_the_address_limit_holds_one_address_back(h: Harness) -> None:
    user = await h.user()
    device = await device_of(h, user, address="10.1.1.1")  # an office behind one NAT
    for i in range(4):
        email = f"nobody{i}@example.com"
        assert (await attempt(h, email, address="10.1.1.1")).status_code == 401
    assert_throttled(await attempt(h, user.email, PASSWORD, "10.1.1.1"))
    # Only that address, and not the browsers there that signed in before.
    assert (await attempt(h, user.email, PASSWORD, "10.1.1.2")).status_code == 200
    assert (await attempt(h, user.email, PASSWORD, "10.1.1.1", device)).status_code == 200


async def test_a_sign_in_from_a_known_browser_ends_the_backoff(h: Harness) -> None:
    user = await h.user()
    device = await device_of(h, user)
    await start_backoff(h, user.email)
    assert_throttled(await attempt(h, user.email, PASSWORD, "10.0.0.9"))  # a new browser
    assert (await attempt(h, user.email, PASSWORD, "10.0.0.5", device)).status_code == 200
    assert (await attempt(h, user.email, PASSWORD, "10.0.0.9")).status_code == 200


async def test_a_device_cookie_vouches_for_its_own_account_only(h: Harness) -> None:
    mine, other = await h.user(), await h.user()
    device = await device_of(h, mine)
    await start_backoff(h, other.email)
    assert_throttled(await attempt(h, other.email, PASSWORD, "10.0.0.5", device))
    forged = device[:-1] + ("1" if device[-1] != "1" else "2")
    await start_backoff(h, mine.email)
    assert_throttled(await attempt(h, mine.email, PASSWORD, "10.0.0.5", forged))


async def test_one_browser_keeps_cookies_for_several_accounts(h: Harness) -> None:
    first, second = await h.user(), await h.user()
    async with h.client(client=("10.0.0.5", 5000)) as desk:  # a shared desk
        for user in (first, second):
            body = {"email": user.email, "password": PASSWORD}
            assert (await desk.post("/api/auth/login", json=body)).status_code == 200
        device = desk.cookies[DEVICE_COOKIE]
    for user in (first, second):
        await start_backoff(h, user.email)
        assert (await attempt(h, user.email, PASSWORD, "10.0.0.5", device)).status_code == 200


async def test_a_device_cookie_used_to_guess_is_trusted_no_more(h: Harness) -> None:
    user = await h.user()
    device = await device_of(h, user)
    for _ in range(FREE):
        assert (await attempt(h, user.email, device=device)).status_code == 401
    await start_backoff(h, user.email)
    assert_throttled(await attempt(h, user.email, PASSWORD, device=device))


async def test_an_admin_unlock_ends_the_backoff(h: Harness) -> None:
    admin, user = await h.user(Role.ADMIN), await h.user()
    await start_backoff(h, user.email)
    assert_throttled(await attempt(h, user.email, PASSWORD))
    async with h.signed_in(admin) as client:
        assert (await client.post(f"/api/users/{user.id}/unlock")).status_code == 200
    assert (await attempt(h, user.email, PASSWORD)).status_code == 200


async def test_only_admins_unlock(h: Harness) -> None:
    agent, other = await h.user(), await h.user()
    async with h.signed_in(agent) as client:
        response = await client.post(f"/api/users/{other.id}/unlock")
    assert response.status_code == 403


async def test_the_unlock_command_ends_the_backoff(
    h: Harness, backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await h.user()
    await start_backoff(h, user.email)
    monkeypatch.setenv("DATABASE_URL", backend.database_url)
    monkeypatch.setenv("REDIS_URL", backend.redis_url)
    monkeypatch.setenv("TEAMTALK_REDIS_PREFIX", backend.prefix)
    monkeypatch.setenv("TEAMTALK_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no stray .env
    result = await asyncio.to_thread(CliRunner().invoke, app, ["users", "unlock", user.email])
    assert result.exit_code == 0, result.output
    assert (await attempt(h, user.email, PASSWORD)).status_code == 200


async def test_unknown_and_real_emails_are_throttled_alike(h: Harness) -> None:
    user = await h.user()

    async def answers(email: str, prefix: str) -> list[tuple[int, object, str | None]]:
        seen = []
        for i in range(FREE + 3):
            response = await attempt(h, email, address=f"{prefix}.{i}")
            seen.append(
                (response.status_code, response.json(), response.headers.get("retry-after"))
            )
            assert "set-cookie" not in response.headers
        return seen

    real = await answers(user.email, "10.2.0")
    unknown = await answers("nobody-at-all@example.com", "10.3.0")
    assert real == unknown
    assert [code for code, _, _ in real] == [401] * (FREE + 1) + [429, 429]


def test_a_device_cookie_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.model_validate({"secret_key": "test-secret", "login_device_days": 1})
    email = "a@example.com"
    long_ago = time.time() - 86400 - 60
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: long_ago)
        old = device_cookie(settings, email, None)
    assert trusted_device(settings, email, old) is None
    fresh = device_cookie(settings, email, old)
    assert trusted_device(settings, email, fresh) is not None
    assert old not in fresh  # dropped, not carried along
