"""The AOI's own grid (odc-geo GeoBox): every scene is loaded onto it, whatever its native CRS."""

from __future__ import annotations

import numpy as np
import pyproj
from numpy.typing import NDArray
from odc.geo.geobox import GeoBox

from sensing.config import AoiConfig

__all__ = ["aoi_geobox", "pixel_area_m2", "row_pixel_areas_m2"]


def aoi_geobox(aoi: AoiConfig) -> GeoBox:
    """The AOI's GeoBox: its CRS, bounds and resolution (north-up)."""
    return GeoBox.from_bbox(aoi.bounds, crs=aoi.crs, resolution=aoi.resolution)


def pixel_area_m2(geobox: GeoBox) -> float:
    """Area of one pixel in m2: exact in the grid's projected units (UTM: within 0.1 % of true area)."""
    if not geobox.crs or geobox.crs.geographic:
        raise ValueError("pixel areas need a projected grid (e.g. UTM); the AOI grid is geographic")
    return abs(geobox.resolution.x * geobox.resolution.y)


def row_pixel_areas_m2(geobox: GeoBox) -> NDArray[np.float64]:
    """Area (m2) of one pixel in each row: constant on a projected grid, from the WGS84 ellipsoid
    (pyproj.Geod) on a geographic one, where pixels shrink towards the poles."""
    rows = geobox.shape.y
    if geobox.crs and not geobox.crs.geographic:
        return np.full(rows, pixel_area_m2(geobox))
    geod = pyproj.Geod(ellps="WGS84")
    affine = geobox.affine
    areas = np.empty(rows)
    for r in range(rows):
        (x0, y0), (x1, y1) = affine * (0, r), affine * (1, r + 1)
        area, _ = geod.polygon_area_perimeter([x0, x1, x1, x0], [y0, y0, y1, y1])
        areas[r] = abs(area)
    return areas
