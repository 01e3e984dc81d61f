"""Vector outputs in the three formats analysts and web clients read: GeoPackage (QGIS, ArcGIS; one
file with several layers), GeoJSON (RFC 7946: lon/lat, for the web) and GeoParquet (for analysis),
each replaced atomically. Geometries are stored in EPSG:4326."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd

from sensing.errors import ConfigError
from sensing.publish.storage import atomic_path

__all__ = ["VECTOR_SUFFIXES", "write_vector_file", "write_vector_layers"]

VECTOR_SUFFIXES = (".gpkg", ".geojson", ".parquet")


def write_vector_file(path: Path, frame: gpd.GeoDataFrame, layer: str | None = None) -> Path:
    """Write one layer to ``path``, the format chosen by its suffix (``.gpkg``, ``.geojson``, ``.parquet``)."""
    if path.suffix not in VECTOR_SUFFIXES:
        raise ConfigError(f"{path}: unknown vector format; use one of {list(VECTOR_SUFFIXES)}")
    with atomic_path(path) as tmp:
        _write(tmp, frame.to_crs("EPSG:4326"), path.suffix, layer or path.stem)
    return path


def write_vector_layers(stem: Path, layers: Mapping[str, gpd.GeoDataFrame]) -> list[Path]:
    """Write ``layers`` (name -> frame, any CRS) as ``stem.gpkg`` (every layer), and as GeoJSON and
    GeoParquet per layer (``stem.geojson`` for the first, ``stem.<name>.geojson`` for the others).
    Returns the paths written."""
    frames = {name: frame.to_crs("EPSG:4326") for name, frame in layers.items()}
    gpkg = stem.with_name(f"{stem.name}.gpkg")
    with atomic_path(gpkg) as tmp:
        for name, frame in frames.items():
            _write(tmp, frame, ".gpkg", name)
    written = [gpkg]
    for n, (name, frame) in enumerate(frames.items()):
        base = stem.name if n == 0 else f"{stem.name}.{name}"
        written += [
            write_vector_file(stem.with_name(f"{base}{suffix}"), frame, name)
            for suffix in VECTOR_SUFFIXES[1:]
        ]
    return written


def _write(path: Path, frame: gpd.GeoDataFrame, suffix: str, layer: str) -> None:
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif suffix == ".geojson":
        frame.to_file(path, driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=7, RFC7946="YES")
    else:
        frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
