"""Per-water-body areas from the class layer, reduced with Dask (no full-scene arrays)."""

from __future__ import annotations

import datetime as dt

import dask.array as da
import numpy as np
from numpy.typing import NDArray
from odc.geo.geobox import GeoBox
from rasterio.features import rasterize
from shapely.geometry import mapping

from sensing.compute.counts import bincount
from sensing.compute.water import CLASS_CLOUD, CLASS_DRY, CLASS_NODATA, CLASS_SNOW_ICE, CLASS_WATER
from sensing.config import QualityConfig
from sensing.models import WaterBodyArea
from sensing.waterbodies import WaterBody, core_outline, to_crs

__all__ = [
    "CLASS_ORDER",
    "areas_from_counts",
    "quality_flag",
    "shapes_raster",
    "zone_class_counts",
    "zones_raster",
]

CLASS_ORDER = (CLASS_DRY, CLASS_WATER, CLASS_SNOW_ICE, CLASS_CLOUD, CLASS_NODATA)
"""Column order of :func:`zone_class_counts`."""


def zones_raster(bodies: list[WaterBody], geobox: GeoBox, chunk: int, shrink_m: float = 0.0) -> da.Array:
    """Lazy uint16 labels on ``geobox``: 0 outside every outline, i+1 inside ``bodies[i]`` (its outline
    shrunk by ``shrink_m`` metres, see :func:`sensing.waterbodies.core_outline`)."""
    crs = str(geobox.crs)
    shapes = [(mapping(to_crs(core_outline(b.geometry, shrink_m), crs)), i + 1) for i, b in enumerate(bodies)]
    return shapes_raster(shapes, geobox, chunk, "uint16")


def shapes_raster(
    shapes: list[tuple[dict, int]], geobox: GeoBox, chunk: int, dtype: str, fill: int = 0
) -> da.Array:
    """Lazy raster on ``geobox`` of (GeoJSON geometry in the grid's CRS, value) pairs, ``fill`` elsewhere;
    each block rasterized on its own (never the whole grid in memory)."""
    affine = geobox.affine

    def block(block_info: dict | None = None) -> NDArray:
        assert block_info is not None
        (r0, r1), (c0, c1) = block_info[None]["array-location"]
        window_affine = affine * affine.translation(c0, r0)
        out_shape = (r1 - r0, c1 - c0)
        if not shapes:
            return np.full(out_shape, fill, dtype=dtype)
        return rasterize(shapes, out_shape=out_shape, transform=window_affine, fill=fill, dtype=dtype)

    return da.map_blocks(block, chunks=da.core.normalize_chunks(chunk, geobox.shape.yx), dtype=dtype)


def zone_class_counts(classes: da.Array, zones: da.Array, n_zones: int) -> da.Array:
    """Lazy (n_zones + 1, 5) pixel counts per zone of the classes in :data:`CLASS_ORDER`."""
    # Classes 0..3 are their own column; nodata (255) is the last one.
    columns = da.where(classes == CLASS_NODATA, len(CLASS_ORDER) - 1, classes)
    flat = zones.astype("int64").rechunk(classes.chunks) * len(CLASS_ORDER) + columns.astype("int64")
    counts = bincount(flat, (n_zones + 1) * len(CLASS_ORDER))
    return counts.reshape(n_zones + 1, len(CLASS_ORDER))


def quality_flag(valid: float, cloud: float, ice: float, cfg: QualityConfig) -> tuple[str, str]:
    """Quality flag and reason of one observation from the outline's valid, cloud and ice fractions.

    ``frozen`` when ice covers ``cfg.ice_min_fraction`` of what was seen; otherwise ``ok`` when at
    most ``cfg.max_invalid_fraction`` of the outline was hidden, else ``cloudy`` or ``partial``
    (outside the swath), whichever hid more.
    """
    if ice >= cfg.ice_min_fraction:
        return "frozen", f"{ice:.0%} of the observed outline is snow or ice"
    invalid = 1.0 - valid
    if invalid <= cfg.max_invalid_fraction:
        return "ok", ""
    nodata = invalid - cloud
    flag = "cloudy" if cloud >= nodata else "partial"
    return (
        flag,
        f"{invalid:.0%} of the outline unobserved ({cloud:.0%} cloud or shadow, {nodata:.0%} no data)",
    )


def areas_from_counts(
    counts: NDArray[np.int64],
    bodies: list[WaterBody],
    pixel_area_m2: float,
    date: dt.date,
    cfg: QualityConfig,
    **extra: object,
) -> list[WaterBodyArea]:
    """Areas (km2), fractions and quality flag per water body, from :func:`zone_class_counts`.

    Water bodies whose outline does not reach the grid get no row.
    """
    km2 = pixel_area_m2 / 1e6
    rows = []
    for i, body in enumerate(bodies, start=1):
        dry, water, ice, cloud, nodata = (int(c) for c in counts[i])
        total = dry + water + ice + cloud + nodata
        if total == 0:
            continue
        observed = dry + water + ice
        valid, cloudy = observed / total, cloud / total
        ice_fraction = ice / observed if observed else 0.0
        quality, reason = quality_flag(valid, cloudy, ice_fraction, cfg)
        rows.append(
            WaterBodyArea(
                water_body=body.id, date=date, water_km2=round(water * km2, 4), ice_km2=round(ice * km2, 4),
                valid_fraction=round(valid, 4), quality=quality, nominal_fraction=round(water / total, 4),
                cloud_fraction=round(cloudy, 4), ice_fraction=round(ice_fraction, 4), usable=quality == "ok",
                reason=reason, **extra,  # type: ignore[arg-type]
            )
        )  # fmt: skip
    return rows
