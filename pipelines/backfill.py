"""The ``backfill`` flow: a long period cut into month x AOI partitions, each a ``reprocess`` run.

Each partition is a run of the ``reprocess/reprocess`` deployment (its own flow run: visible,
retryable, logged), started by this flow and linked to it as a sub-run. At most ``concurrency``
partitions are in flight: the flow itself holds the limit, so nothing depends on server-side
concurrency leases that a killed process could leave taken.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment

from pipelines.flows import DEFAULT_CONFIG
from pipelines.notify import on_run_failure
from sensing.config import load_settings
from sensing.errors import ConfigError, SensingError
from sensing.preflight import check_run_request
from sensing.selection import select

__all__ = ["REPROCESS_DEPLOYMENT", "backfill", "month_partitions"]

REPROCESS_DEPLOYMENT = "reprocess/reprocess"
POLL_S = 2.0


def month_partitions(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """``start``..``end`` cut at calendar months: [(first, last), ...], both ends inclusive."""
    if start > end:
        raise ConfigError(f"start: {start} is after end {end}")
    parts = []
    first = start
    while first <= end:
        next_month = (first.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        last = min(end, next_month - dt.timedelta(days=1))
        parts.append((first, last))
        first = next_month
    return parts


@flow(name="backfill", log_prints=True, on_failure=[on_run_failure], on_crashed=[on_run_failure])
def backfill(
    aois: list[str],
    start: dt.date,
    end: dt.date,
    products: list[str] | None = None,
    force: bool = False,
    config: str = DEFAULT_CONFIG,
    concurrency: int | None = None,
) -> dict[str, Any]:
    """Reprocess ``aois`` over ``start``..``end`` by month, at most ``concurrency`` partitions at once
    (default: schedule.backfill_concurrency). Every AOI and product is checked before any partition
    starts; the run fails at the end, naming them, if any partition failed."""
    logger = get_run_logger()
    if not aois:
        raise ConfigError("aois: give at least one AOI (configured id or GeoJSON file)")
    if start > end:
        raise ConfigError(f"start: {start} is after end {end}")
    for aoi in aois:
        check_run_request(select(Path(config), aoi, products=products), aoi_field=f"aois ({aoi})")
    limit = concurrency or load_settings(config).schedule.backfill_concurrency
    pending = [(aoi, first, last) for aoi in aois for first, last in month_partitions(start, end)]
    logger.info("%d partition(s), at most %d at once", len(pending), limit)
    running: dict[UUID, tuple[str, dt.date, dt.date]] = {}
    outcome: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        while pending or running:
            while pending and len(running) < limit:
                aoi, first, last = pending.pop(0)
                child = run_deployment(
                    REPROCESS_DEPLOYMENT,
                    parameters={"aoi": aoi, "start": first.isoformat(), "end": last.isoformat(),
                                "products": products, "force": force, "config": config},
                    flow_run_name=f"reprocess-{Path(aoi).stem}-{first:%Y-%m}",
                    timeout=0,
                )  # fmt: skip
                running[child.id] = (aoi, first, last)
            time.sleep(POLL_S)
            for run_id in list(running):
                state = client.read_flow_run(run_id).state
                if state is not None and state.is_final():
                    aoi, first, _ = running.pop(run_id)
                    outcome[f"{aoi} {first:%Y-%m}"] = state.type.value
                    logger.info("%s %s: %s", aoi, f"{first:%Y-%m}", state.type.value)
    failed = sorted(key for key, value in outcome.items() if value != "COMPLETED")
    if failed:
        raise SensingError(
            f"backfill: {len(failed)} of {len(outcome)} partition(s) did not complete: {failed}"
        )
    return {"partitions": outcome}
