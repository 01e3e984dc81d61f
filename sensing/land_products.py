"""Monthly land composites, published from the NDVI and water class layers of the month's dates.

``ndvi-median`` and ``ndvi-max`` (int16, scale 1e-4) and ``clear-count`` (uint8) per AOI and
calendar month, as COG + STAC item (datetime: the first of the month; ``start_datetime`` and
``end_datetime`` span it; ``sensing:dates`` lists the dates used). Where the same month has a median
in enough other (baseline) years: ``ndvi-anomaly`` (z-score, int16 thousandths) and ``vci`` (uint8
percent, clipped to 0-100), with ``sensing:baseline_years``. A run republishes the months its
scenes fall in, so a month's composite follows its newest date; each version sits beside the
previous one (the served one is never overwritten).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable

import xarray as xr

from sensing.compute.composites import clear_count, percentile_composite
from sensing.compute.condition import anomalies, monthly_baseline
from sensing.compute.encode import to_scaled_int16
from sensing.config import Settings
from sensing.errors import ConfigError
from sensing.layer_stacks import season_layer_stack, season_stacks
from sensing.products import NEVER_SEEN, product_spec
from sensing.publish.derived import inputs_version, period_metadata, publish_derived
from sensing.publish.layout import OutputLayout, item_id
from sensing.publish.stac import LayerMetadata
from sensing.summaries import Layer, class_layers

__all__ = ["months_of", "publish_monthly_composites"]


def months_of(dates: Iterable[dt.date]) -> list[dt.date]:
    """The first day of every month ``dates`` fall in, sorted."""
    return sorted({d.replace(day=1) for d in dates})


def _month_end(first: dt.date) -> dt.date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _month_layers(ndvi: xr.DataArray, clear: xr.DataArray) -> dict[str, xr.DataArray]:
    median = percentile_composite(xr.Dataset({"ndvi": ndvi}), clear, "month", quantiles=(0.5,))["ndvi"]
    maximum = ndvi.where(clear).max("time", skipna=True)
    count = clear_count(clear, "month").clip(max=NEVER_SEEN - 1).astype("uint8")
    scale = product_spec("ndvi-median").cog
    return {
        "ndvi-median": to_scaled_int16(median.isel(time=0, quantile=0), scale.scale, scale.offset),
        "ndvi-max": to_scaled_int16(maximum, scale.scale, scale.offset),
        "clear-count": count.isel(time=0),
    }


def publish_monthly_composites(settings: Settings, months: Iterable[dt.date]) -> list[str]:
    """Publish the composites of each month (first days) that has NDVI and water layers over the
    AOI; return the STAC item ids written. Months without layers are skipped."""
    layout = OutputLayout(settings.output_dir)
    aoi = settings.aoi.id
    written: list[str] = []
    for first in months_of(months):
        last = _month_end(first)
        try:
            ndvi, clear = season_stacks(layout, aoi, "ndvi", first, last, settings.dask.chunk)
        except ConfigError:  # no date of the month has both layers
            continue
        dates = [dt.date.fromisoformat(str(t)[:10]) for t in ndvi["time"].values]
        version = inputs_version(layout, aoi, ("ndvi", "water"), dates, "m")
        layers = _month_layers(ndvi.chunk({"time": -1}), clear.chunk({"time": -1}))
        meta = period_metadata(
            settings, first, last, version, [item_id("ndvi", aoi, d) for d in dates],
            **{"sensing:dates": [d.isoformat() for d in dates], "sensing:composite_period": "month",
               "sensing:clear_mask": "water class layer: dry land or water"},
        )  # fmt: skip
        written += publish_derived(settings, layers, meta)
        written += _publish_anomalies(settings, layout, first, meta)
    return written


def _medians_of_month(layout: OutputLayout, aoi: str, month: int) -> dict[int, Layer]:
    """The published ``ndvi-median`` layer of calendar ``month`` in each year."""
    return {
        year: layer
        for year, layers in class_layers(layout, "ndvi-median", aoi).items()
        for layer in layers
        if layer.date.month == month
    }


def _publish_anomalies(
    settings: Settings, layout: OutputLayout, first: dt.date, meta: LayerMetadata
) -> list[str]:
    """``ndvi-anomaly`` and ``vci`` of the month's median against the same month of the baseline years,
    when the baseline has ``land.baseline_min_years`` of them; the item ids written."""
    aoi, land = settings.aoi.id, settings.land
    medians = _medians_of_month(layout, aoi, first.month)
    years = [
        y for y in sorted(medians)
        if y != first.year and (land.baseline_years is None or land.baseline_years[0] <= y <= land.baseline_years[1])
    ]  # fmt: skip
    if len(years) < land.baseline_min_years:
        return []
    stack = season_layer_stack(layout, [medians[y] for y in years], settings.dask.chunk)
    current = season_layer_stack(layout, [medians[first.year]], settings.dask.chunk)
    change = anomalies(current, monthly_baseline(stack), land.baseline_min_years).isel(time=0)
    scale = product_spec("ndvi-anomaly").cog
    vci = change["vci"].clip(0, 100).round().fillna(NEVER_SEEN).astype("uint8")
    layers = {"ndvi-anomaly": to_scaled_int16(change["zscore"], scale.scale, scale.offset), "vci": vci}
    version = f"{medians[first.year].version}-b{years[0]}-{years[-1]}"
    baseline = LayerMetadata(
        meta, version=version,
        properties=meta["properties"] | {"sensing:baseline_years": years, "sensing:baseline_product": "ndvi-median"},
    )  # fmt: skip
    return publish_derived(settings, layers, baseline)
