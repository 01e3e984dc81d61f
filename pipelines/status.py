"""``sensing status``: recent flow runs, failures, runs that died, and stale layers, in one place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sensing.config import Settings
from sensing.publish.layout import OutputLayout

__all__ = ["recent_failures", "recent_runs", "stale_layers", "status"]


def recent_runs(limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` flow runs known to the Prefect API: flow, name, state, times."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit)
        flows = {run.flow_id: client.read_flow(run.flow_id).name for run in runs}
    return [
        {
            "id": str(run.id),
            "flow": flows[run.flow_id],
            "name": run.name,
            "state": run.state.name if run.state else None,
            "message": run.state.message if run.state and not run.state.is_completed() else None,
            "start": run.start_time.isoformat() if run.start_time else None,
            "duration_s": round(run.total_run_time.total_seconds(), 1),
            "auto_scheduled": run.auto_scheduled,
        }
        for run in runs
    ]


def recent_failures(layout: OutputLayout, reports: int) -> list[dict[str, Any]]:
    """Failed scenes (with reasons) and crashed runs found, from the newest ``reports`` run reports."""
    failures = []
    for path in sorted(layout.runs.glob("*.json"), reverse=True)[:reports]:
        report = json.loads(path.read_text())
        run = {"run_id": report.get("run_id"), "flow": report.get("flow"), "report": path.name}
        failures += [run | {"scene": f["scene"], "reason": f["reason"]} for f in report.get("failed", [])]
        failures += [
            run
            | {"scene": None, "reason": f"flow run {dead['flow_run_id']} ({dead.get('flow')}) died mid-run"}
            for dead in report.get("recovered", [])
        ]
    return failures


def stale_layers(layout: OutputLayout, settings: Settings) -> dict[str, list[str]]:
    """Per product, the item ids published under another version than the configuration's current one
    (the algorithm or a setting changed since: ``sensing reprocess`` brings them up to date)."""
    current = settings.version_key()
    stale: dict[str, list[str]] = {}
    for product in settings.published_products:
        for path in sorted((layout.stac_root / product).glob("*/*.json")):
            version = json.loads(path.read_text())["properties"].get("sensing:version")
            if version is not None and version != current:
                stale.setdefault(product, []).append(path.stem)
    return stale


def status(settings: Settings, limit: int) -> dict[str, Any]:
    """Everything ``sensing status`` shows. Runs whose process died are marked Crashed first."""
    from pipelines.run_guard import mark_dead_runs_crashed, running

    layout = OutputLayout(settings.output_dir)
    crashed = mark_dead_runs_crashed(layout.runs, found_by="sensing status")
    return {
        "running": running(layout.runs),
        "crashed_now": crashed,
        "runs": recent_runs(limit),
        "failures": recent_failures(layout, limit),
        "stale_layers": stale_layers(layout, settings),
        "version": settings.version_key(),
        "outputs": str(Path(layout.root)),
    }
