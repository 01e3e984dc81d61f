"""Monthly and seasonal composites of clear pixels, reduced lazily along time (xarray + flox).

Inputs are a reflectance stack ``(time, y, x)`` per band and a boolean ``clear`` mask of the same
shape. Every statistic ignores the pixels that are not clear; a period without one clear
observation is NaN (count 0). Periods are calendar months (``month``) or meteorological seasons
(``season``: DJF, MAM, JJA, SON, labelled by their first month, so DJF 2020/21 is 2020-12-01).
Time must be one chunk (``stack.chunk(time=-1)``); space stays chunked, so memory follows the chunk
size, not the scene.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from numpy.typing import NDArray

__all__ = ["PERIODS", "clear_count", "max_ndvi_composite", "percentile_composite", "time_median"]

PERIODS = {"month": "MS", "season": "QS-DEC"}
"""Composite period -> pandas frequency of its start."""


def _frequency(period: str) -> str:
    try:
        return PERIODS[period]
    except KeyError:
        raise ValueError(f"period: {period!r} is not one of {sorted(PERIODS)}") from None


def clear_count(clear: xr.DataArray, period: str) -> xr.DataArray:
    """Number of clear observations per pixel and period (uint16)."""
    counts = clear.resample(time=_frequency(period)).sum()
    return counts.fillna(0).astype("uint16").rename("clear_count")  # a period without dates: NaN -> 0


def percentile_composite(
    stack: xr.Dataset, clear: xr.DataArray, period: str, quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
) -> xr.Dataset:
    """Per-band percentiles of the clear observations of each period (``quantile`` dimension; 0.5 is
    the median composite), float32."""
    masked = stack.where(clear)
    out = masked.resample(time=_frequency(period)).quantile(list(quantiles), dim="time", skipna=True)
    return out.astype("float32").transpose("time", "quantile", ...)


def _quiet_nanmedian(values: NDArray[np.floating]) -> NDArray[np.floating]:
    """NaN-skipping median along the last axis; NaN, without a warning, where every value is NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=-1).astype(values.dtype)


def time_median(values: xr.DataArray, clear: xr.DataArray | None = None) -> xr.DataArray:
    """Median along ``time`` of ``values`` where ``clear`` (all of them when None); NaN where none is."""
    kept = values if clear is None else values.where(clear)
    return xr.apply_ufunc(
        _quiet_nanmedian, kept.chunk({"time": -1}), input_core_dims=[["time"]], dask="parallelized",
        output_dtypes=[kept.dtype],
    )  # fmt: skip


def _take_at(values: NDArray[np.floating], index: NDArray[np.intp]) -> NDArray[np.floating]:
    """``values[index[y, x], y, x]`` along the last (time) axis; NaN where ``index`` is -1."""
    picked = np.take_along_axis(values, np.maximum(index, 0)[..., None], axis=-1)[..., 0]
    return np.where(index >= 0, picked, np.nan).astype(values.dtype)


def _best_index(ndvi: NDArray[np.floating]) -> NDArray[np.intp]:
    """Position of the largest NDVI along the last axis; -1 where every value is NaN."""
    filled = np.where(np.isnan(ndvi), -np.inf, ndvi)
    best = np.argmax(filled, axis=-1)
    return np.where(np.isnan(ndvi).all(axis=-1), -1, best)


def _max_ndvi_one_period(group: xr.Dataset) -> xr.Dataset:
    best = xr.apply_ufunc(
        _best_index, group["ndvi"], input_core_dims=[["time"]], dask="parallelized", output_dtypes=[np.intp]
    )
    picked = {
        name: xr.apply_ufunc(
            _take_at,
            var,
            best,
            input_core_dims=[["time"], []],
            dask="parallelized",
            output_dtypes=[var.dtype],
        )
        for name, var in group.data_vars.items()
    }
    days = group["time"].dt.dayofyear.to_numpy().astype("float32")
    picked["day_of_year"] = xr.apply_ufunc(
        lambda index: np.where(index >= 0, days[np.maximum(index, 0)], np.nan).astype("float32"),
        best,
        dask="parallelized",
        output_dtypes=[np.float32],
    )
    return xr.Dataset(picked)


def max_ndvi_composite(stack: xr.Dataset, clear: xr.DataArray, period: str) -> xr.Dataset:
    """Per period, every band of ``stack`` taken on the clear date of largest NDVI (``stack["ndvi"]``
    must be present), plus that date's ``day_of_year``; NaN where no date is clear."""
    if "ndvi" not in stack:
        raise ValueError(
            f"max-NDVI composite needs an 'ndvi' variable; the stack has {sorted(map(str, stack.data_vars))}"
        )
    masked = stack.where(clear)
    return masked.resample(time=_frequency(period)).map(_max_ndvi_one_period)
