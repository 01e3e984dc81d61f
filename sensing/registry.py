"""The water-body registry: a YAML list of monitored lakes and reservoirs (names in English, Russian
and Kazakh, type, region, basin, bounding box) whose nominal outlines come from a hydrography file
(GeoJSON, GeoPackage, GeoParquet... anything pyogrio reads, in any CRS).

An entry's outline is the union of the file's features that match ``outline.match`` (property equal
to value) or, without ``match``, of every feature intersecting the bounding box; either way clipped to
the bounding box, which is how one basin of a reservoir or one lake of a joined polygon is monitored
on its own (Bukhtarma and Zaysan share one polygon in Natural Earth).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import geopandas as gpd
import shapely
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from sensing.curves import read_curve
from sensing.errors import ConfigError
from sensing.waterbodies import WaterBody, read_water_bodies

__all__ = ["Registry", "RegistryEntry", "load_water_bodies", "read_registry"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(_Model):
    """A water body's name in the programme's three languages."""

    en: str
    ru: str
    kk: str


class OutlineSource(_Model):
    """Where an entry's nominal outline comes from."""

    file: Path | None = Field(
        default=None, description="Hydrography file (default: the registry's or the run's)."
    )
    match: dict[str, str] = Field(
        default_factory=dict, description="Feature properties that select the outline."
    )


class RegistryEntry(_Model):
    """One monitored water body."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Identifier used in tables and URLs.")
    names: Names
    type: Literal["lake", "reservoir", "saline lake", "sea", "pond"]
    region: str = Field(description="Oblast (administrative region).")
    basin: str = Field(description="Water-management basin.")
    bbox: tuple[float, float, float, float] = Field(description="lon_min, lat_min, lon_max, lat_max.")
    outline: OutlineSource = OutlineSource()
    curve: Path | None = Field(
        default=None,
        description="Area-level-volume curve (CSV, relative to the registry) for level and volume.",
    )

    @field_validator("bbox")
    @classmethod
    def _ordered_lonlat(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if not (-180 <= v[0] < v[2] <= 180 and -90 <= v[1] < v[3] <= 90):
            raise ValueError(f"expected lon_min < lon_max and lat_min < lat_max in degrees, got {list(v)}")
        return v


class Registry(_Model):
    """The registry file."""

    hydrography: Path | None = Field(
        default=None, description="Default outline file (relative to the registry)."
    )
    water_bodies: list[RegistryEntry]

    @field_validator("water_bodies")
    @classmethod
    def _unique_ids(cls, v: list[RegistryEntry]) -> list[RegistryEntry]:
        ids = [e.id for e in v]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"duplicated id(s) {duplicated}")
        if not v:
            raise ValueError("no water bodies")
        return v


def load_water_bodies(path: Path, hydrography: Path | None = None) -> list[WaterBody]:
    """Water bodies from a registry (``.yaml``/``.yml``) or straight from a vector file of outlines."""
    if Path(path).suffix.lower() in (".yaml", ".yml"):
        return read_registry(path, hydrography)
    return read_water_bodies(path)


def read_registry(path: Path, hydrography: Path | None = None) -> list[WaterBody]:
    """The registry's water bodies with their outlines (EPSG:4326).

    ``hydrography`` (e.g. the run configuration's) is used by entries without their own file and
    overrides the registry's default. Raises ConfigError naming the file, entry or field at fault.
    """
    registry = _parse(path)
    base = Path(path).resolve().parent
    default = hydrography or (base / registry.hydrography if registry.hydrography else None)
    frames: dict[Path, gpd.GeoDataFrame] = {}
    bodies = []
    for entry in registry.water_bodies:
        source = base / entry.outline.file if entry.outline.file else default
        if source is None:
            raise ConfigError(
                f"water_bodies: {path}: {entry.id!r} has no outline file; set `hydrography` in the run "
                "configuration or the registry, or `outline.file` on the entry"
            )
        if source not in frames:
            frames[source] = _read_hydrography(source)
        geometry = _outline(entry, frames[source], source)
        bodies.append(
            WaterBody(
                id=entry.id, name=entry.names.en, geometry=geometry, names=entry.names.model_dump(),
                kind=entry.type, region=entry.region, basin=entry.basin,
                curve=read_curve(base / entry.curve) if entry.curve else None,
            )
        )  # fmt: skip
    return bodies


def _parse(path: Path) -> Registry:
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"water_bodies: cannot read {path}: {exc}") from exc
    try:
        return Registry.model_validate(doc)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"water_bodies: {path}: {fields}") from exc


def _read_hydrography(path: Path) -> gpd.GeoDataFrame:
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError, or OSError for a missing file
        raise ConfigError(f"hydrography: cannot read {path}: {exc}") from exc
    if frame.crs is None:
        raise ConfigError(f"hydrography: {path} has no CRS")
    return frame.to_crs("EPSG:4326")


def _outline(entry: RegistryEntry, frame: gpd.GeoDataFrame, source: Path) -> BaseGeometry:
    """Union of the entry's features clipped to its bounding box (polygons only)."""
    frame = frame[frame.geometry.notna()]
    for column, value in entry.outline.match.items():
        if column not in frame.columns:
            raise ConfigError(f"water_bodies: {entry.id}: {source} has no property {column!r}")
        frame = frame[frame[column].astype(str) == value]
    clip = box(*entry.bbox)
    geometries = [shapely.make_valid(g) for g in frame.geometry if g.intersects(clip)]
    outline = shapely.union_all(geometries).intersection(clip) if geometries else shapely.Polygon()
    polygons = shapely.get_parts(outline)
    outline = shapely.union_all([p for p in polygons if p.geom_type in ("Polygon", "MultiPolygon")])
    if outline.is_empty:
        raise ConfigError(
            f"water_bodies: {entry.id}: no feature of {source} matching {entry.outline.match or 'anything'} "
            f"inside bbox {list(entry.bbox)}"
        )
    return outline
