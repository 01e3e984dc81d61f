"""Water-body outlines derived from the occurrence summary, as DEA Waterbodies does: pixels wet in more
than ``extent`` of their clear observations form the outline, kept where the patch holds a core wet
in more than ``detect`` of them (hysteresis: a seasonal margin joins a lake, isolated damp pixels do
not), patches smaller than ``min_pixels`` dropped. The result is a hydrography file the registry or
``water_bodies`` can use directly (``id`` and ``name`` properties)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from rasterio.crs import CRS
from rasterio.features import shapes
from rasterio.transform import Affine
from shapely.geometry import shape
from skimage.filters import apply_hysteresis_threshold
from skimage.measure import label
from skimage.morphology import remove_small_objects

__all__ = ["derive_outlines"]


def derive_outlines(
    wet: NDArray[np.uint16],
    clear: NDArray[np.uint16],
    transform: Affine,
    crs: CRS,
    *,
    detect: float = 0.10,
    extent: float = 0.05,
    min_clear: int = 3,
    min_pixels: int = 10,
    prefix: str = "wb",
) -> gpd.GeoDataFrame:
    """Outlines (largest first, ids ``<prefix>-0001``...) with their area (km2, in the grid's CRS)
    and maximum and mean water frequency. Pixels seen clear fewer than ``min_clear`` times never count."""
    if not 0 < extent <= detect < 1:
        raise ValueError(f"need 0 < extent ({extent}) <= detect ({detect}) < 1")
    frequency = np.where(clear >= min_clear, wet / np.maximum(clear, 1), 0.0).astype(np.float32)
    water = apply_hysteresis_threshold(
        frequency, extent, detect
    )  # above extent, joined to a pixel above detect
    labels = remove_small_objects(label(water, connectivity=2), max_size=min_pixels - 1)
    pieces: dict[int, list[shapely.Geometry]] = {}
    for geometry, value in shapes(
        labels.astype(np.int32), mask=labels > 0, transform=transform, connectivity=8
    ):
        pieces.setdefault(int(value), []).append(shape(geometry))
    rows, geometries = [], []
    for value, parts in pieces.items():
        inside = frequency[labels == value]
        geometries.append(shapely.union_all(parts))
        rows.append(
            {"max_frequency": round(float(inside.max()), 3), "mean_frequency": round(float(inside.mean()), 3)}
        )
    frame = gpd.GeoDataFrame(rows, geometry=geometries, crs=crs)
    frame["area_km2"] = (frame.area / 1e6).round(4)
    frame = frame.sort_values("area_km2", ascending=False, kind="stable").reset_index(drop=True)
    frame.insert(0, "id", [f"{prefix}-{n + 1:04d}" for n in range(len(frame))])
    frame.insert(1, "name", frame["id"])
    return frame
