"""A scene's input files, opened defensively: GDAL drivers from an allow-list only, and each file's
header checked against what the catalog declares for it before any pixel is read.

Why an allow-list: GDAL picks a driver from a file's content, not its name. A GDAL VRT saved as
``B04.tif`` (an XML file naming another file as its pixels) would make a worker read ``/etc/passwd``
or another scene's band, and a PNG or an HTML error page under a band's name would load without
georeferencing. Scene inputs are GeoTIFFs (COGs) or, from Copernicus Data Space, JPEG2000.

What is checked against the catalog, and why:

- band count: a file with fewer bands than its asset declares or than the band the scene needs (an
  analyst's multiband file re-exported without SWIR), or several where its asset declares one (an
  RGB preview saved as B03), is refused: odc-stac would fail inside a Dask worker, or silently read
  band 1.
- CRS: a file in another CRS than the one its asset (or item) declares is refused, naming both.
  Bands of one scene legitimately differ in *resolution* (Sentinel-2's 20 m bands are resampled to the
  grid), and a scene may mix CRSs when its catalog says so (an analyst's files, each registered with
  its own ``proj:code``): GDAL then warps each file from its own CRS. A file contradicting its own
  metadata, though, is a wrong file or wrong metadata (a band re-exported in the next UTM zone, a
  mislabelled zone that would put the pixels 500 km away), and odc-stac plans its reads from the
  metadata: the scene fails with the band named rather than being loaded on a guess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pystac
import rasterio
from odc.geo.geobox import GeoBox
from odc.loader import RioDriver, RioReader
from odc.loader.types import RasterLoadParams, RasterSource, ReaderSubsetSelection
from rasterio.crs import CRS
from rasterio.errors import CRSError, RasterioError, RasterioIOError
from rasterio.io import DatasetReader

__all__ = [
    "RASTER_DRIVERS",
    "AllowListRioDriver",
    "band_index",
    "header_problem",
    "open_input",
    "pixel_problem",
]

RASTER_DRIVERS = ("GTiff", "JP2OpenJPEG")
"""GDAL drivers that may open a scene's inputs: GeoTIFF (COGs included) and JPEG2000. Never VRT."""
_SIGNATURES = (
    (b"<vrtdataset", "a GDAL VRT (XML that points GDAL at other files)"),
    (b"\x89png", "a PNG image"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"<?xml", "an XML document"),
    (b"{", "a JSON document"),
)
"""Leading bytes of formats found under a band's name, to say what a refused file is."""
_UNRECOGNISED = "not recognized as"
"""GDAL's words when no allowed driver knows the format."""


def _local_path(href: str) -> Path | None:
    """The local file behind ``href``; None for URLs and GDAL virtual paths."""
    parsed = urlparse(href)
    if href.startswith("/vsi") or parsed.scheme not in ("", "file"):
        return None
    return Path(parsed.path if parsed.scheme == "file" else href)


def _what_it_is(href: str) -> str:
    """What a file that no allowed driver recognises holds, from its first bytes (local files)."""
    path = _local_path(href)
    if path is None:
        return "not a GeoTIFF or JPEG2000"
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if size == 0:
        return "an empty file (0 bytes)"
    what = next(
        (name for sig, name in _SIGNATURES if head.startswith(sig)), f"{size} bytes of another format"
    )
    return f"{what}, not a GeoTIFF or JPEG2000"


def open_input(href: str) -> DatasetReader:
    """Open a scene input with the allowed drivers only (in the caller's GDAL environment).

    Raises RasterioIOError saying why: GDAL's own message when an allowed driver knew the format
    (a missing file, an HTTP error, a damaged header), else what the file holds instead.
    """
    errors = []
    for driver in RASTER_DRIVERS:
        try:
            return rasterio.open(href, driver=driver)
        except RasterioIOError as exc:
            errors.append(str(exc))
    known = [e for e in errors if _UNRECOGNISED not in e]
    if known:
        raise RasterioIOError(known[0])
    raise RasterioIOError(
        f"{_what_it_is(href)}: refused (inputs open with GDAL's {' and '.join(RASTER_DRIVERS)} only)"
    )


def band_index(asset: pystac.Asset, key: str) -> int:
    """1-based band of ``asset`` holding ``key`` (a band's name or common name, else the asset's key)."""
    names = [b.get("common_name") or b.get("name") for b in asset.extra_fields.get("eo:bands") or []]
    return names.index(key) + 1 if key in names else 1


def _declared_crs(asset: pystac.Asset, item: pystac.Item) -> str | None:
    for fields in (asset.extra_fields, item.properties):
        if fields.get("proj:code"):
            return str(fields["proj:code"])
        if fields.get("proj:epsg"):
            return f"EPSG:{fields['proj:epsg']}"
        if fields.get("proj:wkt2"):
            return str(fields["proj:wkt2"])
    return None


def header_problem(ds: DatasetReader, asset: pystac.Asset, item: pystac.Item, key: str) -> str | None:
    """What is wrong with an opened input against its asset's declaration, or None."""
    index = band_index(asset, key)
    declared = len(asset.extra_fields.get("raster:bands") or asset.extra_fields.get("eo:bands") or [None])
    if ds.crs is None:
        return "has no CRS (not georeferenced)"
    if index > ds.count:
        return f"has {ds.count} band(s), so no band {index} ({key})"
    if ds.count < declared or (declared == 1 and ds.count > 1):
        return f"has {ds.count} bands where the catalog declares {declared}"
    crs = _declared_crs(asset, item)
    try:
        expected = CRS.from_user_input(crs) if crs else None
    except CRSError:
        expected = None
    if expected is not None and ds.crs != expected:
        return f"is in {ds.crs.to_string()} but the catalog declares {crs}"
    return None


def _gdal_message(exc: BaseException) -> str:
    """GDAL's own words for a failure (rasterio's message often only points at them)."""
    messages: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(messages) < 3:
        text = str(cause)
        if text and "See previous exception" not in text and not any(text in m for m in messages):
            messages.append(text)
        cause = cause.__cause__
    return "; ".join(messages) or type(exc).__name__


def pixel_problem(ds: DatasetReader) -> str | None:
    """Read every block of the input; why the first unreadable one fails, or None."""
    try:
        for _, window in ds.block_windows(1):
            ds.read(window=window)
    except RasterioError as exc:
        return f"pixel data unreadable (truncated or corrupt file): {_gdal_message(exc)}"
    return None


class _AllowListReader(RioReader):
    """odc-loader's rasterio reader, after checking that an allowed driver opens the file."""

    def __init__(self, src: RasterSource, ctx: Any) -> None:
        super().__init__(src, ctx)
        self._uri = src.uri

    def read(
        self,
        cfg: RasterLoadParams,
        dst_geobox: GeoBox,
        *,
        dst: np.ndarray | None = None,
        selection: ReaderSubsetSelection | None = None,
    ) -> tuple[tuple[slice, slice], np.ndarray]:
        with open_input(self._uri):  # a file swapped for a VRT after the scene's checks is still refused
            pass
        return super().read(cfg, dst_geobox, dst=dst, selection=selection)


class AllowListRioDriver(RioDriver):
    """odc-stac's rasterio driver whose readers open nothing outside :data:`RASTER_DRIVERS`
    (odc-loader opens files with every GDAL driver). Picklable, for Dask workers."""

    def open(self, src: RasterSource, ctx: Any) -> RioReader:
        return _AllowListReader(src, ctx)
