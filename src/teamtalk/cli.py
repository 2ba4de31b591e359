"""The `teamtalk` command."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from teamtalk.roles import Role

# Only what `--help` needs is imported here: each command imports the rest itself, so
# `teamtalk --help` or `users create` does not load the server, Socket.IO and Alembic.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from teamtalk.models import User
    from teamtalk.services import demo
    from teamtalk.settings import Settings

T = TypeVar("T")

app = typer.Typer(
    help="Team Talk: live help from team leaders for customer-service agents.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: Rich's costs `--help` a third of a second
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
routing_app = typer.Typer(help="Routing state in Redis.", no_args_is_help=True)
app.add_typer(routing_app, name="routing")


def main() -> None:
    try:
        app()
    finally:
        # At exit the interpreter's last collection would walk every object start-up made
        # (about 0.15 s once SQLAlchemy is imported), with nothing worth freeing.
        gc.freeze()


@contextmanager
def importing() -> Iterator[None]:
    """The collector off while a command imports: modules and classes are thousands of
    objects that all live to the end, so walking them as they are made is wasted work
    (about 0.05 s of `users create`)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def redis_for(
    settings: Settings, on_give_up: Callable[[], None] | None = None
) -> Iterator[Settings]:
    """The settings with a Redis URL: the configured one, or a private Valkey's for the run
    (restarted when it dies; `on_give_up` is called if it keeps dying)."""
    if settings.redis_url is not None:
        yield settings
        return
    from teamtalk.embedded import EmbeddedValkey

    with EmbeddedValkey(settings.data_dir, on_give_up=on_give_up) as valkey:
        yield settings.model_copy(update={"redis_url": valkey.url})


def with_db(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in a session; the embedded database is migrated first if it is behind."""
    from teamtalk import db
    from teamtalk.errors import TeamTalkError

    async def run() -> T:
        engine = db.create_engine(settings.sqlalchemy_url)
        try:
            if settings.embedded_database:
                await db.upgrade_if_behind(engine)
            async with db.sessionmaker(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except TeamTalkError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(1) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the routing worker here.")
    ] = False,
    no_demo: Annotated[
        bool, typer.Option("--no-demo", help="Do not create demo users on a fresh database.")
    ] = False,
    reload: Annotated[
        bool, typer.Option("--reload", help="Restart on code changes (development).")
    ] = False,
) -> None:
    """Run the web server: HTTP API, real time, web UI (and the worker unless --no-worker)."""
    from teamtalk import datadir, serving
    from teamtalk.logs import setup_logging
    from teamtalk.settings import Settings

    settings = Settings()
    settings = settings.model_copy(
        update={
            "host": host or settings.host,
            "port": port or settings.port,
            "run_worker": not no_worker,
        }
    )
    setup_logging(settings)
    if settings.embedded_database or settings.embedded_redis or not settings.secret_key:
        datadir.secure_data_dir(settings.data_dir)
    gave_up = threading.Event()

    def give_up() -> None:
        # Routing cannot work without it: stop, as a service manager would stop us, rather
        # than answer 503 for ever; whoever restarts teamtalk starts a fresh Valkey.
        gave_up.set()
        os.kill(os.getpid(), signal.SIGTERM)

    with redis_for(settings, give_up) as settings:
        logins = with_db(settings, lambda s: _prepare(s, settings, demo_data=not no_demo))
        url = f"http://{settings.host}:{settings.port}"
        typer.echo(f"\nTeam Talk is running at {url}\n")
        if logins:
            typer.echo(f"Demo logins (password for all: {logins[0].password}):")
            for login in logins:
                typer.echo(f"  {login.role.value:<11} {login.email}")
            typer.echo("")
        if reload:
            os.environ["REDIS_URL"] = settings.redis_url or ""
            config = serving.server_config(
                "teamtalk.app:app_from_env", settings, factory=True, reload=True
            )
        else:
            from teamtalk.app import create_app

            config = serving.server_config(create_app(settings), settings)
        serving.run(config)
    if gave_up.is_set():
        typer.echo("Error: the embedded Valkey kept dying; see the log above.", err=True)
        raise typer.Exit(1)


async def _prepare(
    session: AsyncSession, settings: Settings, *, demo_data: bool
) -> list[demo.Login]:
    from teamtalk.services import demo

    if demo_data and await demo.is_empty(session):
        return await demo.add_demo_data(session, settings.default_capacity)
    return []


@app.command()
def worker(
    burst: Annotated[
        bool, typer.Option("--burst", help="Assign what can be assigned now, then exit.")
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            help="Serve Prometheus /metrics on this port (at TEAMTALK_HOST).",
            min=1,
            max=65535,
        ),
    ] = None,
) -> None:
    """Run a routing worker (any number may run; `teamtalk serve` runs one unless --no-worker)."""
    from teamtalk.logs import setup_logging
    from teamtalk.settings import Settings

    settings = Settings()
    setup_logging(settings)
    if settings.redis_url is None:
        typer.echo(
            "Error: teamtalk worker needs REDIS_URL (and DATABASE_URL) shared with the servers; "
            "on the embedded default the worker runs inside teamtalk serve.",
            err=True,
        )
        raise typer.Exit(2)
    asyncio.run(_run_worker(settings, burst=burst, metrics_port=metrics_port))


async def _run_worker(settings: Settings, *, burst: bool, metrics_port: int | None = None) -> None:
    from teamtalk import serving
    from teamtalk.api import metrics
    from teamtalk.realtime import Realtime
    from teamtalk.resources import Resources
    from teamtalk.worker import Worker

    res = Resources.open(settings)
    assert settings.redis_url is not None
    realtime = Realtime.write_only(settings.redis_url, res.redis, res.keys)
    routing_worker = Worker(res, realtime)
    try:
        if burst:
            await routing_worker.start()
            typer.echo(f"Assigned {await routing_worker.burst()} conversations.")
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)  # finish the batch in hand, then stop
        gc.freeze()  # as the server does: start-up's objects out of the collector's way
        if metrics_port is None:
            await routing_worker.run(stop)
        else:
            await serving.alongside(
                routing_worker.run(stop), metrics.app(res), settings, metrics_port, stop
            )
    finally:
        await realtime.close()
        await res.close()


@routing_app.command("rebuild")
def routing_rebuild() -> None:
    """Rebuild Redis routing state from the database (after losing Redis data)."""
    from teamtalk.resources import Resources
    from teamtalk.services import reconcile
    from teamtalk.settings import Settings

    settings = Settings()
    if settings.redis_url is None:
        typer.echo(
            "Error: needs REDIS_URL; `teamtalk serve` rebuilds the embedded one itself.", err=True
        )
        raise typer.Exit(2)

    async def run() -> bool:
        res = Resources.open(settings)
        try:
            return await reconcile.rebuild(res)
        finally:
            await res.close()

    if not asyncio.run(run()):
        typer.echo("Error: another process is rebuilding right now; try again.", err=True)
        raise typer.Exit(1)
    typer.echo("Routing state rebuilt from the database.")


@app.command()
def stats(
    once: Annotated[
        bool, typer.Option("--once", help="Print one snapshot and exit (for scripts).")
    ] = False,
    every: Annotated[
        float, typer.Option("--every", help="Seconds between refreshes.", min=0.2)
    ] = 1.0,
) -> None:
    """The live queue, leaders and worker health, refreshing in place (Ctrl-C to stop)."""
    from rich.console import Console

    from teamtalk import db
    from teamtalk import stats as stats_view
    from teamtalk.embedded import EmbeddedValkey
    from teamtalk.settings import Settings

    settings = Settings()
    if settings.redis_url is None:  # the embedded default: the running server's Valkey
        running = EmbeddedValkey(settings.data_dir).running_url()
        if running is not None:
            settings = settings.model_copy(update={"redis_url": running})

    async def run(settings: Settings) -> None:
        if settings.embedded_database:
            engine = db.create_engine(settings.sqlalchemy_url)
            try:
                await db.upgrade_if_behind(engine)
            finally:
                await engine.dispose()
        await stats_view.show(settings, Console(), once=once, every=every)

    with redis_for(settings) as settings, contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(settings))


@app.command("demo")
def demo_command(
    simulate: Annotated[
        bool,
        typer.Option(
            "--simulate",
            help="Instead: drive a running server with simulated agents and leaders "
            "(the demo users) for a while, then print what they did.",
        ),
    ] = False,
    url: Annotated[
        str, typer.Option(help="--simulate: the running server.")
    ] = "http://127.0.0.1:8000",
    rate: Annotated[
        float,
        typer.Option(help="--simulate: new requests per MINUTE, all agents together.", min=0.1),
    ] = 30.0,
    duration: Annotated[
        float, typer.Option(help="--simulate: seconds of new requests.", min=1)
    ] = 60.0,
    agents: Annotated[
        int, typer.Option(help="--simulate: agents (past the demo's 6, created).", min=1, max=500)
    ] = 6,
    leaders: Annotated[
        int, typer.Option(help="--simulate: leaders (past the demo's 3, created).", min=1, max=200)
    ] = 3,
    password: Annotated[
        str | None, typer.Option(help="--simulate: the demo users' password [the demo's].")
    ] = None,
    think: Annotated[
        float, typer.Option(help="--simulate: mean seconds a person takes to act.", min=0.05)
    ] = 2.0,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="--simulate: plain progress lines, not a live table.")
    ] = False,
) -> None:
    """Add the demo team and topics to the database (existing data is kept); with
    --simulate, drive a running server with them instead."""
    from teamtalk.services import demo
    from teamtalk.settings import Settings

    if simulate:
        from teamtalk import simulate as simulation

        options = simulation.Options(
            url=url,
            rate=rate,
            duration=duration,
            agents=agents,
            leaders=leaders,
            password=password or demo.DEMO_PASSWORD,
            think=think,
            quiet=quiet,
        )
        raise typer.Exit(simulation.main(options))
    settings = Settings()
    logins = with_db(settings, lambda s: demo.add_demo_data(s, settings.default_capacity))
    typer.echo(f"Demo users ready (password: {logins[0].password}):")
    for login in logins:
        typer.echo(f"  {login.role.value:<11} {login.email}")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database schema (to the newest revision by default)."""
    from teamtalk import db
    from teamtalk.settings import Settings

    settings = Settings()

    async def run() -> None:
        engine = db.create_engine(settings.sqlalchemy_url)
        try:
            await db.upgrade(engine, revision)
        finally:
            await engine.dispose()

    asyncio.run(run())
    typer.echo(f"Database at {revision}.")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in email.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[Role, typer.Option(help="agent, teamleader or admin.")],
    password: Annotated[str | None, typer.Option(help="Prompted for when not given.")] = None,
    capacity: Annotated[int | None, typer.Option(help="Basket size for team leaders.")] = None,
) -> None:
    """Create a user."""
    with importing():
        from teamtalk.services import accounts
        from teamtalk.settings import Settings
        from teamtalk.text import check_email

    settings = Settings()
    if password is None:
        password = str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    try:
        check_email(email)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--email") from None
    if len(password) < 8:
        raise typer.BadParameter("the password needs at least 8 characters")
    user = with_db(
        settings,
        lambda s: accounts.create_user(
            s,
            email=email,
            display_name=name,
            role=role,
            password=password,
            capacity=capacity or settings.default_capacity,
        ),
    )
    typer.echo(f"Created {user.role} {user.email} (id {user.id}).")


@users_app.command("list")
def users_list() -> None:
    """List users."""
    from teamtalk.services import users
    from teamtalk.settings import Settings

    found = with_db(Settings(), users.list_users)
    for u in found:
        state = "active" if u.is_active else "deactivated"
        typer.echo(f"{u.id:>5}  {u.role:<11} {u.email:<40} {u.display_name} ({state})")


def _not_routing(user: User) -> User:
    """The CLI does not reach the running server's routing; a leader holding conversations
    is changed through the admin UI or API, which returns their basket to the queue."""
    from teamtalk.errors import Conflict
    from teamtalk.models import Presence

    if user.role == Role.TEAMLEADER and user.presence != Presence.OFFLINE:
        raise Conflict(
            f"{user.email} is {user.presence}; set them offline first, or use the admin page.",
            code="leader_online",
        )
    return user


@users_app.command("set-role")
def users_set_role(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    role: Annotated[Role, typer.Argument(help="agent, teamleader or admin.")],
) -> None:
    """Change a user's role."""
    from teamtalk.services import users
    from teamtalk.settings import Settings

    async def work(s: AsyncSession) -> None:
        user = _not_routing(await users.get_user_by_email(s, email))
        await users.update_user(s, None, None, user, role=role)

    with_db(Settings(), work)
    typer.echo(f"{email} is now {role.value}.")


@users_app.command("unlock")
def users_unlock(email: Annotated[str, typer.Argument(help="The user's email.")]) -> None:
    """End the sign-in backoff strangers' wrong passwords put on an account."""
    from teamtalk.resources import Resources
    from teamtalk.services import login_throttle, users
    from teamtalk.settings import Settings

    settings = Settings()
    redis_url = settings.redis_url
    if redis_url is None:
        typer.echo(
            "Error: needs REDIS_URL; on the embedded default an admin unlocks the account "
            "through the API (POST /api/users/ID/unlock).",
            err=True,
        )
        raise typer.Exit(2)

    async def work(s: AsyncSession) -> None:
        user = await users.get_user_by_email(s, email)
        res = Resources.open(settings)
        try:
            await login_throttle.clear_account(res, user.email)
        finally:
            await res.close()

    with_db(settings, work)
    typer.echo(f"{email} may sign in again from anywhere.")


@users_app.command("deactivate")
def users_deactivate(email: Annotated[str, typer.Argument(help="The user's email.")]) -> None:
    """Deactivate a user and end their sessions."""
    from teamtalk.services import users
    from teamtalk.settings import Settings

    async def work(s: AsyncSession) -> None:
        # Open sockets refuse a dead session at the next check; the admin API also
        # disconnects them at once.
        user = _not_routing(await users.get_user_by_email(s, email))
        await users.deactivate_user(s, None, None, user)

    with_db(Settings(), work)
    typer.echo(f"{email} is deactivated.")
