"""An agent's waiting request shows where it stands, live: its place moves up as the
requests ahead are withdrawn or assigned, with the expected wait, or that no team leader is
online, and no reload."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from teamtalk.models import Presence, Role
from teamtalk.services import presence
from teamtalk.worker import Worker
from tests.browser.conftest import SIZES, Browsing, screenshot
from tests.clients import request
from tests.conftest import Harness

NOBODY = "No team leader is online right now — your request stays in the queue."


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
async def test_the_place_in_the_queue_moves_up_live(
    harness: Harness, browsing: Browsing, worker: Worker, size: tuple[int, int]
) -> None:
    first, second, me = [await harness.user(Role.AGENT) for _ in range(3)]
    lead = await harness.user(Role.TEAMLEADER, capacity=1)
    ahead = [(await request(harness, agent))["conversation"]["id"] for agent in (first, second)]
    mine = (await request(harness, me, "Refund stuck"))["conversation"]["id"]

    page = await browsing.sign_in(me, viewport=size)
    await page.goto(f"/inbox/{mine}")
    standing = page.locator(".queue-standing")
    await expect(standing).to_contain_text("You are number 3 in the queue")
    await expect(standing).to_contain_text(NOBODY)
    await expect(standing).not_to_contain_text("expected wait")
    name = f"queue-position-{size[0]}x{size[1]}"
    await screenshot(page, f"{name}-3-nobody-online")

    # The first one ahead is withdrawn.
    async with harness.signed_in(first) as client:
        response = await client.post(f"/api/conversations/{ahead[0]}/withdraw")
    assert response.status_code == 200, response.text
    await expect(standing).to_contain_text("You are number 2 in the queue")
    await expect(standing).to_contain_text(NOBODY)

    # A leader comes online and the worker gives them the next one ahead (their only
    # slot): one assignment in the last 15 minutes, so about 15 minutes a place.
    res = harness.resources
    async with res.sessions() as db:
        await presence.set_status(db, res, harness.fastapi.state.realtime, lead.id, Presence.ONLINE)
    await expect(standing).to_contain_text(
        "You are number 1 in the queue · expected wait about 15 min"
    )
    await expect(standing).not_to_contain_text(NOBODY)
    await screenshot(page, f"{name}-1-expected-wait")

    # A reload shows the same, from the request's detail.
    await page.reload()
    await expect(standing).to_contain_text(
        "You are number 1 in the queue · expected wait about 15 min"
    )
