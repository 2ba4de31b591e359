"""The `teamtalk` command's account and database commands."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from teamtalk import db
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


# Start-up guard: what `import teamtalk.cli` (so `teamtalk --help`) and `users create` must
# not load; each is most of a second of CPU at the start of every command.
SERVER_MODULES = ("fastapi", "starlette", "socketio", "engineio", "aiohttp", "uvicorn")
EVERY_COMMAND_SKIPS = (*SERVER_MODULES, "sqlalchemy", "alembic", "redis", "pydantic_settings")
USERS_CREATE_SKIPS = (*SERVER_MODULES, "alembic", "redis", "teamtalk.schemas")


def modules_loaded_by(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code` (this checkout's)."""
    report = "import sys; print(' '.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    return set(done.stdout.splitlines()[-1].split())


def loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(p for p in packages if any(m == p or m.startswith(p + ".") for m in modules))


def test_the_command_line_starts_without_the_server() -> None:
    assert loaded(modules_loaded_by("import teamtalk.cli"), EVERY_COMMAND_SKIPS) == []


def test_users_create_loads_only_the_database(env: Path) -> None:
    run("db", "upgrade")
    code = (
        "from teamtalk.cli import app\n"
        "args = ['users', 'create', '--email', 'a@example.com', '--name', 'A',"
        " '--role', 'agent', '--password', 'long enough']\n"
        "app(args, standalone_mode=False)"
    )
    modules = modules_loaded_by(code)
    assert "teamtalk.services.accounts" in modules  # it did create the user
    assert loaded(modules, USERS_CREATE_SKIPS) == []
    assert "agent" in run("users", "list")


def test_commands_bring_an_old_embedded_schema_up_to_date(env: Path) -> None:
    run("db", "upgrade", "0001")
    assert create("a@example.com").exit_code == 0
    with contextlib.closing(sqlite3.connect(env / "teamtalk.db")) as conn:
        at = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert at == [(db.head_revision(),)]
