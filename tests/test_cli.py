"""The `teamtalk` command's account and database commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

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
    ):
        assert "Usage" in run(*command, "--help")


def test_db_upgrade_creates_the_embedded_database(env: Path) -> None:
    assert "head" in run("db", "upgrade")
    assert (env / "teamtalk.db").exists()


def test_user_lifecycle(env: Path) -> None:
    created = run(
        "users",
        "create",
        "--email",
        "Lee@Example.com",
        "--name",
        "Lee",
        "--role",
        "teamleader",
        "--password",
        "long enough",
    )
    assert "lee@example.com" in created
    assert "teamleader" in run("users", "list")
    run("users", "set-role", "lee@example.com", "admin")
    assert "admin" in run("users", "list")
    run("users", "deactivate", "lee@example.com")
    assert "deactivated" in run("users", "list")


def test_create_prompts_for_the_password(env: Path) -> None:
    out = run(
        "users",
        "create",
        "--email",
        "a@example.com",
        "--name",
        "A",
        "--role",
        "agent",
        input="s3cret-pass\ns3cret-pass\n",
    )
    assert "Created agent a@example.com" in out


def test_bad_input_is_refused_clearly(env: Path) -> None:
    short = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "a@example.com",
            "--name",
            "A",
            "--role",
            "agent",
            "--password",
            "short",
        ],
    )
    assert short.exit_code != 0 and "8 characters" in short.output
    role = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "a@example.com",
            "--name",
            "A",
            "--role",
            "boss",
            "--password",
            "long enough",
        ],
    )
    assert role.exit_code != 0
    run(
        "users",
        "create",
        "--email",
        "a@example.com",
        "--name",
        "A",
        "--role",
        "agent",
        "--password",
        "long enough",
    )
    again = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "A@example.com",
            "--name",
            "A",
            "--role",
            "agent",
            "--password",
            "long enough",
        ],
    )
    assert again.exit_code != 0 and "already exists" in again.output
    missing = runner.invoke(app, ["users", "deactivate", "nobody@example.com"])
    assert missing.exit_code != 0 and "No such user" in missing.output


def test_demo_adds_the_team_once(env: Path) -> None:
    first = run("demo")
    assert "admin@demo.teamtalk.local" in first
    run("demo")
    listing = run("users", "list")
    assert listing.count("@demo.teamtalk.local") == 10
