"""Burned area: differenced Normalized Burn Ratio between pre- and post-fire composites, in severity
classes (USGS FIREMON breaks by default; configurable for steppe grass fires, which burn lighter)."""

from __future__ import annotations

import itertools

import dask.array as da
import numpy as np
import xarray as xr
from numpy.typing import NDArray

from sensing.compute.counts import bincount

__all__ = [
    "BURN_CLASSES", "BURN_NODATA", "USGS_DNBR_BREAKS", "burn_severity", "class_areas_km2", "dnbr", "validate_breaks",
]  # fmt: skip

USGS_DNBR_BREAKS = (0.10, 0.27, 0.44, 0.66)
"""Key & Benson (2006), FIREMON Landscape Assessment: dNBR lower bounds of low, moderate-low,
moderate-high and high severity (below 0.10: unburned or regrowth)."""
BURN_CLASSES = {0: "unburned", 1: "low", 2: "moderate-low", 3: "moderate-high", 4: "high"}
BURN_NODATA = 255


def dnbr(nbr_pre: xr.DataArray, nbr_post: xr.DataArray) -> xr.DataArray:
    """dNBR = NBR(pre) - NBR(post), float32; NaN where either is NaN (no clear pre or post pixel)."""
    return (nbr_pre - nbr_post).astype("float32").rename("dnbr")


def validate_breaks(breaks: tuple[float, ...]) -> tuple[float, ...]:
    """``breaks`` when they are four strictly increasing dNBR values; a ValueError naming them if not."""
    if len(breaks) != len(BURN_CLASSES) - 1 or any(b >= a for b, a in itertools.pairwise(breaks)):
        raise ValueError(f"burn breaks: need 4 strictly increasing dNBR values, got {list(breaks)}")
    return tuple(float(b) for b in breaks)


def _classify(values: NDArray[np.floating], breaks: tuple[float, ...]) -> NDArray[np.uint8]:
    classes = np.digitize(values, np.asarray(breaks, dtype=values.dtype)).astype(
        "uint8"
    )  # breaks at input precision
    return np.where(np.isnan(values), BURN_NODATA, classes).astype("uint8")


def burn_severity(dnbr_values: xr.DataArray, breaks: tuple[float, ...] = USGS_DNBR_BREAKS) -> xr.DataArray:
    """Severity class per pixel (uint8, :data:`BURN_CLASSES`; 255 where dNBR is NaN): a value equal to
    a break belongs to the class above it."""
    breaks = validate_breaks(breaks)
    return xr.apply_ufunc(
        _classify, dnbr_values, kwargs={"breaks": breaks}, dask="parallelized", output_dtypes=[np.uint8]
    ).rename("burn_severity")


def class_areas_km2(classes: xr.DataArray, pixel_area_m2: float) -> dict[str, float]:
    """Area of each severity class (km2) on a projected grid of ``pixel_area_m2`` pixels."""
    counts = bincount(da.asarray(classes.data), len(BURN_CLASSES)).compute()
    return {name: float(counts[code]) * pixel_area_m2 / 1e6 for code, name in BURN_CLASSES.items()}
