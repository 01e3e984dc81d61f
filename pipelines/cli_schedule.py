"""Commands for scheduled operation: ``sensing schedule`` (one machine) and ``sensing deploy`` (workers)."""

from __future__ import annotations

import os
import signal
from typing import Annotated

import typer

from pipelines.cli_options import DEFAULT_CONFIG, ConfigOpt, console, settings_or_exit
from pipelines.environment import configure_prefect

__all__ = ["deploy", "schedule"]


def schedule(
    config: ConfigOpt = DEFAULT_CONFIG,
    host: Annotated[str, typer.Option(help="Interface of the Prefect server (API and UI).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port of the Prefect server.")] = 4200,
    limit: Annotated[int, typer.Option(help="Flow runs at most at once.", min=1)] = 4,
    ui: Annotated[bool, typer.Option("--ui/--no-ui", help="Serve Prefect's UI.")] = True,
) -> None:
    """Start a local Prefect server (SQLite, UI) and run the deployments on their schedules until stopped:
    nightly-<group> per project group, reprocess and backfill on demand (UI, API)."""
    from pipelines.prefect_server import LocalPrefectServer

    settings = settings_or_exit(config)
    home = (settings.data_dir / "prefect-server").resolve()
    console.print(f"Starting prefect server on {host}:{port} (state in {home})...")
    with LocalPrefectServer(home, host=host, port=port, ui=ui) as server:
        os.environ.update(server.env)
        configure_prefect(settings.data_dir)
        from prefect import serve

        from pipelines.deployments import served

        deployments = served(config.resolve())
        groups = settings.schedule_groups()
        for name, group in groups.items():
            when = f"cron '{group.cron}'" if group.cron else f"every {group.interval_s} s"
            console.print(
                f"  nightly-{name}: {when} ({settings.schedule.timezone}): {', '.join(group.products)}"
            )
        console.print(f"UI: http://{host}:{port}/  API: {server.url}  (Ctrl-C to stop)")
        signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop also stops the server
        try:
            serve(*deployments, limit=limit, print_starting_message=False)
        except KeyboardInterrupt:
            console.print("Stopping: the Prefect server and in-flight runs' processes.")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def deploy(
    pool: Annotated[str, typer.Option(help="Work pool whose workers run the flows.")],
    image: Annotated[
        str | None,
        typer.Option(help="Container image for Docker/Kubernetes pools (the project's Dockerfile)."),
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Register the deployments with a work pool on the Prefect server at PREFECT_API_URL."""
    settings = settings_or_exit(config)
    if not os.environ.get("PREFECT_API_URL"):
        console.print(
            "[red]error:[/red] PREFECT_API_URL: set it to the Prefect server's API (http://HOST:PORT/api)"
        )
        raise typer.Exit(2)
    configure_prefect(settings.data_dir)
    from pipelines.deployments import deploy_to_pool

    ids = deploy_to_pool(config.resolve(), pool, image)
    console.print(f"{len(ids)} deployment(s) registered with work pool {pool!r}")
