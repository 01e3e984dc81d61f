"""Sentinel-1 backscatter: units, Lee speckle filtering and decibels, lazily and chunk-exactly."""

from __future__ import annotations

from typing import Literal

import dask.array as da
import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.ndimage import correlate1d

from sensing.errors import SceneError

__all__ = ["detect_units", "lee_filter", "to_db", "to_linear"]

MIN_SAMPLE = 1000
"""Valid pixels needed before the units of a band are judged."""


def detect_units(band: xr.DataArray, name: str) -> Literal["linear", "db"]:
    """Whether ``band`` holds linear power or decibels, judged from its values.

    Linear power is never negative, while dB backscatter of land and water mostly is. Reads blocks
    from the centre outwards until one holds enough valid pixels; raises SceneError naming the band
    when the values do not tell (then set ``sar.units``).
    """
    blocks = band.data.blocks
    rows, cols = blocks.shape
    order = sorted(np.ndindex(rows, cols), key=lambda rc: abs(rc[0] - rows / 2) + abs(rc[1] - cols / 2))
    for r, c in order:
        values = np.asarray(blocks[r, c].compute())
        values = values[np.isfinite(values)]
        if values.size < MIN_SAMPLE:
            continue
        negative = float((values < 0).mean())
        if negative == 0.0:
            return "linear"
        if negative > 0.5:
            return "db"
        raise SceneError(
            f"band {name}: cannot tell linear power from dB ({negative:.0%} of values negative); "
            "set sar.units (or --units) to linear or db"
        )
    raise SceneError(f"band {name}: too few valid pixels to tell its units; set sar.units (or --units)")


def to_linear(band: xr.DataArray, units: Literal["linear", "db"]) -> xr.DataArray:
    """Backscatter as linear power (float32), NaN where missing or (linear) not positive."""
    if units == "db":
        return (10.0 ** (band / 10.0)).astype("float32")
    return band.where(band > 0).astype("float32")


def to_db(linear: xr.DataArray) -> xr.DataArray:
    """Linear power to decibels, NaN where not positive."""
    return (10.0 * xr.apply_ufunc(np.log10, linear.where(linear > 0), dask="allowed")).astype("float32")


def _lee_block(block: NDArray[np.float32], size: int, looks: float) -> NDArray[np.float32]:
    """Lee (1980) filter of one block; NaN pixels neither count nor are filled.

    Window sums use direct 1-D correlations (not running sums), so a pixel's value does not depend
    on where the block starts: chunked and unchunked results are identical.
    """
    valid = np.isfinite(block)
    x = np.where(valid, block, 0.0).astype(np.float64)
    ones = np.ones(size)

    def window_sum(a: NDArray[np.float64]) -> NDArray[np.float64]:
        return correlate1d(correlate1d(a, ones, axis=0, mode="constant"), ones, axis=1, mode="constant")

    n = window_sum(valid.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = window_sum(x) / n
        var = np.maximum(window_sum(x * x) / n - mean**2, 0.0)
        noise = 1.0 / looks  # squared coefficient of variation of fully developed speckle
        signal_var = np.maximum((var - noise * mean**2) / (1.0 + noise), 0.0)
        weight = np.where(var > 0, signal_var / var, 0.0)
    out = mean + weight * (x - mean)
    return np.where(valid, out, np.nan).astype(np.float32)


def lee_filter(linear: xr.DataArray, size: int, looks: float) -> xr.DataArray:
    """Lee speckle filter over a ``size`` x ``size`` window of linear power (blocks overlap by half
    the window, so chunk seams leave no trace). ``size`` 0 or 1 returns the input."""
    if size <= 1:
        return linear
    depth = size // 2
    filtered = da.map_overlap(
        _lee_block, linear.data.astype("float32"), depth=depth, boundary=np.nan, dtype="float32",
        size=size, looks=looks,
    )  # fmt: skip
    return linear.copy(data=filtered)
