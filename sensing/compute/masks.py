"""Validity masks from the Sentinel-2 scene classification (SCL)."""

from __future__ import annotations

import xarray as xr

__all__ = ["SCL", "nodata_only", "scl_masks"]

SCL = {
    "nodata": (0,),
    "saturated": (1,),
    "shadow": (2, 3),  # dark area pixels and cloud shadows
    "cloud": (8, 9, 10),  # medium and high probability cloud, thin cirrus
    "snow": (11,),
}


def scl_masks(scl: xr.DataArray) -> xr.Dataset:
    """Boolean masks ``nodata``, ``cloud`` (cloud, cirrus, shadow, saturated) and ``snow`` from SCL.

    The three states stay apart: nodata is not "no water", and cloud is not dry land.
    """
    nodata = scl.isin(SCL["nodata"])
    cloud = scl.isin(SCL["cloud"] + SCL["shadow"] + SCL["saturated"])
    snow = scl.isin(SCL["snow"])
    return xr.Dataset({"nodata": nodata, "cloud": cloud, "snow": snow})


def nodata_only(reflectance: xr.Dataset) -> xr.Dataset:
    """Masks for a scene without a classification layer: nodata where any band is NaN, no cloud or snow.

    Clouds then stay unmasked (recorded as ``sensing:cloud_mask: none`` on the outputs).
    """
    nodata = xr.concat([reflectance[b].isnull() for b in reflectance.data_vars], dim="band").any("band")
    false = xr.zeros_like(nodata, dtype=bool)
    return xr.Dataset({"nodata": nodata, "cloud": false, "snow": false})
