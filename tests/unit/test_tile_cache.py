"""The server's caches: rendered tiles (once per key, at most a byte budget, least recently used
dropped first) and GDAL's block cache of decoded COG blocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.env import get_gdal_config
from rasterio.transform import from_origin

from sensing.serve.app import create_app
from sensing.serve.cache import TileCache
from sensing.serve.render import open_cog


def test_a_key_is_rendered_once_and_the_budget_evicts_the_least_recently_used() -> None:
    cache = TileCache(max_bytes=250)
    renders: list[str] = []

    def render(key: str) -> bytes:
        renders.append(key)
        return key.encode() * 100  # 100 bytes per one-letter key

    assert cache.get_or_render("a", lambda: render("a")) == b"a" * 100
    cache.get_or_render("b", lambda: render("b"))
    cache.get_or_render("a", lambda: render("a"))  # a hit, and now the most recent
    cache.get_or_render("c", lambda: render("c"))  # over budget: b (least recent) goes
    assert renders == ["a", "b", "c"] and cache.size == 200
    cache.get_or_render("b", lambda: render("b"))
    assert renders == ["a", "b", "c", "b"] and cache.hits == 1 and cache.misses == 4
    assert cache.get_or_render("huge", lambda: b"x" * 1000) == b"x" * 1000  # served, never kept
    assert cache.size <= 250


def test_tiles_are_read_with_a_block_cache_of_the_size_asked(tmp_path: Path) -> None:
    """Regression: rasterio hands GDAL_CACHEMAX to GDALSetCacheMax in bytes; the server's "256"
    gave every tile read a 256-byte cache, so each tile decompressed its blocks again."""
    cog = tmp_path / "layer.tif"
    profile = {"driver": "GTiff", "width": 64, "height": 64, "count": 1, "dtype": "uint8",
               "crs": "EPSG:32643", "transform": from_origin(600000, 4900000, 10, 10)}  # fmt: skip
    with rasterio.open(cog, "w", **profile) as dst:
        dst.write(np.ones((1, 64, 64), "uint8"))
    create_app(tmp_path, block_cache_mb=300)
    with open_cog(cog) as src:
        assert src.dataset.read(1).sum() == 64 * 64
        assert get_gdal_config("GDAL_CACHEMAX") == 300 * 2**20
