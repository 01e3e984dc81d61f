"""Cloud detection where a scene has no classification layer: s2cloudless on Sentinel-2 L1C/TOA bands.

The LightGBM model ships inside the s2cloudless package. Its spatial averaging and dilation reach a
few pixels, so blocks are computed with that much overlap: chunked results equal unchunked ones.
"""

from __future__ import annotations

from functools import cache

import dask.array as da
import numpy as np
import xarray as xr
from numpy.typing import NDArray
from s2cloudless import S2PixelCloudDetector

__all__ = ["S2CLOUDLESS_BANDS", "s2cloudless_mask"]

S2CLOUDLESS_BANDS = (
    "coastal",
    "blue",
    "red",
    "rededge1",
    "nir",
    "nir08",
    "nir09",
    "cirrus",
    "swir16",
    "swir22",
)
"""The model's inputs B01 B02 B04 B05 B08 B8A B09 B10 B11 B12, by the band names this project uses."""
AVERAGE_OVER, DILATION = 4, 2


@cache
def _detector(threshold: float) -> S2PixelCloudDetector:
    return S2PixelCloudDetector(
        threshold=threshold, average_over=AVERAGE_OVER, dilation_size=DILATION, all_bands=False
    )


def _block(stack: NDArray[np.float32], threshold: float) -> NDArray[np.bool_]:
    detector = _detector(threshold)
    probability = detector.get_cloud_probability_maps(np.nan_to_num(stack, nan=0.0)[np.newaxis])
    return detector.get_mask_from_prob(probability)[0].astype(bool)


def s2cloudless_mask(reflectance: xr.Dataset, threshold: float = 0.4) -> xr.DataArray:
    """Lazy cloud mask (True = cloud) from the ten s2cloudless bands of a TOA reflectance dataset."""
    missing = [b for b in S2CLOUDLESS_BANDS if b not in reflectance]
    if missing:
        raise ValueError(f"s2cloudless needs bands {missing}")
    template = reflectance[S2CLOUDLESS_BANDS[0]]
    stack = da.stack([reflectance[b].data for b in S2CLOUDLESS_BANDS], axis=-1).rechunk({2: -1})
    depth = AVERAGE_OVER + DILATION + 2
    mask = da.map_overlap(
        _block, stack, depth={0: depth, 1: depth, 2: 0}, boundary="none", drop_axis=2, dtype=bool,
        threshold=threshold, meta=np.array((), dtype=bool),
    )  # fmt: skip
    return xr.DataArray(mask, coords=template.coords, dims=template.dims, name="cloud")
