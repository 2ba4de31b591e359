"""`teamtalk demo --simulate`: simulated agents and leaders drive a running server for a
while, so that the dashboard and the reports show real movement. The people are in
simulate_people.py; this module casts them, paces the requests and shows the progress."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from teamtalk.models import Role
from teamtalk.services.demo import DEMO_DOMAIN, DEMO_PASSWORD, PEOPLE
from teamtalk.simulate_people import Agent, Failed, Leader, Person, Tally, World, error_code

COUNTS = ("created", "assigned", "messages", "submitted", "status_changes", "errors")
PLAIN_EVERY = 5.0  # seconds between progress lines when not drawing in place


@dataclass(frozen=True)
class Options:
    url: str = "http://127.0.0.1:8000"
    rate: float = 30.0  # new requests per minute, all agents together
    duration: float = 60.0  # seconds of new requests
    agents: int = 6
    leaders: int = 3
    password: str = DEMO_PASSWORD
    think: float = 2.0  # mean seconds a person takes before acting
    drain: float = 15.0  # at most this long after the duration for leaders to finish
    quiet: bool = False
    seed: int | None = None


async def demo_users(admin: Person, role: Role, count: int) -> list[str]:
    """The emails of `count` demo users of `role`: the demo team's first, then simulated
    ones created through the admin API (kept from an earlier run if they exist)."""
    emails = [f"{handle}@{DEMO_DOMAIN}" for handle, _, r in PEOPLE if r == role][:count]
    for n in range(len(emails) + 1, count + 1):
        email = f"sim-{role.value}{n}@{DEMO_DOMAIN}"
        body = {
            "email": email,
            "display_name": f"Simulated {role.value} {n}",
            "role": role.value,
            "password": admin.world.password,
        }
        response = await admin.http.post("/api/users", json=body)
        if response.status_code != 201 and error_code(response) != "email_taken":
            raise Failed(f"could not create {email} ({error_code(response)})")
        emails.append(email)
    return emails


def progress(tally: Tally, elapsed: float, options: Options) -> Table:
    title = f"Simulating: {elapsed:.0f}s of {options.duration:.0f}s"
    if elapsed > options.duration:
        title = f"Leaders finishing ({elapsed - options.duration:.0f}s)"
    table = Table(title=title, min_width=40)
    table.add_column("what")
    table.add_column("count", justify="right")
    for name in COUNTS:
        style = "bold red" if name == "errors" and tally.errors else ""
        table.add_row(name.replace("_", " "), str(getattr(tally, name)), style=style)
    return table


def line(tally: Tally, elapsed: float) -> str:
    counts = ", ".join(f"{getattr(tally, n)} {n.replace('_', ' ')}" for n in COUNTS)
    return f"{elapsed:5.0f}s  {counts}"


def say(console: Console, text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True)


async def show(tally: Tally, options: Options, console: Console, started: float) -> None:
    """Progress until cancelled: a table drawn in place on a terminal, else plain lines."""
    if options.quiet or not console.is_terminal:
        while True:
            await asyncio.sleep(PLAIN_EVERY)
            say(console, line(tally, time.monotonic() - started))
    with Live(progress(tally, 0, options), console=console, transient=True) as live:
        while True:
            await asyncio.sleep(0.5)
            live.update(progress(tally, time.monotonic() - started, options))


async def arrivals(agents: list[Agent], options: Options, rng: random.Random) -> None:
    """New requests as a Poisson process at `rate` per minute, each from a random agent."""
    while True:
        await asyncio.sleep(rng.expovariate(options.rate / 60))
        agent = rng.choice(agents)
        agent.spawn(agent.open_request())


async def queue_length(admin: Person) -> int:
    overview: Any = await admin.request("GET", "/api/monitoring/overview")
    return -1 if overview is None else int(overview["queue"]["length"])


async def drain(admin: Person, leaders: list[Leader], seconds: float) -> None:
    """Lets the leaders finish what they hold and what still waits in the queue."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(leader.handling for leader in leaders) and await queue_length(admin) == 0:
            return
        await asyncio.sleep(0.5)


async def cast(admin: Person, options: Options) -> tuple[list[Agent], list[Leader]]:
    """The topics known, the simulated people chosen (extra users created first)."""
    world = admin.world
    await admin.sign_in()
    topics: Any = await admin.request("GET", "/api/topics")
    world.topic_ids = [t["id"] for t in (topics or {}).get("topics", []) if not t["archived"]]
    if not world.topic_ids:
        raise Failed("the server has no topics to submit with (run `teamtalk demo` there)")
    agents = [Agent(world, e) for e in await demo_users(admin, Role.AGENT, options.agents)]
    leaders = await demo_users(admin, Role.TEAMLEADER, options.leaders)
    return agents, [Leader(world, e) for e in leaders]


async def signed_in(people: list[Person]) -> None:
    """Signs everyone in, one at a time: each sign-in costs the server a password hash, and
    a few at once on a busy server can hold a PostgreSQL transaction idle past its limit."""
    for person in people:
        await person.sign_in()


async def run(options: Options, console: Console) -> Tally:
    """Runs the simulation and returns what it did; raises Failed if it cannot start."""
    rng = random.Random(options.seed)
    world = World(options.url.rstrip("/"), options.password, Tally(), rng, options.think)
    admin_email = next(f"{h}@{DEMO_DOMAIN}" for h, _, r in PEOPLE if r == Role.ADMIN)
    admin = Person(world, admin_email)
    people: list[Person] = [admin]
    try:
        agents, leaders = await cast(admin, options)
        people += [*agents, *leaders]
        say(console, f"Signing in {len(agents)} agents and {len(leaders)} leaders at {world.url}")
        await signed_in([*agents, *leaders])
        await asyncio.gather(*(p.connect() for p in agents + leaders))
        await asyncio.gather(*(leader.set_status("online") for leader in leaders))
        wandering = [leader.spawn(leader.wander()) for leader in leaders]
        started = time.monotonic()
        display = asyncio.create_task(show(world.tally, options, console, started))
        try:
            async with asyncio.timeout(options.duration):
                await arrivals(agents, options, rng)
        except TimeoutError:
            pass
        for task in wandering:
            task.cancel()
        await asyncio.gather(*wandering, return_exceptions=True)
        say(console, "Time is up: no new requests; the leaders finish what is open.")
        # Everyone back at work, so that the queue empties before the end.
        await asyncio.gather(*(leader.set_status("online") for leader in leaders))
        await drain(admin, leaders, options.drain)
        display.cancel()
        await asyncio.gather(display, return_exceptions=True)
        for leader in leaders:
            await leader.stop_tasks()
        await asyncio.gather(*(leader.set_status("offline") for leader in leaders))
    finally:
        await asyncio.gather(*(p.close() for p in people), return_exceptions=True)
    return world.tally


def summary(tally: Tally, options: Options) -> str:
    people = f"{options.agents} agents and {options.leaders} leaders"
    counts = ", ".join(f"{getattr(tally, n)} {n.replace('_', ' ')}" for n in COUNTS)
    lines = [f"Simulated {options.duration:g}s with {people} at {options.rate:g}/min: {counts}."]
    lines += [f"  error: {p}" for p in tally.problems]
    if tally.errors > len(tally.problems):
        lines.append(f"  ... and {tally.errors - len(tally.problems)} more errors")
    return "\n".join(lines)


def main(options: Options) -> int:
    """The command: runs, prints the summary; the exit code is 1 after any error."""
    console = Console()
    try:
        tally = asyncio.run(run(options, console))
    except Failed as exc:
        Console(stderr=True).print(f"Error: {exc}", style="bold red", highlight=False)
        return 1
    except KeyboardInterrupt:
        return 130
    say(console, summary(tally, options))
    return 1 if tally.errors else 0
