"""Commands for operation: ``sensing schedule`` (one machine), ``sensing deploy`` (workers), ``sensing status``."""

from __future__ import annotations

import json
import os
import signal
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli_options import DEFAULT_CONFIG, ConfigOpt, console, settings_or_exit
from pipelines.environment import configure_prefect, scheduler_file
from sensing.publish.storage import write_json_atomic

__all__ = ["deploy", "schedule", "status"]


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
    try:
        server = LocalPrefectServer(home, host=host, port=port, ui=ui)
    except (RuntimeError, TimeoutError) as exc:
        console.print(f"[red]error:[/red] --port {port}: {exc}")
        raise typer.Exit(2) from exc
    with server:
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
        record = scheduler_file(settings.data_dir)
        write_json_atomic(record, {"url": server.url, "pid": os.getpid()})
        try:
            serve(*deployments, limit=limit, print_starting_message=False)
        except KeyboardInterrupt:
            console.print("Stopping: the Prefect server and in-flight runs' processes.")
        finally:
            record.unlink(missing_ok=True)


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


def status(
    config: ConfigOpt = DEFAULT_CONFIG,
    limit: Annotated[int, typer.Option(help="How many recent runs (and run reports) to list.", min=1)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Recent flow runs, failures (scenes with reasons, runs that died), runs in progress, stale layers.

    Reads the Prefect API at PREFECT_API_URL, or the local one of the data folder; runs whose
    process died are marked Crashed on the way."""
    settings = settings_or_exit(config)
    configure_prefect(settings.data_dir)
    from pipelines.status import status as collect

    found = collect(settings, limit)
    if as_json:
        print(json.dumps(found, indent=2, default=str))
        return
    runs = Table("start", "flow", "run", "state", "s", title="Recent flow runs")
    for run in found["runs"]:
        state = run["state"] + (f": {run['message']}" if run["message"] else "")
        runs.add_row(run["start"] or "-", run["flow"], run["name"], state, f"{run['duration_s']:.0f}")
    console.print(runs)
    for dead in found["crashed_now"]:
        console.print(
            f"[yellow]marked Crashed:[/yellow] {dead['flow_run_id']} ({dead['flow']}): its process died"
        )
    for alive in found["running"]:
        console.print(
            f"running: {alive['flow_run_id']} ({alive['flow']}) pid {alive['pid']} since {alive['started']}"
        )
    failures = Table("run", "scene", "reason", title="Failures in recent run reports")
    for failure in found["failures"]:
        failures.add_row(str(failure["run_id"]), failure["scene"] or "-", failure["reason"])
    console.print(failures)
    stale = found["stale_layers"]
    if stale:
        for product, items in stale.items():
            console.print(
                f"stale: {len(items)} {product} layer(s) not at version {found['version']} (reprocess)"
            )
    else:
        console.print(f"No stale layer: everything published is at version {found['version']}.")
