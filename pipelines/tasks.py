"""Thin Prefect tasks: each calls one library function. Retries only for RetryableError.

No ``timeout_seconds``: these tasks run in the flow's thread pool, where Prefect cannot interrupt
blocking IO, so a timeout would only be reported after the fact. Finite timeouts belong to the
network clients of the sources.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from sensing import workflow
from sensing.alerts import Alert, post_alerts
from sensing.config import Settings
from sensing.errors import RetryableError
from sensing.events import FloodEvent
from sensing.events import publish_flood as publish_flood_event
from sensing.land_products import publish_monthly_composites
from sensing.models import SceneRef, SceneResult
from sensing.publish.layout import OutputLayout
from sensing.publish.locks import file_lock
from sensing.sources import open_source
from sensing.waterbodies import WaterBody


def _retry_only_retryable(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry transient failures, never bad input."""
    try:
        state.result()
    except RetryableError:
        return True
    except Exception:
        return False
    return False


@task(
    name="search-scenes", retries=3, retry_delay_seconds=[10, 30, 90],
    retry_condition_fn=_retry_only_retryable, cache_policy=NO_CACHE,
)  # fmt: skip
def search_scenes(settings: Settings, start: dt.date, end: dt.date) -> list[SceneRef]:
    """Scenes over the AOI in the period."""
    return workflow.scenes_for_period(settings, open_source(settings.source, settings.data_dir), start, end)


@task(
    name="process-scene", task_run_name="process-{scene.id}", retries=2, retry_delay_seconds=[30, 120],
    retry_condition_fn=_retry_only_retryable, cache_policy=NO_CACHE,
)  # fmt: skip
def process_scene(settings: Settings, scene: SceneRef, bodies: list[WaterBody], force: bool) -> SceneResult:
    """Classify and publish one scene (skipped when already published at this version)."""
    return workflow.process_scene(
        settings, open_source(settings.source, settings.data_dir), scene, bodies, force=force
    )


@task(name="publish-run", cache_policy=NO_CACHE)
def publish_run(settings: Settings, results: list[SceneResult]) -> list[Alert]:
    """Summaries, collections, water-area table, alerts and tile metadata for the run's results."""
    return workflow.publish_run(settings, results)


@task(name="publish-flood", cache_policy=NO_CACHE)
def publish_flood(settings: Settings, event: FloodEvent, bodies: list[WaterBody]) -> list[dict[str, Any]]:
    """Flood extent of the event from the run's class layers: layer, polygons and areas (as rows)."""
    product = "water-sar" if settings.source.sensor == "sar" else "water"
    with file_lock(OutputLayout(settings.output_dir).lock):
        rows = publish_flood_event(settings, product, event, bodies)
        workflow.refresh_catalog(settings)
    return list(rows.to_dict("records"))


@task(name="publish-composites", cache_policy=NO_CACHE)
def publish_composites(settings: Settings, dates: list[dt.date]) -> list[str]:
    """Monthly NDVI composites of the months of ``dates`` (STAC item ids written), then the catalog."""
    with file_lock(OutputLayout(settings.output_dir).lock):
        written = publish_monthly_composites(settings, dates)
        if written:
            workflow.refresh_catalog(settings)
    return written


@task(name="notify-alerts", cache_policy=NO_CACHE)
def notify_alerts(alerts: list[Alert], url: str, context: dict[str, object]) -> str:
    """POST the run's alerts to the configured webhook (a failure is reported, never raised)."""
    return post_alerts(alerts, url, context=context)
