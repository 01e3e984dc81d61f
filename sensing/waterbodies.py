"""Nominal water-body outlines: read from a vector file (GeoJSON, GeoPackage...) into EPSG:4326, and
reprojected onto a grid's CRS. A registry (``sensing.registry``) adds names and outline sources."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray
from rasterio.features import rasterize
from rasterio.transform import Affine
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from sensing.curves import Curve
from sensing.errors import ConfigError
from sensing.models import WaterBodyArea

__all__ = [
    "WaterBody",
    "core_outline",
    "rasterize_zones",
    "read_water_bodies",
    "to_crs",
    "to_lonlat",
    "water_body_frame",
    "with_level",
]

GEOD = pyproj.Geod(ellps="WGS84")


@dataclass(frozen=True)
class WaterBody:
    """A monitored lake or reservoir: its identifier, name and nominal (maximum) outline."""

    id: str
    """Identifier used in tables and URLs."""
    name: str
    """Name in reports."""
    geometry: BaseGeometry
    """Nominal outline in EPSG:4326 (lon, lat)."""
    names: dict[str, str] = field(default_factory=dict, compare=False)
    """Names by language (``en``, ``ru``, ``kk``) where the registry gives them."""
    kind: str = ""
    """``lake``, ``reservoir``, ``saline lake``, ``sea`` or ``pond``."""
    region: str = ""
    """Oblast."""
    basin: str = ""
    """Water-management basin."""
    curve: Curve | None = field(default=None, compare=False)
    """Area-level-volume curve, where surveyed."""


def read_water_bodies(path: Path) -> list[WaterBody]:
    """Read a vector file (any CRS) whose features carry ``id`` and ``name`` properties (optionally
    ``name_ru``, ``name_kk``, ``type``, ``region``, ``basin``).

    Invalid rings are repaired with ``make_valid`` (real outlines, e.g. Balkhash's, self-intersect).
    """
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio's DataSourceError, or OSError
        raise ConfigError(f"water_bodies: cannot read {path}: {exc}") from exc
    if "id" not in frame.columns:
        raise ConfigError(f"water_bodies: the features of {path} have no 'id' property")
    if frame.empty:
        raise ConfigError(f"water_bodies: {path} holds no features")
    if frame.crs is not None:
        frame = frame.to_crs("EPSG:4326")
    bodies = []
    for n, row in enumerate(frame.to_dict("records")):
        if row.get("id") is None or row["geometry"] is None:
            raise ConfigError(f"water_bodies: feature {n} of {path} has no 'id' or no geometry")
        name = _text(row, "name") or str(row["id"])
        names = {"en": name} | {
            lang: _text(row, f"name_{lang}") for lang in ("ru", "kk") if _text(row, f"name_{lang}")
        }
        bodies.append(
            WaterBody(
                id=str(row["id"]), name=name, geometry=shapely.make_valid(row["geometry"]), names=names,
                kind=_text(row, "type"), region=_text(row, "region"), basin=_text(row, "basin"),
            )
        )  # fmt: skip
    return bodies


def _text(row: dict[str, object], key: str) -> str:
    """A property as text; "" where absent or null."""
    value = row.get(key)
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def to_crs(geometry: BaseGeometry, crs: str) -> BaseGeometry:
    """Reproject a lon/lat geometry to ``crs``."""
    transformer = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return shapely.transform(geometry, transformer.transform, interleaved=False)


def to_lonlat(geometry: BaseGeometry, crs: str) -> BaseGeometry:
    """Reproject a geometry from ``crs`` to lon/lat (EPSG:4326)."""
    transformer = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return shapely.transform(geometry, transformer.transform, interleaved=False)


@functools.lru_cache(maxsize=1024)
def core_outline(geometry: BaseGeometry, margin_m: float) -> BaseGeometry:
    """A lon/lat outline shrunk by ``margin_m`` metres (in its UTM zone); the outline itself where
    shrinking leaves nothing (a lake narrower than twice the margin). Cached: every scene of a run
    rasterizes the same cores, and finding the UTM zone takes a tenth of a second."""
    if margin_m <= 0:
        return geometry
    series = gpd.GeoSeries([geometry], crs="EPSG:4326")
    utm = series.estimate_utm_crs()
    core = series.to_crs(utm).buffer(-margin_m).to_crs("EPSG:4326").iloc[0]
    return geometry if core.is_empty else core


def rasterize_zones(
    bodies: list[WaterBody], crs: str, transform: Affine, shape_: tuple[int, int]
) -> NDArray[np.uint16]:
    """Label raster of a window: 0 outside every outline, i+1 inside ``bodies[i]``."""
    shapes = [(mapping(to_crs(b.geometry, crs)), i + 1) for i, b in enumerate(bodies)]
    return rasterize(shapes, out_shape=shape_, transform=transform, fill=0, dtype="uint16")


def water_body_frame(bodies: list[WaterBody]) -> gpd.GeoDataFrame:
    """The bodies as a table with their outlines (EPSG:4326): id, names in English, Russian and Kazakh,
    type, region, basin and nominal (geodesic) area in km2."""
    rows = [
        {
            "id": b.id,
            "name_en": b.names.get("en", b.name),
            "name_ru": b.names.get("ru", ""),
            "name_kk": b.names.get("kk", ""),
            "type": b.kind,
            "region": b.region,
            "basin": b.basin,
            "nominal_km2": round(abs(GEOD.geometry_area_perimeter(b.geometry)[0]) / 1e6, 4),
        }
        for b in bodies
    ]
    return gpd.GeoDataFrame(rows, geometry=[b.geometry for b in bodies], crs="EPSG:4326")


def with_level(row: WaterBodyArea, bodies: list[WaterBody]) -> WaterBodyArea:
    """``row`` with level and volume from its water body's curve (from the gap-filled area where the
    row has one, else the measured area); failed and frozen rows get none."""
    curve = next((b.curve for b in bodies if b.id == row.water_body), None)
    if curve is None or row.quality in ("failed", "frozen"):
        return row
    area = row.filled_km2 if np.isfinite(row.filled_km2) else row.water_km2
    level, volume = curve.at_area(area)
    return dataclasses.replace(row, level_m=level, volume_mcm=volume)
