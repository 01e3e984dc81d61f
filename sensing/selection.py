"""What an on-demand run works on: a configured AOI or a GeoJSON file, a named source or a local catalog."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pyproj
import shapely
import yaml
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from sensing.config import SAR_BANDS, AoiConfig, Settings, SourceConfig, load_settings
from sensing.errors import ConfigError
from sensing.sources.local import COMMON_BANDS, catalog_band_names

__all__ = ["aoi_from_geojson", "select"]


def _utm_epsg(lon: float, lat: float) -> int:
    zone = min(60, int((lon + 180) // 6) + 1)
    return (32600 if lat >= 0 else 32700) + zone


POLYGONAL = ("Polygon", "MultiPolygon")
LONLAT_CRS = (
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "EPSG:4326",
    "urn:ogc:def:crs:EPSG::4326",
)
"""``crs`` members a GeoJSON AOI may declare: RFC 7946 coordinates are lon/lat on WGS84."""


def _declared_crs(doc: dict[str, Any]) -> str | None:
    crs = doc.get("crs")
    if crs is None:
        return None
    name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
    return str(name or crs)


def _aoi_geometry(path: Path) -> BaseGeometry:
    """The union of a GeoJSON file's polygons; ConfigError (naming ``--aoi``, the file and the feature)
    for anything that is not a valid lon/lat polygon."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--aoi: cannot read GeoJSON {path}: {exc}") from exc
    if not isinstance(doc, dict) or "type" not in doc:
        raise ConfigError(f"--aoi: {path} is not a GeoJSON object (no 'type' member)")
    crs = _declared_crs(doc)
    if crs is not None and crs not in LONLAT_CRS:
        raise ConfigError(
            f"--aoi: {path} declares crs {crs!r}; a GeoJSON AOI must be in lon/lat (EPSG:4326, RFC 7946): "
            "reproject it first"
        )
    features = doc.get("features") if doc["type"] == "FeatureCollection" else [doc]
    if not isinstance(features, list) or not features:
        raise ConfigError(f"--aoi: {path} holds no geometry")
    geoms = []
    for number, feature in enumerate(features):
        where = f"--aoi: {path} feature {number}"
        geometry = (
            feature.get("geometry")
            if isinstance(feature, dict) and feature.get("type") == "Feature"
            else feature
        )
        try:
            geom = shape(geometry)
        except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
            raise ConfigError(f"{where}: not a GeoJSON geometry ({exc or type(exc).__name__})") from exc
        if geom.geom_type not in POLYGONAL:
            raise ConfigError(f"{where}: a {geom.geom_type} has no area; an AOI is a Polygon or MultiPolygon")
        if geom.is_empty:
            raise ConfigError(f"{where}: the polygon is empty")
        if not geom.is_valid:
            raise ConfigError(
                f"{where}: invalid polygon ({shapely.is_valid_reason(geom)}); fix it first "
                "(e.g. QGIS Fix geometries, or shapely.make_valid)"
            )
        geoms.append(geom)
    return shapely.union_all(geoms)


def aoi_from_geojson(path: Path, resolution: float) -> AoiConfig:
    """An AOI on the UTM grid of the polygon's centroid, its bounds snapped to ``resolution``."""
    geom = _aoi_geometry(path)
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ConfigError(f"--aoi: {path} is not in lon/lat (EPSG:4326) coordinates: bounds {geom.bounds}")
    epsg = _utm_epsg(geom.centroid.x, geom.centroid.y)
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    x0, y0, x1, y1 = shapely.transform(geom, to_utm.transform, interleaved=False).bounds
    snap = resolution
    bounds = (
        math.floor(x0 / snap) * snap, math.floor(y0 / snap) * snap,
        math.ceil(x1 / snap) * snap, math.ceil(y1 / snap) * snap,
    )  # fmt: skip
    slug = re.sub(r"[^a-z0-9-]+", "-", path.stem.lower()).strip("-") or "aoi"
    return AoiConfig(id=slug, name=path.stem, crs=f"EPSG:{epsg}", bounds=bounds, resolution=resolution)


def _config_section(config: Path, key: str) -> dict[str, object]:
    """One top-level mapping of a YAML config as written (empty when absent or unreadable)."""
    try:
        doc = yaml.safe_load(config.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    section = doc.get(key) if isinstance(doc, dict) else None
    return section if isinstance(section, dict) else {}


def _local_source(folder: Path) -> SourceConfig:
    """A static-STAC source over a local catalog: radar bands if its items hold vv or vh, else optical."""
    catalog = folder / "catalog.json" if folder.is_dir() else folder
    if not catalog.exists():
        raise ConfigError(f"--source: no STAC catalog at {catalog}")
    bands = {b: b for b in (SAR_BANDS if catalog_band_names(catalog) & set(SAR_BANDS) else COMMON_BANDS)}
    return SourceConfig(kind="static-stac", catalog=catalog.resolve(), bands=bands)


def select(
    config: Path,
    aoi: str,
    source: str | None = None,
    products: list[str] | None = None,
    sar_units: str | None = None,
) -> Settings:
    """Settings for a run on ``aoi`` (the config's AOI id or a GeoJSON file) from ``source``.

    ``source`` is a provider name from ``configs/sources/`` or the folder (or catalog.json) of a
    local static catalog, e.g. one written by ``sensing catalog add``; ``sar_units`` overrides
    ``sar.units`` (linear, db or auto).
    """
    overrides: dict[str, object] = {}
    if products:
        overrides["products"] = list(products)
    if sar_units:
        if sar_units not in ("auto", "linear", "db"):
            raise ConfigError(f"--units: {sar_units!r} is not one of linear, db, auto")
        overrides["sar"] = {**_config_section(config, "sar"), "units": sar_units}
    if source and Path(source).exists():
        overrides["source"] = _local_source(Path(source)).model_dump(mode="json")
    elif source:
        overrides["source"] = source
    settings = load_settings(config, **overrides)
    if aoi == settings.aoi.id:
        return settings
    if aoi.lower().endswith((".geojson", ".json")) and Path(aoi).exists():
        geojson_aoi = aoi_from_geojson(Path(aoi), settings.aoi.resolution)
        too_large = settings.limits.aoi_too_large(geojson_aoi)
        if too_large:
            raise ConfigError(f"--aoi: {aoi}: {too_large}")
        return settings.model_copy(update={"aoi": geojson_aoi})
    raise ConfigError(
        f"--aoi: unknown AOI {aoi!r}; {config} defines {settings.aoi.id!r} (or give a GeoJSON file)"
    )
