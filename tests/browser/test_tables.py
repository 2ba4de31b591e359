"""No table clips, on a 1280x800 screen or a 768x1024 tablet: every cell, and every link,
button and field in one, is inside the window, or inside a box of its own that scrolls
sideways and is itself inside the window. Measured from the boxes the browser laid out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page, expect

from teamtalk.models import Role, Status
from tests.browser.conftest import Browsing, heading, screenshot
from tests.browser.test_reports_page import WEEK, make_week
from tests.conftest import Backend, Harness, harness_with
from tests.history_factories import make_conversation, make_topic

SIZES = [(1280, 800), (768, 1024)]

# Each problem as text: which table, which element, and where it lies against what.
UNREACHABLE = """
() => {
  const width = document.documentElement.clientWidth;
  const problems = [];
  const name = (el) => `${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 30)}"`;
  const outside = (r, left, right) => r.left < left - 0.5 || r.right > right + 0.5;
  for (const table of document.querySelectorAll("main table")) {
    if (table.getClientRects().length === 0) continue;  // not shown
    const label = table.getAttribute("aria-label") || "table";
    for (const el of table.querySelectorAll("th, td, a, button, input, select")) {
      const r = el.getBoundingClientRect();
      if (r.width <= 1 || r.height <= 1) continue;  // visually hidden
      let scroller = null;
      for (let up = el.parentElement; up && !scroller; up = up.parentElement) {
        const overflow = getComputedStyle(up).overflowX;
        if (overflow === "auto" || overflow === "scroll") scroller = up;
        else if (overflow !== "visible") {
          const box = up.getBoundingClientRect();
          if (outside(r, box.left, box.right)) problems.push(`${label}: ${name(el)} cut off`);
        }
      }
      if (scroller === null) {
        if (outside(r, 0, width)) problems.push(`${label}: ${name(el)} outside the window`);
        continue;
      }
      const box = scroller.getBoundingClientRect();
      if (outside(box, 0, width)) problems.push(`${label}: its scroll box outside the window`);
      const left = r.left - box.left + scroller.scrollLeft - scroller.clientLeft;
      if (left < -0.5 || left + r.width > scroller.scrollWidth + 0.5) {
        problems.push(`${label}: ${name(el)} beyond its scroll box`);
      }
    }
  }
  if (document.documentElement.scrollWidth > width + 0.5) problems.push("page scrolls sideways");
  return problems;
}
"""

# A box that scrolls sideways, scrolled to its end: the first cell of each row still shows.
STICKY = """
() => {
  const problems = [];
  for (const box of document.querySelectorAll("main .table-wrap")) {
    if (box.scrollWidth <= box.clientWidth) continue;
    box.scrollLeft = box.scrollWidth;
    const left = box.getBoundingClientRect().left;
    for (const row of box.querySelectorAll("tr")) {
      const first = row.firstElementChild.getBoundingClientRect();
      if (first.left < left - 0.5) problems.push(`${row.textContent.slice(0, 30)} scrolled away`);
    }
    box.scrollLeft = 0;
  }
  return problems;
}
"""

# Tables that fit their box at this width, with no scrolling at all.
FITS = {
    (1280, 800): ["Conversations", "Users", "Topics"],
    (768, 1024): ["Users", "Topics"],
}

LONG = "Wolfgang Amadeus Fitzgerald-Montgomery"


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    async with harness_with(backend, reads_burst=100_000) as h:
        yield h


async def seed(harness: Harness) -> Any:
    """The reports' week, plus long names, topics and messages everywhere."""
    week = await make_week(harness)
    agent = await harness.user(Role.AGENT, display_name=f"{LONG} the Agent")
    leader = await harness.user(Role.TEAMLEADER, display_name=f"{LONG} the Leader")
    for n in range(3):
        await harness.user(Role.AGENT, display_name=f"{LONG} {n}")
    topic = await make_topic(harness, "Refunds for international wire transfers and chargebacks")
    body = "The customer says the invoice was charged twice " * 6
    for status in (Status.ASSIGNED, Status.SOLVED, Status.PENDING):
        await make_conversation(
            harness, agent, [(agent, body)], status=status, topic_id=topic, leaders=[leader]
        )
    return week


async def assert_reachable(page: Page, where: str, size: tuple[int, int]) -> None:
    await expect(page.locator("main table:visible").first).to_be_visible()
    problems = await page.evaluate(UNREACHABLE) + await page.evaluate(STICKY)
    for label in FITS[size]:
        wrap = page.locator(f'main .table-wrap:has(> table[aria-label="{label}"])')
        if await wrap.count():
            scroll, room = await wrap.evaluate("(box) => [box.scrollWidth, box.clientWidth]")
            if scroll > room:
                problems.append(f"{label}: {scroll} px wide in a {room} px box")
    assert problems == [], f"{where}: {problems}"


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_no_table_clips(harness: Harness, browsing: Browsing, size: tuple[int, int]) -> None:
    week = await seed(harness)
    tag = f"{size[0]}x{size[1]}"
    admin = await browsing.sign_in(week.admin, viewport=size)
    pages = [
        ("/history", "History"),
        ("/admin/users", "Users"),
        ("/admin/topics", "Topics"),
        (f"/reports?{WEEK}", "Reports"),
    ]
    for path, title in pages:
        await admin.goto(path)
        await heading(admin, title)
        await assert_reachable(admin, f"{path} at {tag}", size)
        await screenshot(admin, f"tables-{title.lower()}-{tag}")
    leader = await browsing.sign_in(week.lena, viewport=size)
    await leader.goto("/history")
    await heading(leader, "History")
    await assert_reachable(leader, f"leader's /history at {tag}", size)
