"""Vegetation condition: anomalies against a multi-year baseline of the same month, the Vegetation
Condition Index, and per-pixel trends over years (Theil-Sen slope with a Mann-Kendall test).

All functions take monthly (or yearly) composites ``(time, y, x)``, lazily reduced; time must be
one chunk for the baseline and the trend.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray
from scipy.stats import norm

__all__ = ["anomalies", "monthly_baseline", "theil_sen_trend", "trend_classes"]

_PAIR_BATCH = 16_000_000
"""Pairwise slopes held at once by the trend (pairs x pixels): about 64 MB of float32."""


def monthly_baseline(monthly: xr.DataArray, years: tuple[int, int] | None = None) -> xr.Dataset:
    """Per calendar month (``month`` 1-12) and pixel: mean, std, median, min, max and count of the
    composites of ``years`` (first, last; inclusive; all years when None)."""
    if years is not None:
        first, last = years
        if first > last:
            raise ValueError(f"baseline years: first {first} is after last {last}")
        monthly = monthly.sel(time=(monthly.time.dt.year >= first) & (monthly.time.dt.year <= last))
        if monthly.sizes["time"] == 0:
            raise ValueError(f"baseline years {first}-{last}: no composite falls in them")
    by_month = monthly.groupby("time.month")
    statistics = {
        "mean": by_month.mean(skipna=True),
        "std": by_month.std(skipna=True, ddof=1),
        "median": by_month.median(skipna=True),
        "min": by_month.min(skipna=True),
        "max": by_month.max(skipna=True),
    }
    return xr.Dataset(
        {name: value.astype("float32") for name, value in statistics.items()}
        | {"count": monthly.notnull().groupby("time.month").sum().astype("uint16")}
    )


def anomalies(monthly: xr.DataArray, baseline: xr.Dataset, min_years: int = 3) -> xr.Dataset:
    """Anomaly of each monthly composite against the baseline of its calendar month.

    ``zscore`` = (x - mean) / std; ``pct_of_median`` = 100 x / median; ``vci`` (Kogan 1995)
    = 100 (x - min) / (max - min). NaN where the baseline has fewer than ``min_years`` values, a zero
    spread, or the month is missing.
    """
    base = baseline.sel(month=monthly.time.dt.month).drop_vars("month")
    enough = base["count"] >= min_years
    spread = (base["max"] - base["min"]).where(lambda s: s > 0)
    return xr.Dataset(
        {
            "zscore": ((monthly - base["mean"]) / base["std"].where(lambda s: s > 0)).where(enough),
            "pct_of_median": (100 * monthly / base["median"].where(lambda m: m != 0)).where(enough),
            "vci": (100 * (monthly - base["min"]) / spread).where(enough),
        }
    ).astype("float32")


def _pairs(n: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    return np.triu_indices(n, k=1)


def _trend_block(values: NDArray[np.floating], years: NDArray[np.float64]) -> NDArray[np.float32]:
    """Slope per year, Mann-Kendall z, two-sided p and n for each pixel of ``values`` (..., time)."""
    shape = values.shape[:-1]
    series = values.reshape(-1, values.shape[-1]).astype("float64")
    first, second = _pairs(len(years))
    dt = years[second] - years[first]
    keep = dt != 0
    first, second, dt = first[keep], second[keep], dt[keep]
    out = np.full((series.shape[0], 4), np.nan)
    batch = max(1, _PAIR_BATCH // max(1, len(first)))
    for start in range(0, series.shape[0], batch):
        chunk = series[start : start + batch]
        diffs = chunk[:, second] - chunk[:, first]
        n = np.isfinite(chunk).sum(axis=1)
        with np.errstate(all="ignore"):
            slope = np.nanmedian(diffs / dt, axis=1)
        s = np.nansum(np.sign(diffs), axis=1)
        variance = n * (n - 1) * (2 * n + 5) / 18.0
        with np.errstate(all="ignore"):
            z = np.where(s > 0, s - 1, np.where(s < 0, s + 1, 0.0)) / np.sqrt(variance)
        p = 2 * norm.sf(np.abs(z))
        enough = n >= 3
        out[start : start + batch] = np.where(enough[:, None], np.stack([slope, z, p, n], axis=1), np.nan)
    return out.reshape(*shape, 4).astype("float32")


def theil_sen_trend(series: xr.DataArray, min_observations: int = 3) -> xr.Dataset:
    """Per-pixel Theil-Sen slope (units per year) of ``series`` over its ``time`` coordinate, with the
    Mann-Kendall test (continuity-corrected z, two-sided ``p_value``, no tie correction: the inputs are
    continuous); NaN where fewer than ``min_observations`` values are valid."""
    years = _decimal_years(series["time"])
    stats = xr.apply_ufunc(
        _trend_block,
        series,
        kwargs={"years": years},
        input_core_dims=[["time"]],
        output_core_dims=[["stat"]],
        dask="parallelized",
        output_dtypes=[np.float32],
        dask_gufunc_kwargs={"output_sizes": {"stat": 4}},
    )
    out = xr.Dataset(
        {
            name: stats.isel(stat=i, drop=True)
            for i, name in enumerate(("slope_per_year", "mk_z", "p_value", "n"))
        }
    )
    return out.where(out["n"] >= min_observations)


def trend_classes(
    slope: NDArray[np.floating], p_value: NDArray[np.floating], level: float
) -> NDArray[np.uint8]:
    """1 where the trend is a significant decline (p < ``level``), 2 a significant increase, 0 neither,
    255 where there is no slope (too few observations)."""
    significant = p_value < level
    classes = np.where(significant & (slope < 0), 1, np.where(significant & (slope > 0), 2, 0))
    return np.where(np.isnan(slope), 255, classes).astype("uint8")


def _decimal_years(time: xr.DataArray) -> NDArray[np.float64]:
    """Times as fractional years (2020.5 is about the 1st of July 2020)."""
    t = pd.DatetimeIndex(time.to_index())
    start = np.array([np.datetime64(f"{y}-01-01") for y in t.year], dtype="datetime64[s]")
    end = np.array([np.datetime64(f"{y + 1}-01-01") for y in t.year], dtype="datetime64[s]")
    stamp = t.to_numpy().astype("datetime64[s]")
    return np.asarray(t.year + (stamp - start) / (end - start), dtype="float64")
