"""Seasonal land products, published from the published layers of a season or of several years.

* ``dnbr`` and ``burn-severity`` of a fire event: the median NBR of the clear observations of a window
  before the fire minus that of a window after it, in the USGS severity classes (or the breaks given),
  with the burned area per class in ``tables/burns``.

* ``snow-days``: snow-cover duration over a season (default the hydrological winter) from the water
  class layers: snow/ice (the NDSI test with the green brightness test, or the archive's snow class)
  against dry land and water; cloud and no data are not observations.
* ``ndvi-p10``, ``ndvi-p50``, ``ndvi-p90``: percentiles of a season's clear NDVI observations.
* ``ndvi-trend`` and ``ndvi-trend-class``: per-pixel Theil-Sen slope of each year's growing-season
  median NDVI (the median of the published monthly medians of the season's months) and whether the
  Mann-Kendall test calls it a significant decline or increase.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray
import xarray as xr

from sensing.compute.burn import USGS_DNBR_BREAKS, burn_severity, class_areas_km2, dnbr, validate_breaks
from sensing.compute.composites import time_median
from sensing.compute.condition import theil_sen_trend, trend_classes
from sensing.compute.encode import to_scaled_int16
from sensing.compute.snow import snow_duration_days
from sensing.compute.water import CLASS_DRY, CLASS_SNOW_ICE, CLASS_WATER
from sensing.config import Settings
from sensing.errors import ConfigError
from sensing.grid import aoi_geobox, pixel_area_m2
from sensing.layer_stacks import class_stack, season_layer_stack, season_stacks
from sensing.products import PERCENTILES, product_spec
from sensing.publish.derived import inputs_version, period_metadata, publish_derived
from sensing.publish.layout import OutputLayout, item_id
from sensing.publish.tables import upsert_frame
from sensing.summaries import class_layers

__all__ = ["publish_burn", "publish_ndvi_trend", "publish_season_percentiles", "publish_snow_days"]

SNOW_NODATA = 65535


def publish_snow_days(settings: Settings, start: dt.date, end: dt.date) -> list[str]:
    """``snow-days`` of the season [start, end] over the AOI (days, rounded; 65535 where no date was
    clear); the item ids written."""
    if start >= end:
        raise ConfigError(f"snow season: --start {start} is not before --end {end}")
    layout = OutputLayout(settings.output_dir)
    aoi = settings.aoi.id
    classes = class_stack(layout, aoi, start, end, settings.dask.chunk).chunk({"time": -1})
    dates = [dt.date.fromisoformat(str(t)[:10]) for t in classes["time"].values]
    snow = classes == CLASS_SNOW_ICE
    clear = classes.isin([CLASS_DRY, CLASS_WATER, CLASS_SNOW_ICE])
    days = snow_duration_days(snow, clear, start.isoformat(), (end + dt.timedelta(days=1)).isoformat())
    stored = days.round().fillna(SNOW_NODATA).astype("uint16")
    meta = period_metadata(
        settings, start, end, inputs_version(layout, aoi, ("water",), dates, "s", (start, end)),
        [item_id("water", aoi, d) for d in dates],
        **{"sensing:dates": [d.isoformat() for d in dates],
           "sensing:snow_source": "water class layer: snow/ice against dry land and water",
           "sensing:interpolation": "nearest clear observation in time"},
    )  # fmt: skip
    return publish_derived(settings, {"snow-days": stored}, meta)


def publish_ndvi_trend(
    settings: Settings, first_year: int, last_year: int, months: tuple[int, int] = (5, 9), level: float = 0.05
) -> list[str]:
    """``ndvi-trend`` (slope per year) and ``ndvi-trend-class`` (1 significant decline, 2 significant
    increase at p < ``level``, 0 neither, 255 fewer than 3 years) from each year's growing-season
    median NDVI; needs monthly medians in at least 3 years."""
    if first_year > last_year:
        raise ConfigError(f"trend: --first-year {first_year} is after --last-year {last_year}")
    if not 1 <= months[0] <= months[1] <= 12:
        raise ConfigError(f"trend: --months {months[0]}-{months[1]} is not a range of months")
    layout = OutputLayout(settings.output_dir)
    aoi, chunk = settings.aoi.id, settings.dask.chunk
    published = class_layers(layout, "ndvi-median", aoi)  # the STAC items, read once
    in_season = {
        y: [lay for lay in published.get(y, []) if months[0] <= lay.date.month <= months[1]]
        for y in range(first_year, last_year + 1)
    }
    # each year's value: the median of its published monthly medians of the season's months
    yearly = {
        y: time_median(season_layer_stack(layout, lays, chunk)) for y, lays in in_season.items() if lays
    }
    if len(yearly) < 3:
        raise ConfigError(
            f"trend: monthly NDVI medians of months {months[0]}-{months[1]} in {sorted(yearly)} only; "
            "a trend needs at least 3 years (publish NDVI for those years first)"
        )
    middle = (months[0] + months[1]) // 2
    times = xr.DataArray([dt.datetime(y, middle, 15) for y in yearly], dims="time", name="time")
    series = xr.concat(list(yearly.values()), dim=times).chunk({"time": -1})
    trend = theil_sen_trend(series)
    classes = xr.apply_ufunc(
        trend_classes, trend["slope_per_year"], trend["p_value"], kwargs={"level": level},
        dask="parallelized", output_dtypes=[np.uint8],
    )  # fmt: skip
    scale = product_spec("ndvi-trend").cog
    years = sorted(yearly)
    medians = [lay for y in years for lay in in_season[y]]
    version = f"t{years[0]}-{years[-1]}-" + inputs_version(
        layout, aoi, ("ndvi-median",), [m.date for m in medians], "m", (months, level)
    )
    meta = period_metadata(
        settings, dt.date(years[0], 1, 1), dt.date(years[-1], 12, 31), version,
        [item_id("ndvi-median", aoi, m.date) for m in medians],
        **{"sensing:years": years, "sensing:season_months": list(months), "sensing:significance_level": level,
           "sensing:method": "Theil-Sen slope, Mann-Kendall test (continuity-corrected, no tie correction)"},
    )  # fmt: skip
    layers = {
        "ndvi-trend": to_scaled_int16(trend["slope_per_year"], scale.scale, scale.offset),
        "ndvi-trend-class": classes,
    }
    return publish_derived(settings, layers, meta)


def _median_nbr(
    layout: OutputLayout, aoi: str, window: tuple[dt.date, dt.date], chunk: int
) -> tuple[xr.DataArray, list[dt.date]]:
    """The median NBR of the clear dry-land observations in ``window`` (first, last) and the dates used:
    water does not burn, and a shoreline's NBR follows the water level."""
    nbr, clear = season_stacks(layout, aoi, "nbr", window[0], window[1], chunk, clear_classes=(CLASS_DRY,))
    dates = [dt.date.fromisoformat(str(t)[:10]) for t in nbr["time"].values]
    return time_median(nbr, clear), dates


def publish_burn(
    settings: Settings, name: str, pre: tuple[dt.date, dt.date], post: tuple[dt.date, dt.date],
    breaks: tuple[float, ...] = USGS_DNBR_BREAKS,
) -> pd.DataFrame:  # fmt: skip
    """Publish a fire event: ``dnbr`` (median NBR of the clear observations before minus after) and
    ``burn-severity`` (its classes at ``breaks``), dated at the post window's start, with the area per
    class in ``tables/burns``; return those rows. Needs the per-scene ``nbr`` product."""
    for label, (first, last) in (("--pre", pre), ("--post", post)):
        if first > last:
            raise ConfigError(f"burn {name}: {label} window starts {first}, after its end {last}")
    if pre[1] >= post[0]:
        raise ConfigError(
            f"burn {name}: the --pre window must end before the --post window starts ({pre[1]} >= {post[0]})"
        )
    breaks = validate_breaks(breaks)
    layout = OutputLayout(settings.output_dir)
    aoi, chunk = settings.aoi.id, settings.dask.chunk
    (before, pre_dates), (after, post_dates) = (_median_nbr(layout, aoi, w, chunk) for w in (pre, post))
    change = dnbr(before, after)
    classes = burn_severity(change, breaks)
    scale = product_spec("dnbr").cog
    dates = [*pre_dates, *post_dates]
    meta = period_metadata(
        settings, post[0], post[1], f"{name}-{inputs_version(layout, aoi, ('nbr', 'water'), dates, 'f', (pre, post, breaks))}",
        [item_id("nbr", aoi, d) for d in dates],
        **{"sensing:event": name, "sensing:pre_window": [pre[0].isoformat(), pre[1].isoformat()],
           "sensing:pre_dates": [d.isoformat() for d in pre_dates],
           "sensing:post_dates": [d.isoformat() for d in post_dates], "sensing:dnbr_breaks": list(breaks)},
    )  # fmt: skip
    written = publish_derived(
        settings, {"dnbr": to_scaled_int16(change, scale.scale, scale.offset), "burn-severity": classes}, meta
    )
    rows = _severity_rows(
        layout.layer("burn-severity", aoi, post[0], meta["version"]), settings, name, written
    )
    old = pd.read_parquet(layout.burns) if layout.burns.exists() else pd.DataFrame()
    upsert_frame(layout.burns, old, rows, ["event", "severity"])
    return rows


def _severity_rows(cog: Path, settings: Settings, name: str, items: list[str]) -> pd.DataFrame:
    """Area per severity class of the published layer (read back in chunks, so the table matches the COG)."""
    classes = rioxarray.open_rasterio(cog, chunks={"x": settings.dask.chunk, "y": settings.dask.chunk})
    assert isinstance(classes, xr.DataArray)
    areas = class_areas_km2(classes, pixel_area_m2(aoi_geobox(settings.aoi)))
    return pd.DataFrame(
        [{"event": name, "aoi": settings.aoi.id, "severity": label, "area_km2": round(area, 4), "item": items[-1]}
         for label, area in areas.items()]
    )  # fmt: skip


def publish_season_percentiles(settings: Settings, start: dt.date, end: dt.date) -> list[str]:
    """``ndvi-p10``, ``ndvi-p50`` and ``ndvi-p90``: percentiles of the clear NDVI observations of the
    season [start, end] (dated at its start); the item ids written."""
    if start >= end:
        raise ConfigError(f"season percentiles: --start {start} is not before --end {end}")
    layout = OutputLayout(settings.output_dir)
    aoi = settings.aoi.id
    ndvi, clear = season_stacks(layout, aoi, "ndvi", start, end, settings.dask.chunk)
    dates = [dt.date.fromisoformat(str(t)[:10]) for t in ndvi["time"].values]
    levels = (
        ndvi.where(clear)
        .chunk({"time": -1})
        .quantile([p / 100 for p in PERCENTILES], dim="time", skipna=True)
    )
    scale = product_spec("ndvi-p50").cog
    layers = {
        f"ndvi-p{p}": to_scaled_int16(levels.sel(quantile=p / 100, drop=True), scale.scale, scale.offset)
        for p in PERCENTILES
    }
    meta = period_metadata(
        settings, start, end, inputs_version(layout, aoi, ("ndvi", "water"), dates, "q", (start, end)),
        [item_id("ndvi", aoi, d) for d in dates],
        **{"sensing:dates": [d.isoformat() for d in dates], "sensing:clear_mask": "water class layer: dry land or water"},
    )  # fmt: skip
    return publish_derived(settings, layers, meta)
