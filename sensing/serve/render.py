"""Rendering published layers with rio-tiler: PNG and GeoTIFF value tiles, map images for WMS, legends."""

from __future__ import annotations

import contextlib
import functools
import io
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import morecantile
import numpy as np
import rasterio
from PIL import Image, ImageDraw
from rasterio.crs import CRS
from rasterio.env import set_gdal_config
from rasterio.io import DatasetReader, MemoryFile
from rasterio.warp import transform_bounds
from rio_tiler.colormap import cmap
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.models import ImageData

from sensing.serve.registry import Layer

__all__ = [
    "GDAL_ENV",
    "TILE_FORMATS",
    "TILE_SIZE",
    "legend_png",
    "ramp",
    "render_tile",
    "set_block_cache",
    "value_tile",
    "zoom_range",
]

TILE_SIZE = 256
OPEN_PER_THREAD = 32
MAP_CLIP = 64
"""A WMS box more than this many times the layer's extent (in its CRS) reads only the image's pixels
over the layer (the layer fills at most 1/64 of the image across, so resampling differences from
reading a smaller box are a pixel's worth at its edges)."""
MAP_SPECK = 1000
"""A WMS image pixel more than this many times the layer's extent shows the layer as nothing."""
PNG_COMPRESS_LEVEL = 3
"""zlib level of rendered tiles: level 6 makes them ~15 % smaller at twice the encoding time."""
"""Open COG handles kept per server thread (rasterio datasets are not shared between threads)."""
_THREAD = threading.local()
GDAL_ENV: dict[str, Any] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # never list folders looking for sidecar files
}
"""GDAL settings of every read. The block cache is not among them: it is one per process (see
:func:`set_block_cache`), and an Env entering and leaving per request would resize it each time."""


def set_block_cache(megabytes: int) -> None:
    """Size GDAL's block cache, shared by every request of this process: decoded COG blocks stay
    there, so neighbouring tiles do not decompress the same blocks again."""
    # rasterio passes this option to GDALSetCacheMax, which counts bytes (a bare 256 meant 256 bytes).
    set_gdal_config("GDAL_CACHEMAX", megabytes * 2**20)


@contextlib.contextmanager
def open_cog(cog: Path, tms: morecantile.TileMatrixSet | None = None) -> Iterator[Reader]:
    """A published COG through rio-tiler, opened by GDAL's GTiff driver alone (a VRT or any other
    format renamed .tif is refused, never followed), inside the server's GDAL settings."""
    with rasterio.Env(**GDAL_ENV):
        dataset = _dataset(cog)
        with Reader(str(cog), dataset=dataset, tms=tms or morecantile.tms.get("WebMercatorQuad")) as src:
            yield src


def _dataset(cog: Path) -> DatasetReader:
    """This thread's open handle of a published COG, kept between requests (its header is parsed
    once), reopened when the file changes; at most :data:`OPEN_PER_THREAD` per thread."""
    stat = cog.stat()
    key = (str(cog), stat.st_mtime_ns, stat.st_size)
    handles: OrderedDict[tuple[str, int, int], DatasetReader] = _THREAD.__dict__.setdefault(
        "handles", OrderedDict()
    )
    dataset = handles.get(key)
    if dataset is not None:
        handles.move_to_end(key)
        return dataset
    dataset = rasterio.open(cog, driver="GTiff")
    handles[key] = dataset
    while len(handles) > OPEN_PER_THREAD:
        handles.popitem(last=False)[1].close()
    return dataset


@functools.lru_cache(maxsize=4096)
def zoom_range(cog: Path, tms_id: str) -> tuple[int, int]:
    """A COG's (minzoom, maxzoom) in a tile matrix set (published files never change in place)."""
    with open_cog(cog, morecantile.tms.get(tms_id)) as src:
        return src.minzoom, src.maxzoom


def ramp(layer: Layer) -> list[tuple[int, int, int, int]]:
    """The 256 RGBA colours of an index layer's colour map."""
    colors = cmap.get(layer.colormap_name or "viridis")
    return [cast(tuple[int, int, int, int], tuple(int(c) for c in colors[i])) for i in range(256)]  # type: ignore[arg-type]


def legend_png(layer: Layer) -> bytes:
    """The legend as a PNG: one swatch per class, or the colour ramp with its range."""
    if layer.rescale is None:
        rows = [(tuple(c["color"]), str(c["label"])) for c in layer.legend if c["color"][3] > 0]
        image = Image.new("RGBA", (220, 8 + 22 * len(rows)), (255, 255, 255, 255))
        draw = ImageDraw.Draw(image)
        for i, (color, label) in enumerate(rows):
            draw.rectangle((6, 6 + 22 * i, 24, 22 + 22 * i), fill=color, outline=(60, 60, 60, 255))
            draw.text((32, 8 + 22 * i), label, fill=(0, 0, 0, 255))
    else:
        colours = ramp(layer)
        image = Image.new("RGBA", (276, 44), (255, 255, 255, 255))
        draw = ImageDraw.Draw(image)
        for i in range(256):
            draw.line((10 + i, 6, 10 + i, 24), fill=colours[i])
        low, high = layer.rescale
        draw.text((10, 28), f"{low:g}", fill=(0, 0, 0, 255))
        draw.text((230, 28), f"{high:g}", fill=(0, 0, 0, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def render_tile(layer: Layer, tms: morecantile.TileMatrixSet, x: int, y: int, z: int) -> bytes:
    """One PNG tile: class layers with their colour table, indices unscaled, rescaled and colour-mapped."""
    with open_cog(layer.cog, tms) as src:
        _check_tile(src, layer, x, y, z)
        image = src.tile(x, y, z, tilesize=TILE_SIZE, **_read_options(layer))
        styled = _styled(image, layer, src)
    buffer = io.BytesIO()
    styled.save(
        buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL, transparency=styled.info["transparency"]
    )
    return buffer.getvalue()


def render_map(
    layer: Layer, bbox: tuple[float, float, float, float], crs: CRS, width: int, height: int
) -> Image.Image:
    """The layer over ``bbox`` (in ``crs``) as a ``width`` x ``height`` RGBA image (WMS GetMap);
    transparent where the layer has no data or does not reach.

    GDAL warps the box at the layer's resolution, which for a box far larger than the layer (a
    world view, or an absurd one) is a virtual raster too large to address: there only the
    image's pixels over the layer are read."""
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    minx, miny, maxx, maxy = bbox
    with open_cog(layer.cog) as src:
        west, south, east, north = transform_bounds(src.crs, crs, *src.bounds, densify_pts=21)
        col0, row0, col1, row1 = 0, 0, width, height
        if all(map(math.isfinite, (west, south, east, north))) and (
            maxx - minx > MAP_CLIP * (east - west) or maxy - miny > MAP_CLIP * (north - south)
        ):
            dx, dy = (maxx - minx) / width, (maxy - miny) / height
            if dx > MAP_SPECK * (east - west) or dy > MAP_SPECK * (north - south):
                return canvas  # the whole layer is a speck inside one pixel
            # the image's pixels over the layer, snapped outwards to whole pixels
            col0 = math.floor(_clamp((west - minx) / dx, width))
            col1 = math.ceil(_clamp((east - minx) / dx, width))
            row0 = math.floor(_clamp((maxy - north) / dy, height))
            row1 = math.ceil(_clamp((maxy - south) / dy, height))
            if col0 >= col1 or row0 >= row1:
                return canvas
        part = (_edge(minx, maxx, col0, width), _edge(maxy, miny, row1, height),
                _edge(minx, maxx, col1, width), _edge(maxy, miny, row0, height))  # fmt: skip
        try:
            image = src.part(
                part,
                dst_crs=crs,
                bounds_crs=crs,
                width=col1 - col0,
                height=row1 - row0,
                **_read_options(layer),
            )
        except TileOutsideBounds:
            return canvas
        canvas.paste(_styled(image, layer, src).convert("RGBA"), (col0, row0))
        return canvas


def _clamp(value: float, size: int) -> float:
    return min(max(value, 0.0), float(size))


def _edge(start: float, stop: float, index: int, size: int) -> float:
    """The coordinate of pixel edge ``index`` of ``size`` from ``start`` to ``stop`` (the ends exact)."""
    return start if index == 0 else stop if index == size else start + (stop - start) * index / size


def _read_options(layer: Layer) -> dict[str, Any]:
    """Classes keep their values (nearest); indices are interpolated (bilinear) as stored: the
    colour ramp's range is brought to the stored scale instead (see :func:`_styled`)."""
    return {"resampling_method": "nearest" if layer.rescale is None else "bilinear"}


def _styled(image: ImageData, layer: Layer, src: Reader) -> Image.Image:
    """``image`` as a paletted image (a quarter of RGBA's bytes to compress, the same colours):
    classes with the catalogue's colours, indices on 255 steps of the layer's ramp, no data
    transparent (the palette's alpha is in ``info["transparency"]``)."""
    values = image.array[0]
    if layer.rescale is None:
        # The catalogue's colours: a GeoTIFF colour table drops alpha, and some classes are see-through.
        colours = (
            {int(c["value"]): tuple(int(v) for v in c["color"]) for c in layer.legend} or src.colormap or {}
        )
        palette = np.zeros((256, 4), "uint8")  # a value without a colour is transparent, as in rio-tiler
        for value, colour in colours.items():
            palette[value] = colour
        unused = np.setdiff1d(np.flatnonzero(palette[:, 3] == 0), list(colours))
        index = values.filled(unused[0] if unused.size else 0).astype("uint8")
    else:
        palette = _ramp_palette(layer.colormap_name or "viridis")
        # The range in stored units (value = stored * scale + offset), so no pixel is unscaled.
        scale, offset = image.scales[0], image.offsets[0]
        low, high = ((bound - offset) / scale for bound in layer.rescale)
        scaled = (values.data.astype("float32") - low) * (254 / (high - low))
        np.clip(scaled, 0, 254, out=scaled)
        index = (scaled + 1.5).astype("uint8")  # 1..255, rounded
        index[np.ma.getmaskarray(values)] = 0  # no data
    styled = Image.frombytes("P", index.shape[::-1], np.ascontiguousarray(index).tobytes())
    styled.putpalette(palette[:, :3].tobytes())
    styled.info["transparency"] = palette[:, 3].tobytes()
    return styled


@functools.lru_cache(maxsize=64)
def _ramp_palette(colormap_name: str) -> np.ndarray:
    """A palette of a colour ramp: entry 0 transparent (no data), 1..255 the ramp from its first to
    its last colour."""
    colours = cmap.get(colormap_name)
    palette = np.zeros((256, 4), "uint8")
    for entry in range(1, 256):
        palette[entry] = colours[round((entry - 1) * 255 / 254)]
    return palette


def _check_tile(src: Reader, layer: Layer, x: int, y: int, z: int) -> None:
    # A tile outside the set's matrix first: its bounds lie beyond the set's extent (south of -90 deg
    # in WGS1984Quad, where GDAL's read fails; or around the globe again, where the layer shows twice).
    if not src.tms.is_valid(morecantile.Tile(x, y, z), strict=False) or not src.tile_exists(x, y, z):
        raise TileOutsideBounds(f"tile {z}/{x}/{y} is outside {layer.id} {layer.date}")


def value_tile(layer: Layer, tms: morecantile.TileMatrixSet, x: int, y: int, z: int) -> bytes:
    """One GeoTIFF tile of values, for analysis clients: classes as stored (255 no data), indices and
    backscatter in physical units as float32 (NaN no data); nearest resampling, so every value is one
    the layer holds."""
    with open_cog(layer.cog, tms) as src:
        _check_tile(src, layer, x, y, z)
        classes = layer.rescale is None
        image = src.tile(x, y, z, tilesize=TILE_SIZE, unscale=not classes, resampling_method="nearest")
    values = image.array[0]
    data = values.filled(255).astype("uint8") if classes else values.astype("float32").filled(np.nan)
    profile = {
        "driver": "GTiff", "width": TILE_SIZE, "height": TILE_SIZE, "count": 1, "dtype": data.dtype.name,
        "crs": image.crs, "transform": image.transform, "nodata": 255 if classes else np.nan, "compress": "deflate",
    }  # fmt: skip
    with MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(data, 1)
        return bytes(memory.read())


TILE_FORMATS: dict[str, tuple[Callable[[Layer, morecantile.TileMatrixSet, int, int, int], bytes], str]] = {
    "png": (render_tile, "image/png"),
    "tif": (value_tile, "image/tiff"),
}
"""Tile format -> (renderer, media type)."""
