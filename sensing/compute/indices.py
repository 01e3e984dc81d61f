"""Spectral indices on reflectance (Awesome Spectral Indices definitions)."""

from __future__ import annotations

from collections.abc import Callable

import xarray as xr

__all__ = [
    "INDEX_RANGES", "INDICES", "awei_nsh", "awei_sh", "bare_soil_index", "compute_index", "enhanced_vegetation_index",
    "normalized_difference", "salinity_khan",
]  # fmt: skip


def normalized_difference(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    """``(a - b) / (a + b)`` clipped to [-1, 1]; NaN where either input is NaN or the sum is not positive.

    L2A reflectance of dark water can be slightly negative (baseline 04.00 offset), which would push the
    ratio outside [-1, 1] or flip its sign; such values are clipped to the index's physical range.
    """
    total = a + b
    return ((a - b) / total.where(total > 0)).clip(-1.0, 1.0).astype("float32")


def awei_nsh(
    green: xr.DataArray, swir16: xr.DataArray, nir: xr.DataArray, swir22: xr.DataArray
) -> xr.DataArray:
    """Automated Water Extraction Index, no shadow (Feyisa et al. 2014): 4(G - S1) - (0.25 N + 2.75 S2).

    The paper's bracket is kept: the spyndex catalogue writes ``- 0.25 N + 2.75 S2``, which adds S2.
    """
    return (4 * (green - swir16) - (0.25 * nir + 2.75 * swir22)).astype("float32")


def awei_sh(
    blue: xr.DataArray, green: xr.DataArray, nir: xr.DataArray, swir16: xr.DataArray, swir22: xr.DataArray
) -> xr.DataArray:
    """Automated Water Extraction Index, shadow (Feyisa et al. 2014): B + 2.5 G - 1.5 (N + S1) - 0.25 S2."""
    return (blue + 2.5 * green - 1.5 * (nir + swir16) - 0.25 * swir22).astype("float32")


def bare_soil_index(
    blue: xr.DataArray, red: xr.DataArray, nir: xr.DataArray, swir16: xr.DataArray
) -> xr.DataArray:
    """Bare Soil Index (Rikimaru et al. 2002; the catalogue's BI): ((S1 + R) - (N + B)) / ((S1 + R) + (N + B))."""
    return normalized_difference(swir16 + red, nir + blue)


def enhanced_vegetation_index(blue: xr.DataArray, red: xr.DataArray, nir: xr.DataArray) -> xr.DataArray:
    """EVI = 2.5 (N - R) / (N + 6 R - 7.5 B + 1); NaN where the denominator is not positive."""
    denominator = nir + 6 * red - 7.5 * blue + 1
    return (2.5 * (nir - red) / denominator.where(denominator > 0)).astype("float32")


def salinity_khan(blue: xr.DataArray, red: xr.DataArray) -> xr.DataArray:
    """Salinity index of Khan et al. (2005), sqrt(B x R): salt crusts are bright in blue and red.

    Not in the spectral index catalogue; its ``SI`` is the Shadow Index, hence the distinct name.
    """
    return ((blue * red).clip(min=0) ** 0.5).astype("float32")


INDICES: dict[str, tuple[tuple[str, ...], Callable[..., xr.DataArray]]] = {
    # McFeeters (1996): open water is positive.
    "ndwi": (("green", "nir"), normalized_difference),
    # Xu (2006): like NDWI with SWIR1, which suppresses built-up land; same formula as NDSI.
    "mndwi": (("green", "swir16"), normalized_difference),
    # Rouse et al. (1974).
    "ndvi": (("nir", "red"), normalized_difference),
    "awei_nsh": (("green", "swir16", "nir", "swir22"), awei_nsh),
    "awei_sh": (("blue", "green", "nir", "swir16", "swir22"), awei_sh),
    "si_khan": (("blue", "red"), salinity_khan),
    # Key & Benson (2006): burned land drops in the NIR and rises in SWIR2.
    "nbr": (("nir", "swir22"), normalized_difference),
    # Huete et al. (2002), the catalogue's constants: G 2.5, C1 6, C2 7.5, L 1.
    "evi": (("blue", "red", "nir"), enhanced_vegetation_index),
    # Gao (1996), as NDMI: leaf water content.
    "ndmi": (("nir", "swir16"), normalized_difference),
    "bi": (("blue", "red", "nir", "swir16"), bare_soil_index),
}
"""Index name -> (bands in argument order, function)."""
INDEX_RANGES = {"ndwi": (-1.0, 1.0), "mndwi": (-1.0, 1.0), "ndvi": (-1.0, 1.0),
                "awei_nsh": (-4.0, 2.0), "awei_sh": (-2.0, 2.0), "si_khan": (0.0, 1.0), "nbr": (-1.0, 1.0),
                "ndmi": (-1.0, 1.0), "bi": (-1.0, 1.0), "evi": (-1.0, 1.0)}  # fmt: skip
"""Value range of each index on reflectance in [0, 1] (histograms for Otsu span it)."""


def compute_index(name: str, reflectance: xr.Dataset) -> xr.DataArray:
    """Compute index ``name`` lazily from a reflectance dataset with common band names."""
    try:
        bands, func = INDICES[name]
    except KeyError:
        raise ValueError(f"unknown index {name!r}; known: {sorted(INDICES)}") from None
    return func(*(reflectance[b] for b in bands)).rename(name)
