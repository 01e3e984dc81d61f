"""A published layer's tiles as one file for static hosting (a CDN, an offline laptop): PMTiles or
MBTiles, the tiles rendered exactly as the tile server renders them (WebMercatorQuad PNG)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import morecantile
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from rio_tiler.errors import TileOutsideBounds

from sensing.errors import ConfigError
from sensing.publish.storage import atomic_path
from sensing.serve.registry import Layer
from sensing.serve.render import render_tile, zoom_range

__all__ = ["MAX_TILES", "export_tiles"]

MAX_TILES = 200_000
"""Largest archive written in one go."""
WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")


def export_tiles(layer: Layer, out: Path, minzoom: int | None = None, maxzoom: int | None = None) -> int:
    """Write ``layer``'s tiles from ``minzoom`` to ``maxzoom`` (default: the COG's own range) to
    ``out`` (``.pmtiles`` or ``.mbtiles``), atomically; return the number of tiles written."""
    if out.suffix not in (".pmtiles", ".mbtiles"):
        raise ConfigError(f"--out: {out.name} must end with .pmtiles or .mbtiles")
    native_min, native_max = zoom_range(layer.cog, "WebMercatorQuad")
    low = native_min if minzoom is None else minzoom
    high = native_max if maxzoom is None else maxzoom
    if not 0 <= low <= high <= 24:
        raise ConfigError(f"--minzoom/--maxzoom: need 0 <= {low} <= {high} <= 24")
    planned = sum(1 for _ in WEB_MERCATOR.tiles(*layer.bounds, zooms=list(range(low, high + 1))))
    if planned > MAX_TILES:
        raise ConfigError(
            f"{layer.id} {layer.date}: {planned} tiles from z{low} to z{high}; at most {MAX_TILES}"
        )
    tiles = sorted(_rendered(layer, low, high), key=lambda t: zxy_to_tileid(*t[0]))
    with atomic_path(out) as tmp:
        (_write_pmtiles if out.suffix == ".pmtiles" else _write_mbtiles)(tmp, layer, tiles, low, high)
    return len(tiles)


def _rendered(layer: Layer, low: int, high: int) -> Iterator[tuple[tuple[int, int, int], bytes]]:
    for tile in WEB_MERCATOR.tiles(*layer.bounds, zooms=list(range(low, high + 1))):
        try:
            yield (tile.z, tile.x, tile.y), render_tile(layer, WEB_MERCATOR, tile.x, tile.y, tile.z)
        except TileOutsideBounds:
            continue


def _write_pmtiles(
    path: Path, layer: Layer, tiles: list[tuple[tuple[int, int, int], bytes]], low: int, high: int
) -> None:
    west, south, east, north = layer.bounds
    with path.open("wb") as fh:
        writer = Writer(fh)
        for (z, x, y), data in tiles:
            writer.write_tile(zxy_to_tileid(z, x, y), data)
        writer.finalize(
            {
                "tile_type": TileType.PNG, "tile_compression": Compression.NONE,
                "min_zoom": low, "max_zoom": high, "center_zoom": low,
                "min_lon_e7": int(west * 1e7), "min_lat_e7": int(south * 1e7),
                "max_lon_e7": int(east * 1e7), "max_lat_e7": int(north * 1e7),
                "center_lon_e7": int((west + east) / 2 * 1e7), "center_lat_e7": int((south + north) / 2 * 1e7),
            },
            {"name": f"{layer.title} {layer.aoi} {layer.date}", "layer": layer.id, "date": layer.date},
        )  # fmt: skip


def _write_mbtiles(
    path: Path, layer: Layer, tiles: list[tuple[tuple[int, int, int], bytes]], low: int, high: int
) -> None:
    """MBTiles 1.3: rows counted from the south (TMS)."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute(
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)"
        )
        db.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        metadata = {
            "name": f"{layer.title} {layer.aoi} {layer.date}", "format": "png", "type": "overlay",
            "version": "1.3", "minzoom": str(low), "maxzoom": str(high),
            "bounds": ",".join(f"{v:.6f}" for v in layer.bounds),
        }  # fmt: skip
        db.executemany("INSERT INTO metadata VALUES (?, ?)", metadata.items())
        db.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            ((z, x, 2**z - 1 - y, data) for (z, x, y), data in tiles),
        )
