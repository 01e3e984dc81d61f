"""Monthly land composites, published from the NDVI and water class layers of the month's dates.

``ndvi-median`` and ``ndvi-max`` (int16, scale 1e-4; ``evi-median`` and ``evi-max`` too where EVI is a
configured product) and ``clear-count`` (uint8) per AOI and calendar month, as COG + STAC item (datetime: the first of the month; ``start_datetime`` and
``end_datetime`` span it; ``sensing:dates`` lists the dates used). Where the same month has a median
in enough other (baseline) years: ``ndvi-anomaly`` / ``evi-anomaly`` (z-score, int16 thousandths) and
``vci`` (uint8 percent, clipped to 0-100, NDVI only), with ``sensing:baseline_years``. A run republishes the months its
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
from sensing.products import COMPOSITE_INDICES, NEVER_SEEN, product_spec
from sensing.publish.derived import inputs_version, period_metadata, publish_derived
from sensing.publish.layout import OutputLayout, item_id
from sensing.publish.stac import LayerMetadata
from sensing.summaries import Layer, class_layers

__all__ = ["composited_indices", "months_of", "publish_monthly_composites"]


def months_of(dates: Iterable[dt.date]) -> list[dt.date]:
    """The first day of every month ``dates`` fall in, sorted."""
    return sorted({d.replace(day=1) for d in dates})


def _month_end(first: dt.date) -> dt.date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _month_layers(index: str, values: xr.DataArray, clear: xr.DataArray) -> dict[str, xr.DataArray]:
    """The month's median and maximum of ``index`` over its clear observations (int16)."""
    median = percentile_composite(xr.Dataset({index: values}), clear, "month", quantiles=(0.5,))[index]
    maximum = values.where(clear).max("time", skipna=True)
    scale = product_spec(f"{index}-median").cog
    return {
        f"{index}-median": to_scaled_int16(median.isel(time=0, quantile=0), scale.scale, scale.offset),
        f"{index}-max": to_scaled_int16(maximum, scale.scale, scale.offset),
    }


def composited_indices(settings: Settings) -> list[str]:
    """The vegetation indices among the configured products that get monthly composites."""
    return [index for index in COMPOSITE_INDICES if index in settings.published_products]


def publish_monthly_composites(settings: Settings, months: Iterable[dt.date]) -> list[str]:
    """Publish the composites of each month (first days) that has index and water layers over the
    AOI, for each of :func:`composited_indices`; return the STAC item ids written. Months without
    layers are skipped."""
    layout = OutputLayout(settings.output_dir)
    indices = composited_indices(settings)
    written: list[str] = []
    for first in months_of(months):
        for index in indices:
            written += _publish_month(settings, layout, index, first, with_count=index == indices[0])
    return written


def _publish_month(
    settings: Settings, layout: OutputLayout, index: str, first: dt.date, with_count: bool
) -> list[str]:
    """The month's composites of ``index`` (and the clear count when ``with_count``) and anomalies."""
    aoi, last = settings.aoi.id, _month_end(first)
    try:
        values, clear = season_stacks(layout, aoi, index, first, last, settings.dask.chunk)
    except ConfigError:  # no date of the month has both layers
        return []
    dates = [dt.date.fromisoformat(str(t)[:10]) for t in values["time"].values]
    layers = _month_layers(index, values.chunk({"time": -1}), clear.chunk({"time": -1}))
    if with_count:
        layers["clear-count"] = (
            clear_count(clear, "month").clip(max=NEVER_SEEN - 1).astype("uint8").isel(time=0)
        )
    meta = period_metadata(
        settings, first, last, inputs_version(layout, aoi, (index, "water"), dates, "m"),
        [item_id(index, aoi, d) for d in dates],
        **{"sensing:dates": [d.isoformat() for d in dates], "sensing:composite_period": "month",
           "sensing:clear_mask": "water class layer: dry land or water"},
    )  # fmt: skip
    return publish_derived(settings, layers, meta) + _publish_anomalies(settings, layout, index, first, meta)


def _medians_of_month(layout: OutputLayout, aoi: str, index: str, month: int) -> dict[int, Layer]:
    """The published ``<index>-median`` layer of calendar ``month`` in each year."""
    return {
        year: layer
        for year, layers in class_layers(layout, f"{index}-median", aoi).items()
        for layer in layers
        if layer.date.month == month
    }


def _publish_anomalies(
    settings: Settings, layout: OutputLayout, index: str, first: dt.date, meta: LayerMetadata
) -> list[str]:
    """``<index>-anomaly`` (and ``vci`` for NDVI) of the month's median against the same month of the
    baseline years, when the baseline has ``land.baseline_min_years`` of them; the item ids written."""
    aoi, land = settings.aoi.id, settings.land
    medians = _medians_of_month(layout, aoi, index, first.month)
    years = [
        y for y in sorted(medians)
        if y != first.year and (land.baseline_years is None or land.baseline_years[0] <= y <= land.baseline_years[1])
    ]  # fmt: skip
    if len(years) < land.baseline_min_years:
        return []
    stack = season_layer_stack(layout, [medians[y] for y in years], settings.dask.chunk)
    current = season_layer_stack(layout, [medians[first.year]], settings.dask.chunk)
    change = anomalies(current, monthly_baseline(stack), land.baseline_min_years).isel(time=0)
    scale = product_spec(f"{index}-anomaly").cog
    layers = {f"{index}-anomaly": to_scaled_int16(change["zscore"], scale.scale, scale.offset)}
    if index == "ndvi":  # Kogan's VCI is defined on NDVI
        layers["vci"] = change["vci"].clip(0, 100).round().fillna(NEVER_SEEN).astype("uint8")
    version = f"{medians[first.year].version}-b{years[0]}-{years[-1]}"
    baseline = LayerMetadata(
        meta, version=version,
        properties=meta["properties"] | {"sensing:baseline_years": years, "sensing:baseline_product": f"{index}-median"},
    )  # fmt: skip
    return publish_derived(settings, layers, baseline)
