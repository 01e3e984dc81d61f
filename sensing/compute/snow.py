"""Snow-cover duration per season from the clear observations of snow (per date, snow is the class
layer's snow/ice class: the NDSI test with a green brightness test, or the archive's snow class)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray

__all__ = ["snow_duration_days"]


def _days_held(
    clear: NDArray[np.bool_], days: NDArray[np.float64], start: float, end: float
) -> NDArray[np.float64]:
    """Days each observation stands for, per pixel (..., time): from the midpoint with the previous
    clear observation to the midpoint with the next one, clipped to [start, end)."""
    n = clear.shape[-1]
    position = np.arange(n)
    last_clear = np.maximum.accumulate(np.where(clear, position, -1), axis=-1)
    next_clear = np.minimum.accumulate(np.where(clear, position, n)[..., ::-1], axis=-1)[..., ::-1]
    before = np.concatenate([np.full((*clear.shape[:-1], 1), -1), last_clear[..., :-1]], axis=-1)
    after = np.concatenate([next_clear[..., 1:], np.full((*clear.shape[:-1], 1), n)], axis=-1)
    padded = np.concatenate([days, [np.nan]])  # index n (and -1) -> NaN: no clear neighbour
    lower = np.where(before >= 0, (padded[before] + days) / 2, start)
    upper = np.where(after < n, (padded[np.minimum(after, n)] + days) / 2, end)
    return np.where(clear, np.clip(upper, start, end) - np.clip(lower, start, end), 0.0)


def _duration_block(
    snow: NDArray[np.bool_], clear: NDArray[np.bool_], days: NDArray[np.float64], start: float, end: float
) -> NDArray[np.float32]:
    held = _days_held(clear, days, start, end)
    duration = np.where(snow & clear, held, 0.0).sum(axis=-1)
    return np.where(clear.any(axis=-1), duration, np.nan).astype("float32")


def snow_duration_days(
    snow: xr.DataArray, clear: xr.DataArray, season_start: str, season_end: str
) -> xr.DataArray:
    """Snow-cover duration (days) per pixel over [season_start, season_end): each clear observation's
    state holds until halfway to the next clear one (nearest-observation interpolation in time);
    NaN where no observation is clear. Dates are ISO strings; the stacks need a ``time`` coordinate."""
    origin = pd.Timestamp(season_start)
    end = (pd.Timestamp(season_end) - origin).days
    if end <= 0:
        raise ValueError(f"snow season: end {season_end} is not after start {season_start}")
    window = (snow.time >= np.datetime64(origin)) & (snow.time < np.datetime64(pd.Timestamp(season_end)))
    snow, clear = snow.sel(time=window), clear.sel(time=window)
    days = ((snow.time.to_index() - origin) / pd.Timedelta(days=1)).to_numpy(dtype="float64")
    return xr.apply_ufunc(
        _duration_block,
        snow,
        clear,
        kwargs={"days": days, "start": 0.0, "end": float(end)},
        input_core_dims=[["time"], ["time"]],
        dask="parallelized",
        output_dtypes=[np.float32],
    ).rename("snow_days")
