"""The History follows the team's conversations live, for admins and team leaders: a
request made, then withdrawn, in another client shows in the table without a reload."""

from __future__ import annotations

from playwright.async_api import Locator, Page, expect

from teamtalk.models import Role
from tests.browser.conftest import Browsing, heading
from tests.clients import request
from tests.conftest import Harness


def row(page: Page, conversation_id: int) -> Locator:
    table = page.get_by_role("table", name="Conversations")
    return table.get_by_role("row").filter(
        has=page.get_by_role("link", name=f"#{conversation_id}", exact=True)
    )


async def test_history_rows_follow_changes_made_elsewhere(
    harness: Harness, browsing: Browsing
) -> None:
    admin = await harness.user(Role.ADMIN)
    lead = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT, display_name="Ada Agent")
    pages = [await browsing.sign_in(user) for user in (admin, lead)]
    for page in pages:
        await page.goto("/history")
        await heading(page, "History")
        await expect(page.get_by_text("No conversations match these filters.")).to_be_visible()

    created = (await request(harness, agent, "Refund please"))["conversation"]["id"]
    for page in pages:
        await expect(row(page, created)).to_contain_text("Waiting")
        await expect(row(page, created)).to_contain_text("Ada Agent")

    async with harness.signed_in(agent) as client:
        response = await client.post(f"/api/conversations/{created}/withdraw")
    assert response.status_code == 200, response.text
    for page in pages:
        await expect(row(page, created)).to_contain_text("Withdrawn")
