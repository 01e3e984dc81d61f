"""The ``land-season`` flow: seasonal land layers from what the nightly runs published."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger

from pipelines.notify import on_run_failure
from sensing.cluster import dask_client
from sensing.config import Settings, load_settings
from sensing.errors import ConfigError
from sensing.land_seasons import publish_ndvi_trend, publish_season_percentiles, publish_snow_days
from sensing.parcel_products import publish_parcel_labels
from sensing.publish.layout import OutputLayout
from sensing.publish.locks import file_lock
from sensing.summaries import class_layers
from sensing.workflow import refresh_catalog

__all__ = ["land_season", "last_growing_season", "last_season_of_months", "last_snow_season"]


def last_snow_season(settings: Settings, today: dt.date) -> tuple[dt.date, dt.date]:
    """The latest snow season (``land.snow_season``) that ended before ``today``."""
    start_md, end_md = settings.land.snow_season
    end = dt.date.fromisoformat(f"{today.year}-{end_md}")
    if end >= today:
        end = dt.date.fromisoformat(f"{today.year - 1}-{end_md}")
    start = dt.date.fromisoformat(f"{end.year}-{start_md}")
    return (start.replace(year=end.year - 1) if start > end else start), end


def last_growing_season(settings: Settings, today: dt.date) -> tuple[dt.date, dt.date]:
    """The latest growing season (``land.growing_months``) that ended before ``today``."""
    return last_season_of_months(settings.land.growing_months, today)


def last_season_of_months(months: tuple[int, int], today: dt.date) -> tuple[dt.date, dt.date]:
    """The first day of the first month and the last day of the last month of the latest such season
    that ended before ``today``."""
    first, last = months
    year = (
        today.year
        if dt.date(today.year, last, calendar.monthrange(today.year, last)[1]) < today
        else today.year - 1
    )
    return dt.date(year, first, 1), dt.date(year, last, calendar.monthrange(year, last)[1])


def _trend_years(settings: Settings, today: dt.date) -> list[int]:
    """Years whose growing season has ended before ``today`` and has monthly NDVI medians."""
    first, last = settings.land.growing_months
    published = class_layers(OutputLayout(settings.output_dir), "ndvi-median", settings.aoi.id)
    ended = [y for y in published if dt.date(y, last, 28) < today]
    return sorted(y for y in ended if any(first <= lay.date.month <= last for lay in published[y]))


@flow(name="land-season", log_prints=True, on_failure=[on_run_failure], on_crashed=[on_run_failure])
def land_season(config: str, today: dt.date | None = None) -> dict[str, Any]:
    """Publish the snow-cover duration of the last finished snow season, the NDVI percentiles of the
    last finished growing season, the NDVI trend over every finished growing season published so far
    and the labels of ``land.parcels`` over the last parcel season (``land.parcel_months``); a layer without enough inputs is
    skipped with the reason in the result (and the run log)."""
    logger = get_run_logger()
    settings = load_settings(config)
    today = today or dt.datetime.now(ZoneInfo(settings.schedule.timezone)).date()
    start, end = last_snow_season(settings, today)
    years = _trend_years(settings, today)
    growing = last_growing_season(settings, today)
    jobs = {
        "snow-days": lambda: publish_snow_days(settings, start, end),
        "ndvi-percentiles": lambda: publish_season_percentiles(settings, *growing),
        "ndvi-trend": lambda: publish_ndvi_trend(settings, years[0], years[-1], settings.land.growing_months),
        "parcel-labels": lambda: publish_parcel_labels(
            settings, *last_season_of_months(settings.land.parcel_months, today)
        ),
    }
    result: dict[str, Any] = {}
    with dask_client(settings.dask), file_lock(OutputLayout(settings.output_dir).lock):
        for product, publish in jobs.items():
            try:
                if product == "ndvi-trend" and len(years) < 3:
                    raise ConfigError(f"growing seasons with NDVI medians: {years}; a trend needs 3")
                result[product] = publish()
            except ConfigError as exc:
                result[product] = f"skipped: {exc}"
                logger.warning("%s %s", product, result[product])
        refresh_catalog(settings)
    return result
