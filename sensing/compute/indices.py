"""Spectral indices on reflectance (Awesome Spectral Indices definitions)."""

from __future__ import annotations

from collections.abc import Callable

import xarray as xr

__all__ = ["INDICES", "compute_index", "normalized_difference"]


def normalized_difference(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    """``(a - b) / (a + b)`` clipped to [-1, 1]; NaN where either input is NaN or the sum is not positive.

    L2A reflectance of dark water can be slightly negative (baseline 04.00 offset), which would push the
    ratio outside [-1, 1] or flip its sign; such values are clipped to the index's physical range.
    """
    total = a + b
    return ((a - b) / total.where(total > 0)).clip(-1.0, 1.0).astype("float32")


INDICES: dict[str, tuple[tuple[str, ...], Callable[..., xr.DataArray]]] = {
    # McFeeters (1996): open water is positive.
    "ndwi": (("green", "nir"), normalized_difference),
    # Xu (2006): like NDWI with SWIR1, which suppresses built-up land; same formula as NDSI.
    "mndwi": (("green", "swir16"), normalized_difference),
    # Rouse et al. (1974).
    "ndvi": (("nir", "red"), normalized_difference),
}
"""Index name -> (bands in argument order, function)."""


def compute_index(name: str, reflectance: xr.Dataset) -> xr.DataArray:
    """Compute index ``name`` lazily from a reflectance dataset with common band names."""
    try:
        bands, func = INDICES[name]
    except KeyError:
        raise ValueError(f"unknown index {name!r}; known: {sorted(INDICES)}") from None
    return func(*(reflectance[b] for b in bands)).rename(name)
