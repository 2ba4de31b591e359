"""A leader across a server restart: `teamtalk serve` stopped and started again under their
open workspace. Back inside the grace period, they are online with the same basket; back
after a longer outage, they are offline, told when and why, and can go online again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from teamtalk.models import Conversation, Presence, Role, User
from tests.browser.conftest import SIZES, Browsing, at, heading, screenshot, size_name
from tests.browser.test_routing_flow import basket, set_status, status_radio
from tests.clients import request
from tests.conftest import Backend, Harness, LiveServer, harness_with
from tests.test_cluster import environment, ready
from tests.test_serve import free_port

GRACE = 15.0  # seconds: room for a stop, a start and the browser's reconnect backoff
RECONNECTED_MS = 20_000


# A process that has imported Team Talk and waits for a line on stdin to run `teamtalk
# serve`: on a busy machine the imports alone take many seconds, and a restart should not.
WARM = (
    "import sys; import teamtalk.app; from teamtalk.cli import main; sys.stdin.readline(); "
    "sys.argv = ['teamtalk', *sys.argv[1:]]; main()"
)


class Serve:
    """`teamtalk serve` (with its worker) on the test's database and Redis, on one port,
    with the next process already waiting (imported) to take over."""

    def __init__(self, backend: Backend) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = environment(backend) | {"TEAMTALK_PRESENCE_GRACE_SECONDS": str(GRACE)}
        self.cwd = backend.data_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.spare: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        if self.spare is None:
            self.spare = self.warm()
        self.proc, self.spare = self.spare, self.warm()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.close()

    def warm(self) -> subprocess.Popen[bytes]:
        serve = ["serve", "--no-demo", "--port", str(self.port)]
        return subprocess.Popen(
            [sys.executable, "-c", WARM, *serve], cwd=self.cwd, env=self.env, stdin=subprocess.PIPE
        )

    async def start(self) -> None:
        self.launch()
        await ready(self.url)

    def end(self) -> None:
        """As a service manager stops it: SIGTERM, then a clean shutdown."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def close(self) -> None:
        self.end()
        if self.spare is not None:
            self.spare.kill()
            self.spare.wait()
            if self.spare.stdin is not None:
                self.spare.stdin.close()
            self.spare = None

    async def stop(self) -> None:
        await asyncio.to_thread(self.end)


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    async with harness_with(backend, presence_grace_seconds=GRACE) as h:
        yield h


@pytest.fixture
async def served(harness: Harness, browser: Browser) -> AsyncIterator[tuple[Serve, Browsing]]:
    server = Serve(harness.backend)
    # Browsing reads only the URL of the server it is given.
    session = Browsing(LiveServer(harness, server.url, None), browser)  # type: ignore[arg-type]
    try:
        await server.start()
        yield server, session
    finally:
        await session.close()
        await asyncio.to_thread(server.close)
    assert session.violations == [], session.violations


async def state_of(harness: Harness, lead: User, conversation_id: int) -> tuple[str, str]:
    async with harness.resources.sessions() as db:
        leader = await db.get_one(User, lead.id)
        conversation = await db.get_one(Conversation, conversation_id)
        return leader.presence, conversation.status


async def leader_with_a_conversation(
    harness: Harness, browsing: Browsing, size: tuple[int, int]
) -> tuple[User, Page, int]:
    lead = await harness.user(Role.TEAMLEADER, display_name="Lena Leader")
    agent = await harness.user(Role.AGENT, display_name="Ada Agent")
    page = await browsing.sign_in(lead, viewport=size)
    await expect(page).to_have_url(at("/workspace"))
    await heading(page, "Workspace")
    await expect(status_radio(page, "Offline")).to_be_enabled()
    await set_status(page, "Online")
    held = (await request(harness, agent, "Customer charged twice"))["conversation"]["id"]
    await expect(basket(page)).to_contain_text(f"Conversation #{held}")
    await expect(basket(page)).to_contain_text("1 of 4")
    return lead, page, held


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
async def test_a_restart_inside_the_grace_keeps_the_leader_then_a_long_one_says_why(
    harness: Harness, served: tuple[Serve, Browsing], size: tuple[int, int]
) -> None:
    server, browsing = served
    lead, page, held = await leader_with_a_conversation(harness, browsing, size)
    offline_notice = page.get_by_role("status").filter(has_text="You were set offline")

    # A quick restart: back well inside the grace period.
    stopped = time.monotonic()
    await server.stop()
    await expect(page.get_by_text("Reconnecting…")).to_be_visible()
    await server.start()
    await expect(page.get_by_text("Reconnecting…")).to_be_hidden(timeout=RECONNECTED_MS)
    assert time.monotonic() - stopped < GRACE, "the restart took longer than the grace period"
    await expect(status_radio(page, "Online")).to_be_checked()
    await expect(basket(page)).to_contain_text(f"Conversation #{held}")
    await expect(basket(page)).to_contain_text("1 of 4")
    await expect(offline_notice).to_have_count(0)
    await asyncio.sleep(GRACE - (time.monotonic() - stopped) + 1)  # past the old deadline
    assert await state_of(harness, lead, held) == (Presence.ONLINE, "assigned")
    await screenshot(page, f"presence-restart-inside-grace-{size_name(size)}")

    # A long outage: the grace period ends while no server runs.
    await server.stop()
    await expect(page.get_by_text("Reconnecting…")).to_be_visible()
    await asyncio.sleep(GRACE + 1)
    await server.start()
    await expect(offline_notice).to_be_visible(timeout=RECONNECTED_MS)
    await expect(offline_notice).to_contain_text(
        f"because you were disconnected longer than the {GRACE:g} s grace period "
        "(the server restarted). Your conversations went back to the queue."
    )
    await expect(status_radio(page, "Offline")).to_be_checked()
    await expect(basket(page)).not_to_contain_text(f"Conversation #{held}")
    assert await state_of(harness, lead, held) == (Presence.OFFLINE, "queued")
    await screenshot(page, f"presence-restart-after-grace-{size_name(size)}")

    # Back online from the notice: it goes, and the waiting conversation comes back.
    await offline_notice.get_by_role("button", name="Go online").click()
    await expect(offline_notice).to_have_count(0)
    await expect(status_radio(page, "Online")).to_be_checked()
    await expect(basket(page)).to_contain_text(f"Conversation #{held}")
    assert await state_of(harness, lead, held) == (Presence.ONLINE, "assigned")
