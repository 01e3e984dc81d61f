"""Reading a DEM onto a grid: from a file (any CRS and resolution), or from a STAC API's DEM
collection (Copernicus DEM GLO-30 on Earth Search) with odc-stac. Lazy, per block."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import rasterio
import xarray as xr
from numpy.typing import NDArray
from odc.geo.geobox import GeoBox
from rasterio.warp import Resampling, reproject

from sensing.config import TerrainConfig
from sensing.errors import SceneError

__all__ = ["load_dem", "load_dem_stac", "terrain_dem"]


def terrain_dem(cfg: TerrainConfig, geobox: GeoBox, chunk: int) -> xr.DataArray:
    """The configured DEM on ``geobox``."""
    if cfg.dem is not None:
        return load_dem(cfg.dem, geobox, chunk)
    if cfg.stac_url is None:
        raise ValueError("terrain: no DEM configured")
    return load_dem_stac(cfg.stac_url, cfg.collection, cfg.asset, geobox, chunk)


def load_dem(path: Path, geobox: GeoBox, chunk: int) -> xr.DataArray:
    """The DEM (any CRS and resolution) resampled bilinearly onto ``geobox``, lazily per block,
    float32 metres with NaN where the DEM has no data."""
    with rasterio.open(path) as src:
        src_crs, src_nodata = src.crs, src.nodata
    affine, crs = geobox.affine, str(geobox.crs)

    def block(block_info: dict | None = None) -> NDArray[np.float32]:
        assert block_info is not None
        (r0, r1), (c0, c1) = block_info[None]["array-location"]
        out = np.full((r1 - r0, c1 - c0), np.nan, dtype=np.float32)
        with rasterio.open(path) as src:
            reproject(
                rasterio.band(src, 1), out, src_crs=src_crs, src_nodata=src_nodata,
                dst_transform=affine * affine.translation(c0, r0), dst_crs=crs, dst_nodata=np.nan,
                resampling=Resampling.bilinear,
            )  # fmt: skip
        return out

    data = da.map_blocks(block, chunks=da.core.normalize_chunks(chunk, geobox.shape.yx), dtype=np.float32)
    return xr.DataArray(data, dims=("y", "x"), name="dem")


def load_dem_stac(url: str, collection: str, asset: str, geobox: GeoBox, chunk: int) -> xr.DataArray:
    """The DEM tiles of a STAC API collection over ``geobox`` (odc-stac, bilinear), mosaicked, float32
    metres with NaN where no tile covers."""
    from odc.stac import load
    from pystac_client import Client

    bbox = list(geobox.extent.to_crs("EPSG:4326").boundingbox)
    items = list(Client.open(url).search(collections=[collection], bbox=bbox).items())
    if not items:
        raise SceneError(f"terrain: no {collection} item over the AOI {bbox} at {url}")
    data = load(
        items, bands=[asset], geobox=geobox, chunks={"x": chunk, "y": chunk}, resampling="bilinear",
        dtype="float32", nodata=float("nan"), groupby="id",
    )[asset]  # fmt: skip
    return data.max("time").rename("dem")
