"""Prefect flows: ``nightly`` (scheduled) and ``reprocess`` (analysts: an AOI and a period)."""

from __future__ import annotations

import datetime as dt
import functools
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.context import get_run_context
from prefect.task_runners import ThreadPoolTaskRunner

from pipelines import tasks
from pipelines.environment import stamp_library_records
from pipelines.notify import failure_webhook, notify, on_run_failure
from pipelines.progress import progress_bar
from pipelines.report import run_summary, summary_markdown
from pipelines.run_guard import active_run, mark_dead_runs_crashed, release_run
from sensing.alerts import Alert
from sensing.cluster import dask_client
from sensing.config import Settings, load_settings
from sensing.errors import ConfigError
from sensing.events import FloodEvent
from sensing.land_products import composited_indices
from sensing.models import SceneResult, sensor_name
from sensing.preflight import check_run_request
from sensing.publish.layout import OutputLayout
from sensing.publish.storage import write_json_atomic
from sensing.publish.tables import read_water_areas
from sensing.registry import load_water_bodies
from sensing.selection import select
from sensing.workflow import SCENE_CONCURRENCY

__all__ = ["DEFAULT_CONFIG", "nightly", "reprocess"]

DEFAULT_CONFIG = str(Path(__file__).resolve().parent.parent / "configs" / "demo.yaml")


stamp_library_records()


def _release_marker(flow: Any, flow_run: Any, state: Any) -> None:
    """Hook on a final state (called once the API has recorded it): the run's marker goes."""
    release_run(str(flow_run.id))


scene_flow = functools.partial(
    flow,
    task_runner=ThreadPoolTaskRunner(max_workers=SCENE_CONCURRENCY),
    log_prints=True,
    on_completion=[_release_marker],
    on_failure=[on_run_failure, _release_marker],
    on_crashed=[on_run_failure, _release_marker],
    on_cancellation=[_release_marker],
)
"""The flows over scenes: SCENE_CONCURRENCY scenes at once, failures and crashes notified; the run's
marker (outputs/runs/active) removed once Prefect has recorded its final state."""


def _run(name: str, settings: Settings, start: dt.date, end: dt.date, force: bool) -> dict[str, Any]:
    check_run_request(settings)
    logger = get_run_logger()
    layout = OutputLayout(settings.output_dir)
    run_id = str(get_run_context().flow_run.id)  # type: ignore[union-attr]
    recovered = mark_dead_runs_crashed(layout.runs, found_by=f"flow run {run_id}")
    webhook = failure_webhook(settings)
    for dead in recovered:
        how = "never reported its final state" if dead.get("work_finished") else "died mid-run"
        logger.warning("flow run %s (%s) %s: marked Crashed", dead["flow_run_id"], dead["flow"], how)
        notify(webhook, "flow-run-crashed", dead | {"found_by": run_id})
    with active_run(layout.runs, run_id, name):
        results, alerts, timings = _process(settings, start, end, force, logger)
    table = read_water_areas(layout.water_areas)
    summary = run_summary(name, results, layout.root, table, alerts)
    summary |= {"run_id": run_id, "aoi": settings.aoi.id, "timings_s": timings, "recovered": recovered}
    if summary["failed"]:
        failed = {"flow": name, "flow_run_id": run_id, "aoi": settings.aoi.id, "failed": summary["failed"]}
        summary["failure_webhook"] = notify(webhook, "scenes-failed", failed)
    if alerts and settings.alerts.webhook_url:
        context = {"flow": name, "run_id": run_id, "aoi": settings.aoi.id}
        summary["webhook"] = tasks.notify_alerts(alerts, settings.alerts.webhook_url, context)
        logger.info("alerts webhook: %s", summary["webhook"])
    write_json_atomic(layout.runs / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{run_id}.json", summary)
    create_markdown_artifact(
        key=f"{name}-run-report", markdown=summary_markdown(summary, table), description=f"{name} run"
    )
    return summary


def _process(
    settings: Settings, start: dt.date, end: dt.date, force: bool, logger: Any
) -> tuple[list[SceneResult], list[Alert], dict[str, float]]:
    """Search, process every scene (one failure does not stop the others), publish; with stage timings."""
    bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 2)
        clock = now

    with dask_client(settings.dask) as client:
        logger.info("Dask: %s", client)
        lap("dask_start")
        scenes = tasks.search_scenes(settings, start, end)
        logger.info("%d scene(s) from %s to %s over %s", len(scenes), start, end, settings.aoi.id)
        lap("search")
        futures = [tasks.process_scene.submit(settings, scene, bodies, force) for scene in scenes]
        results: list[SceneResult] = []
        with progress_bar("Scenes", len(scenes), logger) as advance:
            for scene, future in zip(scenes, futures, strict=True):
                outcome = future.result(raise_on_failure=False)
                if isinstance(outcome, SceneResult):
                    results.append(outcome)
                else:  # one broken scene is recorded and the night goes on
                    reason = f"{type(outcome).__name__}: {outcome}"
                    sensor = sensor_name(scene.platform, settings.source.sensor)
                    results.append(SceneResult(scene.id, scene.date, "failed", reason=reason, sensor=sensor))
                advance(f"{scene.id} {results[-1].status}")
        lap("scenes")
        alerts = tasks.publish_run(settings, results)
        lap("publish")
        if settings.publish.composites and composited_indices(settings):
            processed = [r.date for r in results if r.status == "processed"]
            composites = tasks.publish_composites(settings, processed) if processed else []
            logger.info("%d monthly composite layer(s) published", len(composites))
            lap("composites")
    return results, alerts, timings


@scene_flow(name="nightly")
def nightly(
    config: str = DEFAULT_CONFIG, night: dt.date | None = None, products: list[str] | None = None
) -> dict[str, Any]:
    """Process every scene acquired up to ``night`` (default: today in schedule.timezone) not yet published;
    ``products``: only these (a project group's), default every configured product."""
    settings = load_settings(config)
    if products:
        settings = select(Path(config), settings.aoi.id, products=products)
    end = night or dt.datetime.now(ZoneInfo(settings.schedule.timezone)).date()
    start = settings.nightly.since or dt.date(1984, 1, 1)
    if settings.nightly.lookback_days:
        start = max(start, end - dt.timedelta(days=settings.nightly.lookback_days))
    return _run("nightly", settings, start, end, force=False)


@scene_flow(name="reprocess")
def reprocess(
    aoi: str,
    start: dt.date,
    end: dt.date,
    products: list[str] | None = None,
    force: bool = False,
    config: str = DEFAULT_CONFIG,
    source: str | None = None,
    units: str | None = None,
    flood: str | None = None,
) -> dict[str, Any]:
    """Reprocess an AOI (configured id or GeoJSON file) over a period, from the configured source or
    ``source`` (a provider name or a local catalog folder); ``force`` rewrites published layers;
    ``units`` tells radar sources' backscatter units (linear, db, auto); ``flood`` (``classes`` or
    ``ratio``) also publishes the period's flood extent as an event."""
    if start > end:
        raise ConfigError(f"start: {start} is after end {end}")
    if flood not in (None, "classes", "ratio"):
        raise ConfigError(f"flood: unknown method {flood!r}; use classes or ratio")
    settings = select(Path(config), aoi, source=source, products=products, sar_units=units)
    summary = _run("reprocess", settings, start, end, force=force)
    if flood:
        event = FloodEvent(f"{start}_{end}", start, end, method=flood)
        bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
        summary["flood"] = tasks.publish_flood(settings, event, bodies)
    return summary
