"""The `tiangong` command."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import typer

from tiangong.config import get_settings

app = typer.Typer(help="Tiangong: a self-hosted AI agent platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before starting")] = True,
) -> None:
    """Run the API server."""
    import uvicorn

    from tiangong.db import migrate as migrations

    settings = get_settings()
    if migrate:
        # Once, in the parent, before any worker starts.
        migrations.upgrade()
    uvicorn.run(
        "tiangong.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


@app.command()
def worker(
    grace: Annotated[
        float, typer.Option(min=0, help="Seconds running jobs get to finish on SIGTERM")
    ] = 10.0,
) -> None:
    """Run background jobs (ingestion, Feishu replies, goal runs) from TIANGONG_QUEUE_URL."""
    from tiangong.cache import close_cache
    from tiangong.db.engine import dispose_engine
    from tiangong.feishu.jobs import FeishuWorker
    from tiangong.goals.jobs import GoalWorker
    from tiangong.knowledge.lifecycle import IngestionWorker
    from tiangong.logs import configure_logging
    from tiangong.queue import close_queue
    from tiangong.queue.worker import serve

    settings = get_settings()
    if not settings.queue_url:
        typer.echo("error: a worker needs a shared queue; set TIANGONG_QUEUE_URL", err=True)
        raise typer.Exit(2)
    configure_logging(settings.log_level, settings.log_format)

    async def run() -> None:
        try:
            await serve([IngestionWorker(), FeishuWorker(), GoalWorker()], grace_s=grace)
        finally:
            await close_queue()
            await close_cache()
            await dispose_engine()

    asyncio.run(run())


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from tiangong.db import migrate as migrations

    migrations.upgrade(revision)
    typer.echo(f"database upgraded to {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Revert migrations down to REVISION (default: one step)."""
    from tiangong.db import migrate as migrations

    migrations.downgrade(revision)
    typer.echo(f"database downgraded to {revision}")


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(prompt=True)],
    nickname: Annotated[str, typer.Option(prompt=True)],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    admin: Annotated[bool, typer.Option("--admin", help="Give the admin role")] = False,
) -> None:
    """Create a user (the first user, or one made with --admin, is an administrator)."""
    from pydantic import ValidationError

    from tiangong.auth import service
    from tiangong.auth.schemas import UserCreate
    from tiangong.db.engine import dispose_engine, session_factory
    from tiangong.errors import AppError

    try:
        data = UserCreate(email=email, nickname=nickname, password=password)
    except ValidationError as exc:
        typer.echo(
            f"invalid input: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}", err=True
        )
        raise typer.Exit(2) from exc

    async def run() -> tuple[str, str]:
        try:
            async with session_factory()() as session:
                user = await service.register(session, data, admin=admin)
                await session.commit()
                return user.id, user.role
        finally:
            await dispose_engine()

    try:
        user_id, role = asyncio.run(run())
    except AppError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created user {user_id} ({role})")


@app.command()
def openapi() -> None:
    """Print the OpenAPI document as JSON, without starting a server."""
    from tiangong.app import create_app

    json.dump(create_app().openapi(), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    app()
