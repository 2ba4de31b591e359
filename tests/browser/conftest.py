"""Browser fixtures: one headless Chromium per session, a fresh context per user.

Debian's Chromium is driven by Playwright (`playwright install` cannot download a browser
here); set TEAMTALK_CHROMIUM to use another binary.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    WebSocket,
    async_playwright,
    expect,
)

from teamtalk.models import User
from tests.conftest import PASSWORD, LiveServer

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 5_000
# Every page reports Content-Security-Policy violations to the test: the DOM event, and
# Chromium's console line (which also covers refusals no page script sees, like framing).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation(`${e.effectiveDirective} refused ${e.blockedURI || "inline"}`);
});
"""

expect.set_options(timeout=TIMEOUT_MS)


def at(path: str) -> re.Pattern[str]:
    """A page URL whose path is `path`, for `expect(page).to_have_url`."""
    return re.compile(rf"^[^?#]*{re.escape(path)}$")


async def heading(page: Page, name: str) -> None:
    await expect(page.get_by_role("heading", level=1, name=name, exact=True)).to_be_visible()


async def fill_login(page: Page, email: str, password: str) -> None:
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


class SocketWatch:
    """Counts a page's Socket.IO connections that the server accepted, and that closed.

    Listeners are attached while Playwright dispatches the page's `websocket` event, so no
    frame can arrive before them.
    """

    def __init__(self, page: Page) -> None:
        self.accepted = 0
        self.closed = 0
        self._changed = asyncio.Event()
        page.on("websocket", self._opened)

    def _opened(self, ws: WebSocket) -> None:
        if "/socket.io/" in ws.url:
            ws.on("framereceived", self._frame)
            ws.on("close", self._close)

    def _frame(self, payload: str | bytes) -> None:
        # `40{"sid": ...}` is the answer to a CONNECT accepted on the default namespace.
        if isinstance(payload, str) and payload.startswith("40"):
            self.accepted += 1
            self._changed.set()

    def _close(self, _: WebSocket) -> None:
        self.closed += 1
        self._changed.set()

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT_MS / 1000):
            while not done():
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=os.environ.get("TEAMTALK_CHROMIUM", "/usr/bin/chromium"),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        yield chromium
        await chromium.close()


@dataclass
class Browsing:
    """Opens pages on the live server, each in its own context (its own cookies)."""

    live: LiveServer
    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)
    violations: list[tuple[str, str]] = field(default_factory=list)  # (source, text)
    _reported: asyncio.Event = field(default_factory=asyncio.Event)

    async def page(self, viewport: tuple[int, int] | None = None) -> Page:
        size = {"width": viewport[0], "height": viewport[1]} if viewport else None
        context = await self.browser.new_context(base_url=self.live.url, viewport=size)
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        await context.expose_function("__cspViolation", lambda text: self._violation("page", text))
        await context.add_init_script(REPORT_VIOLATIONS)
        context.on("console", self._console)
        return await context.new_page()

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self._violation("console", message.text)

    def _violation(self, source: str, text: str) -> None:
        self.violations.append((source, text))
        self._reported.set()

    async def expect_violation(self, directive: str, *, in_page: bool = True) -> None:
        """For a test that causes a violation on purpose: waits for Chromium's report of it
        and the page's event (none for framing: no script of the page sees that), then drops
        the reports naming `directive`; any other still fails the test."""
        wanted = {"console", "page"} if in_page else {"console"}
        async with asyncio.timeout(TIMEOUT_MS / 1000):
            while not wanted <= {source for source, text in self.violations if directive in text}:
                self._reported.clear()
                await self._reported.wait()
        self.violations[:] = [(s, t) for s, t in self.violations if directive not in t]

    async def sign_in(
        self, user: User, password: str = PASSWORD, viewport: tuple[int, int] | None = None
    ) -> Page:
        """A new context signed in as `user` through the login form, on their home page."""
        page = await self.page(viewport)
        await page.goto("/login")
        await fill_login(page, user.email, password)
        await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


SCREENSHOTS = Path(os.environ.get("TEAMTALK_SCREENSHOTS", "test-results/screenshots"))


# The screens a support floor works on: a laptop and a tablet held upright.
SIZES = {"laptop": (1280, 800), "tablet": (768, 1024)}


def size_name(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


async def screenshot(page: Page, name: str) -> None:
    """Kept for people to look at (test-results/ is not committed)."""
    await page.screenshot(path=SCREENSHOTS / f"{name}.png")  # makes the folder


@pytest.fixture
async def browsing(live: LiveServer, browser: Browser) -> AsyncIterator[Browsing]:
    session = Browsing(live, browser)
    yield session
    # Before the live server stops, so that no socket is left open against it.
    await session.close()
    # Every browser test also proves that the app runs under its CSP.
    assert session.violations == [], session.violations
