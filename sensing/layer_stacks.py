"""Published layers of an AOI over a period as lazy ``(time, y, x)`` stacks, for seasonal products.

Index layers are decoded from their int16 storage (scale, offset, nodata -> NaN); a date counts as
clear where the class layer of the same scene says dry land or water (not cloud, shadow, snow or
no data).
"""

from __future__ import annotations

import datetime as dt

import rioxarray
import xarray as xr

from sensing.compute.water import CLASS_DRY, CLASS_WATER
from sensing.errors import ConfigError
from sensing.publish.layout import OutputLayout
from sensing.summaries import Layer, class_layers

__all__ = ["class_stack", "season_layer_stack", "season_stacks"]


def _layers(
    layout: OutputLayout, product: str, aoi: str, start: dt.date, end: dt.date
) -> dict[dt.date, Layer]:
    by_year = class_layers(layout, product, aoi)
    return {layer.date: layer for year in by_year.values() for layer in year if start <= layer.date <= end}


def _open(layout: OutputLayout, layer: Layer, chunk: int, decode: bool) -> xr.DataArray:
    opened = rioxarray.open_rasterio(
        layout.root / layer.cog, chunks={"x": chunk, "y": chunk}, mask_and_scale=decode
    )
    assert isinstance(opened, xr.DataArray)
    return opened.squeeze("band", drop=True)


def season_layer_stack(layout: OutputLayout, layers: list[Layer], chunk: int) -> xr.DataArray:
    """Decoded layers (float32, NaN where no data) stacked along ``time`` (their dates)."""
    times = xr.DataArray(
        [dt.datetime.combine(lay.date, dt.time()) for lay in layers], dims="time", name="time"
    )
    return xr.concat([_open(layout, lay, chunk, True) for lay in layers], dim=times).astype("float32")


def class_stack(
    layout: OutputLayout, aoi: str, start: dt.date, end: dt.date, chunk: int = 1024
) -> xr.DataArray:
    """The ``water`` class layers (uint8) of every date in [start, end]; a ConfigError when none."""
    layers = _layers(layout, "water", aoi, start, end)
    if not layers:
        raise ConfigError(f"no published water layer of AOI {aoi!r} between {start} and {end}")
    dates = sorted(layers)
    times = xr.DataArray([dt.datetime.combine(d, dt.time()) for d in dates], dims="time", name="time")
    return xr.concat([_open(layout, layers[d], chunk, False) for d in dates], dim=times)


def season_stacks(
    layout: OutputLayout, aoi: str, index: str, start: dt.date, end: dt.date, chunk: int = 1024,
    clear_classes: tuple[int, ...] = (CLASS_DRY, CLASS_WATER),
) -> tuple[xr.DataArray, xr.DataArray]:  # fmt: skip
    """The ``index`` layers (float32, NaN where no data) and the clear mask (the class layer in
    ``clear_classes``) of every date in [start, end] that has both the index and the ``water`` class
    layer; a ConfigError when none has."""
    values, classes = _layers(layout, index, aoi, start, end), _layers(layout, "water", aoi, start, end)
    dates = sorted(set(values) & set(classes))
    if not dates:
        raise ConfigError(
            f"no published {index} and water layers of AOI {aoi!r} between {start} and {end} "
            f"({len(values)} {index}, {len(classes)} water); run `sensing reprocess` for the period first"
        )
    index_stack = season_layer_stack(layout, [values[d] for d in dates], chunk)
    classes_of_dates = xr.concat(
        [_open(layout, classes[d], chunk, False) for d in dates], dim=index_stack["time"]
    )
    clear = classes_of_dates.isin(list(clear_classes))
    return index_stack.rename(index), clear.rename("clear")
