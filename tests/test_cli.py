"""The `teamtalk` command's account and database commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from teamtalk.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh embedded database in a data dir of its own."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEAMTALK_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path


def run(*args: str, input: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output


def test_help_everywhere() -> None:
    for command in (
        [],
        ["serve"],
        ["db"],
        ["db", "upgrade"],
        ["users"],
        ["users", "create"],
        ["demo"],
        ["stats"],
        ["worker"],
    ):
        assert "Usage" in run(*command, "--help")


def test_db_upgrade_creates_the_embedded_database(env: Path) -> None:
    assert "head" in run("db", "upgrade")
    assert (env / "teamtalk.db").exists()


def create(email: str, role: str = "agent", password: str | None = "long enough") -> Result:
    args = ["users", "create", "--email", email, "--name", "A", "--role", role]
    if password is not None:
        args += ["--password", password]
    return runner.invoke(app, args, input="s3cret-pass\ns3cret-pass\n")


def test_user_lifecycle(env: Path) -> None:
    created = create("Lee@Example.com", "teamleader")
    assert created.exit_code == 0 and "lee@example.com" in created.output
    assert "teamleader" in run("users", "list")
    run("users", "set-role", "lee@example.com", "admin")
    assert "admin" in run("users", "list")
    run("users", "deactivate", "lee@example.com")
    assert "deactivated" in run("users", "list")


def test_create_prompts_for_the_password(env: Path) -> None:
    prompted = create("a@example.com", password=None)
    assert "Created agent a@example.com" in prompted.output


def test_bad_input_is_refused_clearly(env: Path) -> None:
    short = create("a@example.com", password="short")
    assert short.exit_code != 0 and "8 characters" in short.output
    assert create("a@example.com", role="boss").exit_code != 0
    assert create("not-an-email").exit_code != 0
    assert create("a@example.com").exit_code == 0
    again = create("A@example.com")
    assert again.exit_code != 0 and "already exists" in again.output
    missing = runner.invoke(app, ["users", "deactivate", "nobody@example.com"])
    assert missing.exit_code != 0 and "No such user" in missing.output


def test_demo_adds_the_team_once(env: Path) -> None:
    first = run("demo")
    assert "admin@demo.teamtalk.local" in first
    run("demo")
    listing = run("users", "list")
    assert listing.count("@demo.teamtalk.local") == 10
