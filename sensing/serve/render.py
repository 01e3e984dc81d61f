"""Rendering published layers with rio-tiler: PNG and GeoTIFF value tiles, map images for WMS, legends."""

from __future__ import annotations

import contextlib
import functools
import io
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
from rasterio.io import DatasetReader, MemoryFile
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
    "value_tile",
    "zoom_range",
]

TILE_SIZE = 256
OPEN_PER_THREAD = 32
"""Open COG handles kept per server thread (rasterio datasets are not shared between threads)."""
_THREAD = threading.local()
GDAL_ENV: dict[str, Any] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # never list folders looking for sidecar files
    "GDAL_CACHEMAX": 256,  # MB of block cache shared by all requests
}


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
        return _styled(image, layer, src)


def render_map(
    layer: Layer, bbox: tuple[float, float, float, float], crs: CRS, width: int, height: int
) -> Image.Image:
    """The layer over ``bbox`` (in ``crs``) as a ``width`` x ``height`` RGBA image (WMS GetMap);
    transparent where the layer has no data or does not reach."""
    with open_cog(layer.cog) as src:
        try:
            image = src.part(
                bbox, dst_crs=crs, bounds_crs=crs, width=width, height=height, **_read_options(layer)
            )
        except TileOutsideBounds:
            return Image.new("RGBA", (width, height), (0, 0, 0, 0))
        return Image.open(io.BytesIO(_styled(image, layer, src))).convert("RGBA")


def _read_options(layer: Layer) -> dict[str, Any]:
    """Classes keep their values (nearest); indices are unscaled to physical units and interpolated."""
    if layer.rescale is None:
        return {"resampling_method": "nearest"}
    return {"unscale": True, "resampling_method": "bilinear"}


def _styled(image: ImageData, layer: Layer, src: Reader) -> bytes:
    """PNG of ``image``: classes with the COG's colour table, indices rescaled onto the layer's ramp."""
    if layer.rescale is None:
        # The catalogue's colours: a GeoTIFF colour table drops alpha, and some classes are see-through.
        colours = {int(c["value"]): tuple(int(v) for v in c["color"]) for c in layer.legend}
        return image.render(img_format="PNG", colormap=colours or src.colormap)  # type: ignore[arg-type]
    image = image.rescale(in_range=(layer.rescale,))
    return image.render(img_format="PNG", colormap=cmap.get(layer.colormap_name or "viridis"))


def _check_tile(src: Reader, layer: Layer, x: int, y: int, z: int) -> None:
    if not src.tile_exists(x, y, z):
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
