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

__all__ = ["S2CLOUDLESS_BANDS", "SPECTRAL_TEST_BANDS", "s2cloudless_mask", "spectral_cloud_masks"]

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


SPECTRAL_TEST_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")


def spectral_cloud_masks(r: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    """Cloud and shadow from reflectance alone: Fmask's potential-cloud tests (Zhu & Woodcock 2012:
    basic, whiteness, haze-optimised transform, NIR/SWIR1) and a dark, non-water shadow test.

    For scenes with no mask layer and no model bands. Without thermal data, bright salt crusts pass
    the cloud tests too: prefer SCL, QA_PIXEL or s2cloudless where they exist.
    """
    visible = (r["blue"] + r["green"] + r["red"]) / 3
    whiteness = (abs(r["blue"] - visible) + abs(r["green"] - visible) + abs(r["red"] - visible)) / visible
    ndsi = (r["green"] - r["swir16"]) / (r["green"] + r["swir16"])
    ndvi = (r["nir"] - r["red"]) / (r["nir"] + r["red"])
    basic = (r["swir22"] > 0.03) & (ndsi < 0.8) & (ndvi < 0.8)
    hot = r["blue"] - 0.5 * r["red"] - 0.08 > 0
    cloud = basic & (whiteness < 0.7) & hot & (r["nir"] / r["swir16"] > 0.75) & (visible > 0.2)
    shadow = (r["nir"] < 0.08) & (r["swir16"] < 0.08) & (ndsi < 0) & ~cloud
    return cloud.fillna(False).astype(bool), shadow.fillna(False).astype(bool)
