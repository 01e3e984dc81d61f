"""Validity masks from the Sentinel-2 scene classification (SCL)."""

from __future__ import annotations

import xarray as xr

__all__ = ["SCL", "scl_masks"]

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
