"""Terrain against false water: mountain shadow and dark slopes look like water in every water index
(the classic errors around Kapchagay, Bukhtarma and Markakol). A DEM on the grid gives three vetoes:

- slope: water surfaces are flat; water on slopes steeper than ``max_slope_deg`` becomes dry;
- shadow: where the sun, at the acquisition's position, lights the slope at a grazing angle
  (hillshade below ``min_hillshade``: self-shadow) or terrain toward the sun hides it (cast shadow:
  a ridge shading the valley floor), the surface is not seen: water there becomes cloud/shadow;
- height (Blue Dot): water more than ``max_height_above_m`` above its water body's surface (the
  5th percentile of the DEM inside the outline: DEMs record lakes at their surface) becomes dry.

Slope and hillshade are focal (3x3) and computed with a one-pixel overlap, cast shadow with an
overlap of its longest ray, so chunking never changes them. The sun's position comes from the acquisition time and the AOI's centre (NOAA's equations). The DEM
itself is read by ``sensing.sources.dem``.
"""

from __future__ import annotations

import datetime as dt
import math

import dask.array as da
import numpy as np
import xarray as xr
from numpy.typing import NDArray

from sensing.compute.counts import bincount
from sensing.compute.water import CLASS_CLOUD, CLASS_DRY, CLASS_WATER
from sensing.config import TerrainConfig

__all__ = [
    "cast_shadow",
    "hillshade",
    "slope_deg",
    "solar_position",
    "terrain_vetoes",
    "zone_reference_heights",
]


def solar_position(when: dt.datetime, lon: float, lat: float) -> tuple[float, float]:
    """Sun elevation and azimuth (degrees; azimuth clockwise from north) at ``when`` (UTC), by the
    NOAA solar calculator's equations (within a fraction of a degree, refraction ignored)."""
    when = when.astimezone(dt.UTC)
    day = when.timetuple().tm_yday
    hours = when.hour + when.minute / 60 + when.second / 3600
    gamma = 2 * math.pi / 365 * (day - 1 + (hours - 12) / 24)
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(gamma) - 0.032077 * math.sin(gamma)
                       - 0.014615 * math.cos(2 * gamma) - 0.040849 * math.sin(2 * gamma))  # fmt: skip
    decl = (0.006918 - 0.399912 * math.cos(gamma) + 0.070257 * math.sin(gamma) - 0.006758 * math.cos(2 * gamma)
            + 0.000907 * math.sin(2 * gamma) - 0.002697 * math.cos(3 * gamma) + 0.00148 * math.sin(3 * gamma))  # fmt: skip
    hour_angle = math.radians((hours * 60 + eqtime + 4 * lon) / 4 - 180)
    phi = math.radians(lat)
    cos_zenith = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(hour_angle)
    zenith = math.acos(max(-1.0, min(1.0, cos_zenith)))
    azimuth = math.degrees(math.atan2(math.sin(hour_angle),
                                      math.cos(hour_angle) * math.sin(phi) - math.tan(decl) * math.cos(phi)))  # fmt: skip
    return 90 - math.degrees(zenith), (azimuth + 180) % 360


def _gradients(
    dem: NDArray[np.float32], resolution: float
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """dz/dx (east) and dz/dy (north) of a north-up block."""
    dz_row, dz_col = np.gradient(dem, resolution)
    return np.asarray(dz_col, dtype=np.float32), np.asarray(-dz_row, dtype=np.float32)


def slope_deg(dem: xr.DataArray, resolution: float) -> xr.DataArray:
    """Slope in degrees (3x3 central differences, one-pixel overlap between blocks)."""

    def block(z: NDArray[np.float32]) -> NDArray[np.float32]:
        dx, dy = _gradients(z, resolution)
        return np.degrees(np.arctan(np.hypot(dx, dy))).astype(np.float32)

    data = da.map_overlap(block, dem.data, depth=1, boundary="none", dtype=np.float32)
    return dem.copy(data=data).rename("slope")


def hillshade(dem: xr.DataArray, resolution: float, sun_elevation: float, sun_azimuth: float) -> xr.DataArray:
    """Cosine of the sun's incidence on the terrain (1 facing the sun, <= 0 in self-shadow)."""
    zenith, azimuth = math.radians(90 - sun_elevation), math.radians(sun_azimuth)
    sun = np.array(
        [math.sin(zenith) * math.sin(azimuth), math.sin(zenith) * math.cos(azimuth), math.cos(zenith)]
    )

    def block(z: NDArray[np.float32]) -> NDArray[np.float32]:
        dx, dy = _gradients(z, resolution)
        norm = np.sqrt(dx**2 + dy**2 + 1)
        return ((-dx * sun[0] - dy * sun[1] + sun[2]) / norm).astype(np.float32)

    data = da.map_overlap(block, dem.data, depth=1, boundary="none", dtype=np.float32)
    return dem.copy(data=data).rename("hillshade")


def cast_shadow(
    dem: xr.DataArray, resolution: float, sun_elevation: float, sun_azimuth: float, max_distance_m: float
) -> xr.DataArray:
    """Pixels that terrain toward the sun hides from it: a ray from each pixel toward the sun, marched
    one pixel at a time up to ``max_distance_m``, passes below the DEM somewhere. Blocks overlap by
    the longest ray, so chunking never changes the result; beyond the grid lies nothing."""
    if sun_elevation <= 0:
        return dem.copy(data=da.ones_like(dem.data, dtype=bool)).rename("cast_shadow")
    steps = max(1, math.ceil(max_distance_m / resolution))
    east, north = math.sin(math.radians(sun_azimuth)), math.cos(math.radians(sun_azimuth))
    rise = math.tan(math.radians(sun_elevation)) * resolution
    offsets = list(dict.fromkeys((-round(k * north), round(k * east)) for k in range(1, steps + 1)))
    offsets = [o for o in offsets if o != (0, 0)]

    def block(z: NDArray[np.float32]) -> NDArray[np.bool_]:
        shadow = np.zeros(z.shape, dtype=bool)
        rows, cols = z.shape
        for dr, dc in offsets:
            if abs(dr) >= rows or abs(dc) >= cols:
                continue
            here = (slice(max(-dr, 0), rows - max(dr, 0)), slice(max(-dc, 0), cols - max(dc, 0)))
            there = (slice(max(dr, 0), rows - max(-dr, 0)), slice(max(dc, 0), cols - max(-dc, 0)))
            shadow[here] |= z[there] > z[here] + math.hypot(dr, dc) * rise
        return shadow

    z, depth = dem.data, {}
    for axis, reach in enumerate((max(abs(dr) for dr, _ in offsets), max(abs(dc) for _, dc in offsets))):
        if reach >= z.shape[axis]:  # a ray longer than the grid: that axis in one block
            z, reach = z.rechunk({axis: -1}), 0
        depth[axis] = reach
    data = da.map_overlap(block, z, depth=depth, boundary="none", dtype=bool).rechunk(dem.data.chunks)
    return dem.copy(data=data).rename("cast_shadow")


def zone_reference_heights(
    dem: xr.DataArray, zones: da.Array, n_zones: int, quantile: float = 0.05
) -> NDArray[np.float64]:
    """Per zone (index 1..n; 0 unused) the ``quantile`` of the DEM inside it, from a histogram of
    whole metres (one Dask pass); NaN for a zone without DEM values."""
    lo, hi = -500, 9000
    metres = da.clip(da.floor(da.where(da.isnan(dem.data), lo - 1, dem.data)), lo - 1, hi).astype(
        np.int64
    ) - (lo - 1)
    width = hi - lo + 2
    flat = zones.rechunk(dem.data.chunks).astype(np.int64) * width + metres
    counts = bincount(flat, (n_zones + 1) * width).compute().reshape(n_zones + 1, width)
    counts[:, 0] = 0  # no data
    heights = np.full(n_zones + 1, np.nan)
    for zone in range(1, n_zones + 1):
        total = counts[zone].sum()
        if total:
            heights[zone] = float(np.searchsorted(np.cumsum(counts[zone]), quantile * total) + lo - 1)
    return heights


def terrain_vetoes(
    classes: xr.DataArray,
    dem: xr.DataArray,
    resolution: float,
    sun: tuple[float, float],
    zones: da.Array | None,
    n_zones: int,
    cfg: TerrainConfig,
) -> xr.DataArray:
    """``classes`` with water on steep slopes or too high above its water body made dry, and water in
    self-shadow or cast shadow made cloud/shadow (not seen)."""
    water = classes == CLASS_WATER
    steep = slope_deg(dem, resolution) > cfg.max_slope_deg
    vetoed = steep
    if zones is not None:
        references = zone_reference_heights(dem, zones, n_zones) if n_zones else np.full(1, np.nan)
        lookup = np.full(np.iinfo(np.uint16).max + 1, np.inf, dtype=np.float32)  # zones are uint16
        lookup[: len(references)] = np.where(
            np.isfinite(references), references + cfg.max_height_above_m, np.inf
        )
        ceiling = da.map_blocks(lookup.__getitem__, zones.rechunk(dem.data.chunks), dtype=np.float32)
        vetoed = vetoed | dem.copy(data=dem.data > ceiling)
    shadow = (hillshade(dem, resolution, *sun) < cfg.min_hillshade) | cast_shadow(
        dem, resolution, *sun, cfg.max_shadow_m
    )
    out = xr.where(water & vetoed, CLASS_DRY, classes)
    out = xr.where(water & ~vetoed & shadow, CLASS_CLOUD, out)
    return out.astype("uint8").rename(classes.name)
