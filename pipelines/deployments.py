"""The deployments: ``nightly/nightly-<group>`` on the configured schedules, ``reprocess/reprocess``
and ``backfill/backfill`` for analysts (started from the Prefect UI, the API or the CLI), and
``land-season/land-season`` (seasonal land layers) on ``land.seasonal_cron``.

:func:`served` builds them for ``prefect.serve`` (``sensing schedule``: flow runs are subprocesses of
the serving process); :func:`deploy_to_pool` registers them for workers of a work pool (process
workers on this machine, or Docker/Kubernetes workers running the project's image).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import Flow

from pipelines.backfill import backfill
from pipelines.flows import nightly, reprocess
from pipelines.land_flows import land_season
from sensing.config import ScheduleGroup, Settings, load_settings

__all__ = ["PROJECT_ROOT", "deploy_to_pool", "served"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINTS = {
    "nightly": "pipelines/flows.py:nightly",
    "reprocess": "pipelines/flows.py:reprocess",
    "backfill": "pipelines/backfill.py:backfill",
    "land-season": "pipelines/land_flows.py:land_season",
}


def _schedule(group: ScheduleGroup, timezone: str) -> CronSchedule | IntervalSchedule:
    if group.cron is not None:
        return CronSchedule(cron=group.cron, timezone=timezone)
    assert group.interval_s is not None
    return IntervalSchedule(interval=group.interval_s, timezone=timezone)


def _nightly(name: str, group: ScheduleGroup, config: str, timezone: str) -> dict[str, Any]:
    return {
        "schedules": [_schedule(group, timezone)],
        "parameters": {"config": config, "products": list(group.products)},
        "tags": ["nightly", name],
        "description": f"Nightly {name} products: {', '.join(group.products)}.",
    }


def _specs(config: Path, settings: Settings) -> list[tuple[str, str, dict[str, Any]]]:
    """(flow, deployment name, to_deployment keywords) of every deployment."""
    path = str(config.resolve())
    timezone = settings.schedule.timezone
    specs = [
        ("nightly", f"nightly-{name}", _nightly(name, group, path, timezone))
        for name, group in settings.schedule_groups().items()
    ]
    on_demand = {
        "reprocess": "Reprocess an AOI over a period (products, force, source).",
        "backfill": "A long period by month x AOI, as reprocess runs under a concurrency limit.",
    }
    for flow, about in on_demand.items():
        specs.append(
            (flow, flow, {"parameters": {"config": path}, "tags": ["analyst"], "description": about})
        )
    if settings.source.sensor == "optical":
        seasonal = {
            "schedules": [CronSchedule(cron=settings.land.seasonal_cron, timezone=timezone)],
            "parameters": {"config": path}, "tags": ["seasonal", "land"],
            "description": "Snow-cover duration of the last snow season and the NDVI trend of the growing seasons.",
        }  # fmt: skip
        specs.append(("land-season", "land-season", seasonal))
    return specs


FLOWS: dict[str, Flow[Any, Any]] = {
    "nightly": nightly, "reprocess": reprocess, "backfill": backfill, "land-season": land_season,
}  # fmt: skip


def served(config: Path) -> list[RunnerDeployment]:
    """Every deployment of ``config`` for ``prefect.serve``."""
    settings = load_settings(config)
    return [FLOWS[flow].to_deployment(name=name, **kw) for flow, name, kw in _specs(config, settings)]


def deploy_to_pool(config: Path, pool: str, image: str | None = None) -> list[str]:
    """Register every deployment of ``config`` with work pool ``pool``; return their ids.

    Without ``image`` the flows' code is this checkout (process workers on this machine or with the
    same path); with it, Docker/Kubernetes workers run that image (the project's Dockerfile) and
    ``config`` must be a path inside it.
    """
    settings = load_settings(config)
    ids = []
    for flow_name, name, kw in _specs(config, settings):
        if image is None:
            flow = Flow.from_source(source=str(PROJECT_ROOT), entrypoint=ENTRYPOINTS[flow_name])
            deployment_id = flow.deploy(name=name, work_pool_name=pool, print_next_steps=False, **kw)
        else:
            deployment_id = FLOWS[flow_name].deploy(
                name=name, work_pool_name=pool, image=image, build=False, push=False,
                print_next_steps=False, **kw,
            )  # fmt: skip
        ids.append(str(deployment_id))
    return ids
