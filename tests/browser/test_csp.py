"""The app and the API docs run in Chromium under the Content-Security-Policy, which refuses
inline script and style and any framing. (The `browsing` fixture fails every browser test
on a violation; the tests that cause one on purpose expect it first.)"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Request, expect

from teamtalk.headers import CONTENT_SECURITY_POLICY
from teamtalk.models import Role
from teamtalk.worker import Worker
from tests.browser.conftest import Browsing, heading
from tests.browser.test_chat_flow import message, routed, write
from tests.conftest import Harness


@asynccontextmanager
async def framing_page(html: str) -> AsyncIterator[str]:
    """A page on another port of the same host (same site: the session cookie goes along)."""
    body = html.encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n"

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    finally:
        server.close()  # not wait_closed: the browser may keep an idle connection open


async def test_chat_runs_under_the_policy(
    harness: Harness, browsing: Browsing, worker: Worker
) -> None:
    leader, agent, _ = await routed(browsing, harness, "Printer on fire")
    await write(leader, "On my way")
    await expect(message(agent, "On my way")).to_be_visible()
    await write(agent, "Thanks")
    await expect(message(leader, "Thanks")).to_be_visible()

    response = await agent.reload()
    assert response is not None
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    await expect(message(agent, "On my way")).to_be_visible()
    assert browsing.violations == []


async def test_inline_script_and_style_are_refused(harness: Harness, browsing: Browsing) -> None:
    page = await browsing.sign_in(await harness.user(Role.AGENT))
    await heading(page, "Inbox")
    await page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.injected = true";
          document.head.append(script);
        }"""
    )
    assert await page.evaluate("window.injected") is None
    await browsing.expect_violation("script-src")

    await page.evaluate("document.querySelector('h1').setAttribute('style', 'color: red')")
    await browsing.expect_violation("style-src")
    await expect(page.locator("h1")).not_to_have_css("color", "rgb(255, 0, 0)")


async def test_another_origin_cannot_frame_the_inbox(harness: Harness, browsing: Browsing) -> None:
    page = await browsing.sign_in(await harness.user(Role.AGENT))
    await heading(page, "Inbox")
    body = f'<iframe src="{browsing.live.url}/inbox" width="800" height="600"></iframe>'
    async with framing_page(body) as framer:
        await page.goto(framer)
        await browsing.expect_violation("frame-ancestors", in_page=False)
    frame = page.frame_locator("iframe")
    await expect(frame.get_by_role("heading", name="Inbox")).to_have_count(0)


async def test_api_docs_render_from_our_origin(harness: Harness, browsing: Browsing) -> None:
    page = await browsing.page()
    requests: list[str] = []

    def record(request: Request) -> None:
        requests.append(request.url)

    page.on("request", record)
    response = await page.goto("/api/docs")
    assert response is not None
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    await expect(page.get_by_role("heading", name=re.compile(r"^Team Talk"))).to_be_visible()
    login = page.locator(".opblock").filter(has_text="/api/auth/login")
    await login.locator(".opblock-summary").click()
    responses = login.locator(".responses-table")
    await expect(responses.get_by_text("Too many requests", exact=False)).to_be_visible()
    await expect(responses.locator(".response[data-code='422']")).to_be_visible()
    assert requests and all(url.startswith(browsing.live.url + "/") for url in requests), requests
