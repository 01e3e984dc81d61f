"""Nominal water-body outlines: read from GeoJSON (EPSG:4326), reprojected onto a grid's CRS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray
from rasterio.features import rasterize
from rasterio.transform import Affine
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from sensing.errors import ConfigError

__all__ = ["WaterBody", "rasterize_zones", "read_water_bodies", "to_crs", "to_lonlat"]


@dataclass(frozen=True)
class WaterBody:
    """A monitored lake or reservoir: its identifier, name and nominal (maximum) outline."""

    id: str
    """Identifier used in tables and URLs."""
    name: str
    """Name in reports."""
    geometry: BaseGeometry
    """Nominal outline in EPSG:4326 (lon, lat)."""


def read_water_bodies(path: Path) -> list[WaterBody]:
    """Read a GeoJSON FeatureCollection whose features carry ``id`` and ``name`` properties.

    Invalid rings are repaired with ``make_valid`` (real outlines, e.g. Balkhash's, self-intersect).
    """
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"water_bodies: cannot read {path}: {exc}") from exc
    bodies = []
    for n, feature in enumerate(doc.get("features", [])):
        props = feature.get("properties") or {}
        if "id" not in props:
            raise ConfigError(f"water_bodies: feature {n} of {path} has no 'id' property")
        geom = shapely.make_valid(shape(feature["geometry"]))
        bodies.append(WaterBody(id=str(props["id"]), name=str(props.get("name", props["id"])), geometry=geom))
    if not bodies:
        raise ConfigError(f"water_bodies: {path} holds no features")
    return bodies


def to_crs(geometry: BaseGeometry, crs: str) -> BaseGeometry:
    """Reproject a lon/lat geometry to ``crs``."""
    transformer = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return shapely.transform(geometry, transformer.transform, interleaved=False)


def to_lonlat(geometry: BaseGeometry, crs: str) -> BaseGeometry:
    """Reproject a geometry from ``crs`` to lon/lat (EPSG:4326)."""
    transformer = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return shapely.transform(geometry, transformer.transform, interleaved=False)


def rasterize_zones(
    bodies: list[WaterBody], crs: str, transform: Affine, shape_: tuple[int, int]
) -> NDArray[np.uint16]:
    """Label raster of a window: 0 outside every outline, i+1 inside ``bodies[i]``."""
    shapes = [(mapping(to_crs(b.geometry, crs)), i + 1) for i, b in enumerate(bodies)]
    return rasterize(shapes, out_shape=shape_, transform=transform, fill=0, dtype="uint16")
