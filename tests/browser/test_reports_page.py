"""The reports page (admins): the charts and tables of a hand-built week, their table views
equal to the API's figures, the drill-down from a heat-map cell, a day's bar and a leader
row into the History; the range and filters in the URL; refusals in words; other roles
sent away.

The week, Monday 24 to Sunday 30 March 2025, seen from Europe/Paris (UTC+1, then UTC+2
from 02:00 on the 30th); times are Paris time:

  C1  Mon 24 09:10  Billing  assigned Lena 09:10:30, Lena writes 09:11:30, solved 09:20
  C2  Mon 24 09:40  Billing  assigned Tom 09:42, pending 10:00
  C3  Mon 24 10:05  -        assigned Lena 10:06, Lena writes 10:12, solved 10:30
  C4  Tue 25 09:20  -        withdrawn 09:25
  C5  Sun 30 09:15  Billing  assigned Tom 09:20, transferred to Lena 09:30, solved 09:50
  C6  Mon 31 09:10  Billing  (after the week)
  C7  Sun 23 23:30  Billing  (before the week)
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Locator, Page, expect

from teamtalk.models import Role, User
from tests.browser.conftest import Browsing, at, heading, screenshot
from tests.conftest import Backend, Harness, harness_with
from tests.history_factories import make_topic
from tests.report_factories import Ev, make_history

TZ = "Europe/Paris"
PARIS = ZoneInfo(TZ)
WEEK = f"from=2025-03-24&to=2025-03-30&tz={TZ.replace('/', '%2F')}"


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    # Each report is a costly read; the page and the checks here read many.
    async with harness_with(backend, reads_burst=100_000) as h:
        yield h


def paris(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, second, tzinfo=PARIS)


@dataclass
class Week:
    admin: User
    lena: User
    tom: User
    c: dict[int, int]  # C1..C7 -> conversation id


async def make_week(harness: Harness) -> Week:
    admin = await harness.user(Role.ADMIN, display_name="Ann Admin")
    lena = await harness.user(Role.TEAMLEADER, display_name="Lena Leader")
    tom = await harness.user(Role.TEAMLEADER, display_name="Tom Leader")
    ada = await harness.user(Role.AGENT, display_name="Ada Agent")
    billing = await make_topic(harness, "Billing")
    c = {
        1: await make_history(
            harness,
            ada,
            paris(24, 9, 10),
            [
                Ev("assigned", paris(24, 9, 10, 30), to=lena),
                Ev("solved", paris(24, 9, 20), by=lena),
            ],
            topic_id=billing,
            said=[(ada, paris(24, 9, 10)), (lena, paris(24, 9, 11, 30))],
        ),
        2: await make_history(
            harness,
            ada,
            paris(24, 9, 40),
            [Ev("assigned", paris(24, 9, 42), to=tom), Ev("pending", paris(24, 10, 0), by=tom)],
            topic_id=billing,
        ),
        3: await make_history(
            harness,
            ada,
            paris(24, 10, 5),
            [Ev("assigned", paris(24, 10, 6), to=lena), Ev("solved", paris(24, 10, 30), by=lena)],
            said=[(lena, paris(24, 10, 12))],
        ),
        4: await make_history(harness, ada, paris(25, 9, 20), [Ev("withdrawn", paris(25, 9, 25))]),
        5: await make_history(
            harness,
            ada,
            paris(30, 9, 15),
            [
                Ev("assigned", paris(30, 9, 20), to=tom),
                Ev("transferred", paris(30, 9, 30), by=tom, to=lena),
                Ev("solved", paris(30, 9, 50), by=lena),
            ],
            topic_id=billing,
        ),
        6: await make_history(harness, ada, paris(31, 9, 10), topic_id=billing),
        7: await make_history(harness, ada, paris(23, 23, 30), topic_id=billing),
    }
    return Week(admin, lena, tom, c)


async def api_report(page: Page, query: str = WEEK) -> Any:
    """The report as the API gives it, read with the page's own session."""
    response = await page.request.get(f"/api/reports?{query}")
    assert response.status == 200, await response.text()
    return await response.json()


def share(value: float | None) -> str:
    """A share as the page writes it: a percentage with at most one decimal."""
    return "—" if value is None else f"{round(value * 1000) / 10:g}%"


def duration(seconds: float | None) -> str:
    """Seconds as the page writes them (under an hour here): "12 s", "4 min 12 s"."""
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    if minutes == 0:
        return f"{secs} s"
    return f"{minutes} min {secs} s" if secs else f"{minutes} min"


def tile(page: Page, label: str) -> Locator:
    """A summary tile's figure (its value and detail)."""
    return page.get_by_test_id(f"tile {label}").get_by_role("definition")


def card(page: Page, title: str) -> Locator:
    return page.get_by_role("region", name=title, exact=True)


async def table_view(page: Page, title: str) -> Locator:
    """The chart's figures as a table, opened from under the chart."""
    region = card(page, title)
    await region.get_by_text(f"Table view: {title.lower()}").click()
    table = region.get_by_role("table", name=title, exact=True)
    await expect(table).to_be_visible()
    return table


async def rows_of(table: Locator) -> list[list[str]]:
    """The body rows' cells' text, row header first."""
    body = table.locator("tbody tr")
    return [
        [text.strip() for text in await row.locator("th, td").all_inner_texts()]
        for row in await body.all()
    ]


async def listed(page: Page) -> set[str]:
    """The conversations the History lists, as "#id"."""
    table = page.get_by_role("table", name="Conversations")
    await expect(table).to_be_visible()
    return {text.strip() for text in await table.locator("tbody th").all_inner_texts()}


async def expect_listed(page: Page, ids: set[int]) -> None:
    rows = page.get_by_role("table", name="Conversations").locator("tbody tr")
    await expect(rows).to_have_count(len(ids))
    assert await listed(page) == {f"#{i}" for i in ids}


async def test_reports_page_charts_tables_and_heat_map_drill_down(
    harness: Harness, browsing: Browsing
) -> None:
    week = await make_week(harness)
    page = await browsing.sign_in(week.admin, viewport=(1280, 2600))
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    await expect(page).to_have_url(re.compile(r"/reports\?"))
    await heading(page, "Reports")

    await page.goto(f"/reports?{WEEK}")
    await heading(page, "Reports")
    report = await api_report(page)
    assert report["summary"]["requests"] == 5  # C1..C5: the week holds what it should

    # The summary tiles: the API's figures, durations in words.
    summary = report["summary"]
    await expect(tile(page, "Requests")).to_have_text(
        f"{summary['requests']}{summary['assigned']} assigned"
    )
    assert summary["wait_avg_seconds"] == (30 + 120 + 60 + 300) / 4
    await expect(tile(page, "Average wait")).to_have_text("2 min 8 s")
    await expect(tile(page, "Average first response")).to_have_text(
        duration(summary["first_response_avg_seconds"])
    )
    solved = next(r for r in report["outcomes"] if r["outcome"] == "solved")
    assert solved["conversations"] == 3
    await expect(tile(page, "Solved")).to_have_text(f"{share(solved['rate'])}3 conversations")

    # Each chart is drawn by Recharts (an SVG), with its figures as a table view.
    for title in ("Daily trend", "Time to first response"):
        figure = card(page, title).get_by_role("figure", name=title)
        await expect(figure.locator("svg.recharts-surface").first).to_be_visible()
    await expect(card(page, "Daily trend").locator(".recharts-bar-rectangle")).not_to_have_count(0)

    daily = await table_view(page, "Daily trend")
    assert [row[:4] for row in await rows_of(daily)] == [
        [d["day"], str(d["requests"]), str(d["assigned"]), str(d["solved"])]
        for d in report["daily"]
    ]
    assert [d["requests"] for d in report["daily"]] == [3, 1, 0, 0, 0, 0, 1]

    first = await table_view(page, "Time to first response")
    assert [row[1] for row in await rows_of(first)] == [
        str(b["conversations"]) for b in report["first_response"]
    ]

    leaders = await rows_of(card(page, "Team leaders").get_by_role("table"))
    assert [row[:4] for row in leaders] == [
        [r["display_name"], str(r["conversations"]), str(r["assignments"]), share(r["load_share"])]
        for r in report["leaders"]
    ]
    assert {row[0] for row in leaders} == {"Lena Leader", "Tom Leader"}
    topics = await rows_of(card(page, "Topics").get_by_role("table"))
    assert [(row[0], row[1]) for row in topics] == [
        (r["name"] or "No topic", str(r["requests"])) for r in report["topics"]
    ]

    # Every table downloads as the server's CSV with the same scope.
    csv_link = card(page, "Daily trend").get_by_role("link", name="Download daily trend as CSV")
    href = await csv_link.get_attribute("href")
    assert href is not None
    assert urlsplit(href).path == "/api/reports/daily.csv"
    assert dict(parse_qsl(urlsplit(href).query)) == {
        "from": "2025-03-24",
        "to": "2025-03-30",
        "tz": TZ,
    }
    response = await page.request.get(href)
    assert response.status == 200
    assert (await response.text()).splitlines()[0].startswith("day,requests,assigned,solved")
    for title in ("Summary", "Outcomes", "Time to first response", "Peak hours", "Topics"):
        await expect(
            card(page, title).get_by_role("link", name=re.compile("as CSV$"))
        ).to_be_visible()

    # The heat map: Monday 09:00-10:00 holds C1 and C2 (C3 is at 10:05, C4 on Tuesday).
    monday_nine = next(c for c in report["heatmap"] if (c["weekday"], c["hour"]) == (1, 9))
    assert monday_nine["requests"] == 2
    cell = card(page, "Peak hours").get_by_role(
        "button", name="Monday 09:00\u201310:00: 2 requests"
    )
    await expect(cell).to_be_visible()
    await screenshot(page, "reports-page")

    await cell.click()
    await expect(page).to_have_url(at("/history?" + monday_nine["history_query"]))
    await heading(page, "History")
    await expect_listed(page, {week.c[1], week.c[2]})
    note = page.get_by_test_id("time-filter")
    await expect(note).to_contain_text("on Mondays")
    await expect(note).to_contain_text("between 09:00 and 10:00")
    await screenshot(page, "reports-heat-map-drill-down")

    # The time filter can be cleared: then the whole team's history shows.
    await page.get_by_role("button", name="Clear time filter").click()
    await expect(note).to_have_count(0)
    await expect_listed(page, set(week.c.values()))


async def test_day_bar_and_leader_row_open_their_conversations(
    harness: Harness, browsing: Browsing
) -> None:
    week = await make_week(harness)
    page = await browsing.sign_in(week.admin, viewport=(1280, 2600))
    await page.goto(f"/reports?{WEEK}")
    report = await api_report(page)

    # The first bar of the daily chart is Monday's requests: C1, C2, C3.
    bars = card(page, "Daily trend").locator(".drill .recharts-bar-rectangle")
    await expect(bars).not_to_have_count(0)
    await bars.first.click()
    await expect(page).to_have_url(at("/history?" + report["daily"][0]["history_query"]))
    await expect_listed(page, {week.c[1], week.c[2], week.c[3]})
    await page.go_back()

    # Tom held C2 and C5 (he passed C5 on to Lena); a click anywhere on his row.
    tom = next(r for r in report["leaders"] if r["leader_id"] == week.tom.id)
    row = (
        card(page, "Team leaders")
        .get_by_role("row")
        .filter(has=page.get_by_role("rowheader", name="Tom Leader", exact=True))
    )
    await row.get_by_role("cell").first.click()
    await expect(page).to_have_url(at("/history?" + tom["history_query"]))
    await expect_listed(page, {week.c[2], week.c[5]})
    await expect(page.get_by_label("Team leader", exact=True)).to_have_value(str(week.tom.id))

    # The "no topic" row: C3 and C4, the topic select showing it.
    await page.go_back()
    await card(page, "Topics").get_by_role("link", name="No topic", exact=True).click()
    await expect_listed(page, {week.c[3], week.c[4]})
    await expect(page.get_by_label("Topic", exact=True)).to_have_value("none")

    # The History's own topic select replaces the drill-down's: Billing in that week.
    await page.get_by_label("Topic", exact=True).select_option(label="Billing")
    await expect_listed(page, {week.c[1], week.c[2], week.c[5]})
    assert "no_topic" not in dict(parse_qsl(urlsplit(page.url).query))


async def test_range_and_filters_live_in_the_url(harness: Harness, browsing: Browsing) -> None:
    week = await make_week(harness)
    page = await browsing.sign_in(week.admin)

    # With no range named, the last seven days in the viewer's zone are written in.
    await page.goto("/reports")
    await heading(page, "Reports")
    await expect(page).to_have_url(re.compile(r"/reports\?.*from="))
    zone = await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    today = datetime.now(ZoneInfo(zone)).date()
    params = dict(parse_qsl(urlsplit(page.url).query))
    assert params["tz"] == zone
    assert date.fromisoformat(params["to"]) == today
    assert date.fromisoformat(params["from"]) == today - timedelta(days=6)
    await expect(page.get_by_label("Time zone")).to_have_value(zone)

    # A leader filter goes to the URL, and the report is Tom's: C2 and C5.
    await page.goto(f"/reports?{WEEK}")
    await page.get_by_label("Team leader", exact=True).select_option(label="Tom Leader")
    await expect(page).to_have_url(re.compile(rf"leader_id={week.tom.id}"))
    daily = await table_view(page, "Daily trend")
    await expect(daily.locator("tbody tr").first.locator("td").first).to_have_text("1")
    shared = await browsing.sign_in(week.admin)
    await shared.goto(page.url)
    await expect(shared.get_by_label("Team leader", exact=True)).to_have_value(str(week.tom.id))
    report = await api_report(shared, f"{WEEK}&leader_id={week.tom.id}")
    assert report["summary"]["requests"] == 2

    # The server's refusals, in words.
    await page.goto("/reports?from=2025-03-30&to=2025-03-24&tz=UTC")
    await expect(page.get_by_role("alert")).to_contain_text("after it ends")
    await page.goto("/reports?from=2024-01-01&to=2025-03-24&tz=UTC")
    await expect(page.get_by_role("alert")).to_contain_text("at most a year")
    await page.goto("/reports?from=2025-03-24&to=2025-03-30&tz=Mars%2FOlympus")
    await expect(page.get_by_role("alert")).to_contain_text("not a time zone")
    await screenshot(page, "reports-refused-zone")


@pytest.mark.parametrize("role", [Role.AGENT, Role.TEAMLEADER])
async def test_agents_and_leaders_cannot_open_reports(
    harness: Harness, browsing: Browsing, role: Role
) -> None:
    user = await harness.user(role)
    page = await browsing.sign_in(user)
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link").first).to_be_visible()
    await expect(nav.get_by_role("link", name="Reports")).to_have_count(0)
    await page.goto(f"/reports?{WEEK}")
    home = "/inbox" if role is Role.AGENT else "/workspace"
    await expect(page).to_have_url(at(home))
    await expect(page.get_by_role("heading", level=1, name="Reports")).to_have_count(0)
    response = await page.request.get(f"/api/reports?{WEEK}")
    assert response.status == 403
