"""Minimum mapping unit: drop water specks and fill small dry holes, exactly across chunk seams."""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy import ndimage

from sensing.compute.water import CLASS_DRY, CLASS_WATER

__all__ = ["minimum_mapping_unit", "remove_small_components"]


def _small_components(mask: NDArray[np.bool_], min_px: int) -> NDArray[np.bool_]:
    """Pixels of 8-connected components of ``mask`` smaller than ``min_px`` that do not touch the
    block's border (a component that does may continue outside: it is left alone)."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return np.zeros_like(mask)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    small = sizes < min_px
    small[0] = False
    small[border] = False
    return small[labels]


def remove_small_components(mask: xr.DataArray, min_px: int) -> xr.DataArray:
    """Pixels of ``mask``'s 8-connected components smaller than ``min_px`` pixels, lazily.

    Exact whatever the chunking: blocks overlap by ``min_px``, and a component smaller than that
    seen from a block's core lies wholly inside the overlapped block, while one that reaches the
    overlapped block's border spans more than ``min_px`` pixels, so it is never small. Beyond the
    array's edges lies nothing: components there are judged like any other.
    """
    if min_px <= 1:
        return xr.zeros_like(mask, dtype=bool)
    small = da.map_overlap(
        _small_components, mask.data, depth=min_px, boundary=False, dtype=bool, min_px=min_px
    )
    return mask.copy(data=small)


def minimum_mapping_unit(classes: xr.DataArray, min_px: int) -> xr.DataArray:
    """The class layer with water components smaller than ``min_px`` pixels turned dry and dry
    holes smaller than that turned water; snow/ice, cloud and nodata are untouched."""
    if min_px <= 1:
        return classes
    specks = remove_small_components(classes == CLASS_WATER, min_px)
    holes = remove_small_components(classes == CLASS_DRY, min_px)
    cleaned = xr.where(specks, CLASS_DRY, xr.where(holes, CLASS_WATER, classes))
    return cleaned.astype(classes.dtype).rename(classes.name)
