"""`teamtalk demo --simulate` against a live server: real traffic, no errors, all of it in
the database."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from rich.console import Console
from sqlalchemy import func, select
from typer.testing import CliRunner

from teamtalk.cli import app
from teamtalk.models import Conversation, ConversationEvent, Message, Status
from teamtalk.services import demo
from teamtalk.simulate import Options, run, summary
from teamtalk.worker import Worker
from tests.conftest import LiveServer

SECONDS = float(os.environ.get("TEAMTALK_SIMULATE_SECONDS", "4"))


async def test_a_short_simulation_leaves_its_traffic_in_the_database(
    live: LiveServer, worker: Worker
) -> None:
    async with live.harness.resources.sessions() as session:
        await demo.add_demo_data(session, 4)
    # One leader more than the demo has: created through the admin API.
    options = Options(
        url=live.url, rate=150, duration=SECONDS, agents=3, leaders=4, think=0.2, drain=10, seed=1
    )
    out = io.StringIO()
    tally = await run(options, Console(file=out, width=120))

    assert tally.errors == 0, summary(tally, options)
    assert tally.created >= 3, summary(tally, options)
    assert tally.assigned >= 3 and tally.submitted >= 3 and tally.messages >= 6
    assert tally.status_changes >= 8  # 4 leaders online, then offline at the end
    assert "created" in out.getvalue() or SECONDS < 5  # plain progress lines, not a terminal

    async with live.harness.resources.sessions() as session:
        created = await session.scalar(select(func.count()).select_from(Conversation))
        done = await session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.status.in_([Status.SOLVED, Status.PENDING]))
        )
        events = await session.scalar(select(func.count()).select_from(ConversationEvent))
        user_messages = await session.scalar(
            select(func.count()).select_from(Message).where(Message.sender_id.is_not(None))
        )
    assert created == tally.created
    assert done is not None and 0 < done <= tally.submitted
    assert events is not None and events >= tally.created + tally.assigned + tally.submitted
    # Each request's first message and every reply the server acknowledged; a send cut off
    # by a leader going offline (or by the end) may be stored with its ack never read.
    assert user_messages is not None and user_messages >= tally.created + tally.messages


def test_the_command_refuses_bad_options_and_fails_clearly_without_a_server() -> None:
    runner = CliRunner()
    bad_rate = runner.invoke(app, ["demo", "--simulate", "--rate", "0"])
    assert bad_rate.exit_code == 2
    nobody = runner.invoke(app, ["demo", "--simulate", "--url", "http://127.0.0.1:9"])
    assert nobody.exit_code == 1 and "cannot reach http://127.0.0.1:9" in nobody.output


def test_the_cli_imports_the_simulation_only_when_asked() -> None:
    check = "import sys, teamtalk.cli; print('teamtalk.simulate' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
