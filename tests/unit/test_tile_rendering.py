"""Rendered PNG tiles against rio-tiler's own rendering (what stock titiler draws) of the same tile."""

from __future__ import annotations

import io
from pathlib import Path

import morecantile
import numpy as np
import rasterio
import rasterio.warp
from PIL import Image
from rasterio.transform import from_origin
from rio_tiler.colormap import cmap
from rio_tiler.io import Reader

from sensing.config import IndexScale
from sensing.products import WATER_CLASSES, product_spec
from sensing.publish.cog import translate_to_cog
from sensing.serve.registry import Layer
from sensing.serve.render import render_tile

WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")


def _cog(tmp_path: Path, values: np.ndarray, product: str) -> Path:
    """``values`` (int16 index scaled 1e-4, or uint8 classes) as the publisher's COG near Almaty."""
    spec = product_spec(product, IndexScale())
    scratch = tmp_path / "scratch.tif"
    profile = {"driver": "GTiff", "width": values.shape[1], "height": values.shape[0], "count": 1,
               "dtype": values.dtype.name, "nodata": spec.cog.nodata, "crs": "EPSG:32643",
               "transform": from_origin(600000, 4900000, 10, 10)}  # fmt: skip
    with rasterio.open(scratch, "w", **profile) as dst:
        dst.write(values, 1)
        if spec.cog.scale != 1:
            dst.scales, dst.offsets = (spec.cog.scale,), (spec.cog.offset,)
    return translate_to_cog(scratch, tmp_path / f"{product}.tif", spec.cog)


def _layer(cog: Path, product: str) -> Layer:
    spec = product_spec(product, IndexScale())
    legend = [
        {"value": v, "label": label, "color": list(color)} for v, (label, color) in WATER_CLASSES.items()
    ]
    return Layer(
        id=product, product=product, title=spec.title, aoi="test", date="2022-07-01", cog=cog, item=None,
        bounds=(0, 0, 0, 0), rescale=spec.rescale, colormap_name=spec.colormap_name,
        legend=[] if spec.rescale else legend,
    )  # fmt: skip


def _tile_at(cog: Path, row: int, col: int, zoom: int) -> morecantile.Tile:
    """The tile over the COG's pixel (row, col)."""
    with rasterio.open(cog) as ds:
        x, y = ds.xy(row, col)
        (lon,), (lat,) = rasterio.warp.transform(ds.crs, "EPSG:4326", [x], [y])
    return WEB_MERCATOR.tile(lon, lat, zoom)


def _rgba(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)


def test_index_tiles_match_rio_tilers_rendering_within_one_ramp_step(tmp_path: Path) -> None:
    y, x = np.mgrid[0:1024, 0:1024]
    values = (np.sin(x / 90) * np.cos(y / 70) * 12000).clip(-10000, 10000).astype("int16")  # -1..1 scaled
    values[:200, :300] = -32768  # no data
    cog = _cog(tmp_path, values, "mndwi")
    layer = _layer(cog, "mndwi")
    tile = _tile_at(cog, 200, 300, 15)  # the no-data corner's edge
    ours = _rgba(render_tile(layer, WEB_MERCATOR, tile.x, tile.y, tile.z))
    with Reader(str(cog), tms=WEB_MERCATOR) as src:
        image = src.tile(tile.x, tile.y, tile.z, unscale=True, resampling_method="bilinear")
    assert layer.rescale is not None and layer.colormap_name is not None
    reference = _rgba(image.rescale(in_range=(layer.rescale,)).render(colormap=cmap.get(layer.colormap_name)))
    assert (ours[..., 3] == reference[..., 3]).all()  # the same pixels are transparent
    opaque = reference[..., 3] == 255
    assert opaque.mean() > 0.5 and (~opaque).any()
    ramp = np.array([cmap.get(layer.colormap_name)[i][:3] for i in range(256)], dtype=int)
    largest_step = np.abs(np.diff(ramp, axis=0)).max()
    assert np.abs(ours[opaque][:, :3] - reference[opaque][:, :3]).max() <= largest_step


def test_class_tiles_use_the_catalogue_colours_and_no_data_is_transparent(tmp_path: Path) -> None:
    codes = np.array([v for v, (_, color) in WATER_CLASSES.items() if color[3]], dtype="uint8")
    values = np.tile(np.repeat(codes, 1024 // len(codes) + 1)[:1024], (1024, 1)).astype("uint8")
    values[:, :100] = 255  # no data
    cog = _cog(tmp_path, values, "water")
    layer = _layer(cog, "water")
    tile = _tile_at(cog, 512, 100, 13)
    ours = _rgba(render_tile(layer, WEB_MERCATOR, tile.x, tile.y, tile.z))
    with Reader(str(cog), tms=WEB_MERCATOR) as src:
        classes = src.tile(tile.x, tile.y, tile.z, resampling_method="nearest").array[0]
    colours = {v: color for v, (_, color) in WATER_CLASSES.items()}
    expected = np.array([colours[v] for v in classes.filled(255).ravel()]).reshape(256, 256, 4)
    expected[np.ma.getmaskarray(classes)] = 0
    assert (ours[..., 3] == expected[..., 3]).all()
    visible = expected[..., 3] > 0
    assert visible.any() and (ours[visible] == expected[visible]).all()
