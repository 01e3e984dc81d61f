"""Water polygons and shorelines of one date, per water body, from a published class layer.

Each water body's window of the class COG is read at full resolution, or from the COG's overviews
when the window is larger than ``max_pixels`` (a 600 km lake is vectorised at a coarser step rather
than loaded whole), polygonised inside the nominal outline with rasterio, and simplified by one
pixel for web use (pixel staircases removed, at most a pixel of displacement).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.errors import WindowError
from rasterio.features import geometry_mask, shapes
from rasterio.windows import Window, from_bounds
from shapely.geometry import shape

from sensing.compute.water import CLASS_WATER
from sensing.waterbodies import WaterBody, to_crs

__all__ = ["MAX_PIXELS", "water_vectors"]

MAX_PIXELS = 25_000_000
"""Largest window polygonised at full resolution (25 Mpx: about 100 MB of class and mask arrays)."""


def water_vectors(
    classes: Path, bodies: list[WaterBody], date: dt.date, max_pixels: int = MAX_PIXELS
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(water polygons, shorelines) of ``date``: one row per water body seen on the layer, with its
    water area (km2, of the simplified polygons in the layer's CRS) and the vectorisation step (m)."""
    polygons, lines, rows = [], [], []
    with rasterio.open(classes) as ds:
        full = Window(0, 0, ds.width, ds.height)
        for body in bodies:
            outline = to_crs(body.geometry, str(ds.crs))
            window = from_bounds(*outline.bounds, transform=ds.transform).round_offsets().round_lengths()
            try:
                window = window.intersection(full)
            except WindowError:  # outline off the layer
                continue
            step = max(1, math.ceil(math.sqrt(window.width * window.height / max_pixels)))
            out_shape = (math.ceil(window.height / step), math.ceil(window.width / step))
            data = ds.read(1, window=window, out_shape=out_shape, resampling=Resampling.nearest)
            transform = ds.window_transform(window) * rasterio.Affine.scale(
                window.width / out_shape[1], window.height / out_shape[0]
            )
            inside = ~geometry_mask([outline], out_shape=out_shape, transform=transform)
            water = (data == CLASS_WATER) & inside
            pixel = abs(transform.a)
            parts = [shape(g) for g, _ in shapes(water.astype(np.uint8), mask=water, transform=transform)]
            geometry = shapely.union_all(parts).simplify(pixel, preserve_topology=True)
            if geometry.is_empty:
                continue
            polygons.append(geometry)
            lines.append(geometry.boundary)
            rows.append(
                {
                    "water_body": body.id,
                    "name": body.name,
                    "date": date.isoformat(),
                    "water_km2": round(geometry.area / 1e6, 4),
                    "step_m": pixel,
                }
            )
        crs = ds.crs
    return (
        gpd.GeoDataFrame(rows, geometry=polygons, crs=crs),
        gpd.GeoDataFrame(rows, geometry=lines, crs=crs),
    )
