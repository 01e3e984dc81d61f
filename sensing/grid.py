"""The AOI's own grid (odc-geo GeoBox): every scene is loaded onto it, whatever its native CRS."""

from __future__ import annotations

from odc.geo.geobox import GeoBox

from sensing.config import AoiConfig

__all__ = ["aoi_geobox", "pixel_area_m2"]


def aoi_geobox(aoi: AoiConfig) -> GeoBox:
    """The AOI's GeoBox: its CRS, bounds and resolution (north-up)."""
    return GeoBox.from_bbox(aoi.bounds, crs=aoi.crs, resolution=aoi.resolution)


def pixel_area_m2(geobox: GeoBox) -> float:
    """Area of one pixel in m2: exact in the grid's projected units (UTM: within 0.1 % of true area)."""
    if not geobox.crs or geobox.crs.geographic:
        raise ValueError("pixel areas need a projected grid (e.g. UTM); the AOI grid is geographic")
    return abs(geobox.resolution.x * geobox.resolution.y)
