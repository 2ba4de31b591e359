"""`teamtalk stats`: the live queue, leaders and worker health in the terminal (rich)."""

from __future__ import annotations

import asyncio

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from teamtalk.resources import Resources
from teamtalk.schemas import MonitoringOverview
from teamtalk.services import monitoring
from teamtalk.settings import Settings

QUEUE_ROWS = 15


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def render(o: MonitoringOverview) -> RenderableType:
    t, q = o.totals, o.queue
    rate = next((a for a in o.assignments if a.window == "15m"), None)
    header = Text.assemble(
        ("Queue length: ", "bold"),
        f"{q.length}   ",
        ("oldest wait: ", "bold"),
        f"{duration(q.oldest_wait_seconds)}   ",
        ("leaders online/away: ", "bold"),
        f"{t.leaders_online}/{t.leaders_away}   ",
        ("free slots: ", "bold"),
        f"{t.free_slots}   ",
        ("agents online: ", "bold"),
        f"{t.agents_online}   ",
        ("sockets: ", "bold"),
        f"{o.realtime.socket_connections}",
    )
    parts: list[RenderableType] = [header]
    if rate is not None:
        success = "-" if rate.success_rate is None else f"{rate.success_rate:.0%}"
        parts.append(
            Text(
                f"Last 15 min: {rate.assigned} assigned, {rate.failed} failed ({success}); "
                f"wait avg {duration(rate.latency_avg_seconds)}, "
                f"p90 {duration(rate.latency_p90_seconds)}"
            )
        )
    parts += [Text(f"! {w.message}", style="bold red") for w in o.warnings]

    queue = Table(title="Queue", title_justify="left")
    for column in ("#", "request", "agent", "topic", "waiting", "routing"):
        queue.add_column(column)
    for r in q.requests[:QUEUE_ROWS]:
        queue.add_row(
            str(r.position or "-"),
            str(r.conversation_id),
            r.agent_name,
            r.topic_name or "",
            duration(r.wait_seconds),
            r.routing,
        )
    if q.length > QUEUE_ROWS:
        queue.caption = f"and {q.length - QUEUE_ROWS} more"

    leaders = Table(title="Leaders", title_justify="left")
    for column in ("leader", "status", "for", "basket", "free", "last assigned"):
        leaders.add_column(column)
    for leader in o.leaders:
        since = (o.at - leader.status_since).total_seconds() if leader.status_since else None
        last = leader.last_assigned_at
        leaders.add_row(
            leader.display_name,
            leader.status + (" (tab closed)" if leader.disconnected_since else ""),
            duration(since),
            f"{leader.held}/{leader.capacity}",
            str(leader.free),
            f"{duration((o.at - last).total_seconds())} ago" if last else "-",
        )

    workers = Table(title="Workers", title_justify="left")
    for column in ("worker", "heartbeat", "processed", "errors", "parked", "poll", "up"):
        workers.add_column(column)
    for w in o.workers:
        workers.add_row(
            w.worker_id,
            f"{duration(w.heartbeat_age_seconds)} ago",
            str(w.processed),
            str(w.errors),
            str(w.parked),
            f"{w.poll_interval_seconds:g}s",
            duration(w.uptime_seconds),
        )
    if not o.workers:
        workers.caption = "no worker has reported (none running?)"
    return Group(*parts, queue, leaders, workers)


async def show(settings: Settings, console: Console, *, once: bool, every: float) -> None:
    res = Resources.open(settings)
    try:
        if once:
            console.print(render(await monitoring.overview(res)))
            return
        with Live(render(await monitoring.overview(res)), console=console, screen=False) as live:
            while True:
                await asyncio.sleep(every)
                live.update(render(await monitoring.overview(res)))
    finally:
        await res.close()
