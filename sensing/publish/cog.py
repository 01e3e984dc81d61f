"""Cloud-Optimized GeoTIFF writing (GDAL's COG driver) and strict validation (rio-cogeo), streaming from Dask."""

from __future__ import annotations

import functools
import itertools
import math
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.shutil import copy as rio_copy
from rasterio.transform import Affine
from rio_cogeo.cogeo import cog_validate

from sensing.errors import FatalError
from sensing.publish.storage import atomic_path, remove_stale_temporaries, write_failure

__all__ = ["CogSpec", "InvalidCogError", "translate_to_cog", "validate_cog", "write_cogs"]

BLOCK = 512
GDAL_TYPES = {"uint8": "Byte", "int16": "Int16", "uint16": "UInt16", "float32": "Float32"}


class InvalidCogError(FatalError):
    """A written file failed strict COG validation."""


@dataclass(frozen=True)
class CogSpec:
    """How one single-band layer is encoded."""

    dtype: str
    nodata: float | int
    resampling: str = "nearest"
    """Overview resampling: ``nearest`` for classes, ``average`` for continuous values."""
    scale: float = 1.0
    offset: float = 0.0
    description: str = ""
    colormap: Mapping[int, tuple[int, int, int, int]] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


def write_cogs(
    layers: Sequence[tuple[da.Array, Path, CogSpec]],
    *,
    crs: CRS | str,
    transform: Affine,
    also_compute: Sequence[Any] = (),
    accept: Callable[[tuple[Any, ...]], None] | None = None,
) -> tuple[Any, ...]:
    """Stream 2-D Dask arrays to validated COGs, published atomically; return ``also_compute`` computed.

    ``accept`` sees the computed ``also_compute`` before any COG replaces its path: raising there
    publishes nothing (e.g. a scene found to hold no valid pixel leaves the published layers as they
    were).

    All layers and the extra results are computed in one Dask pass, so inputs are read once. The task
    that computes a chunk writes it to its own small GeoTIFF beside the layer (no shared file, no lock)
    and returns the statistics of its valid pixels; a VRT then mosaics a layer's parts and carries its
    metadata, and GDAL's COG driver copies it into the COG with overviews, which must pass strict
    validation before it replaces its path. Never a whole array in memory.
    """
    crs_wkt = CRS.from_user_input(crs).to_wkt()
    folders: list[Path] = []
    try:
        statistics = []
        for data, path, spec in layers:
            if data.ndim != 2:
                raise ValueError(f"{path}: expected a 2-D array, got shape {data.shape}")
            folder = path.with_name(f".{path.name}.parts")
            shutil.rmtree(folder, ignore_errors=True)  # the layer's lock is held: these are a killed writer's
            remove_stale_temporaries(path)
            folder.mkdir(parents=True)
            folders.append(folder)
            aligned = data.astype(spec.dtype).rechunk(_aligned_chunks(data.chunksize))
            part = functools.partial(
                _write_part, folder=str(folder), crs_wkt=crs_wkt, transform=transform, nodata=spec.nodata
            )
            statistics.append(da.map_blocks(part, aligned, new_axis=2, chunks=(1, 1, 5), dtype=np.float64))
        results = dask.compute(*statistics, *also_compute)
        if accept is not None:
            accept(tuple(results[len(layers) :]))
        for (data, path, spec), folder, parts in zip(layers, folders, results, strict=False):
            chunks = _aligned_chunks(data.chunksize)
            layout = da.core.normalize_chunks(chunks, data.shape)
            stats = _band_statistics(parts, data.size)
            mosaic = _mosaic(folder, data.shape, layout, crs_wkt, transform, spec, stats)
            _publish_cog(mosaic, path, spec)
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
    return tuple(results[len(layers) :])


def _write_part(
    block: np.ndarray, *, folder: str, crs_wkt: str, transform: Affine, nodata: float, block_info: Any = None
) -> np.ndarray:
    """Write one chunk to ``folder`` as a hidden tiled GeoTIFF; return [count, sum, sum of squares,
    min, max] of its valid pixels, shaped (1, 1, 5)."""
    (row, _), (col, _) = block_info[0]["array-location"]
    profile = {
        "driver": "GTiff", "dtype": block.dtype.name, "count": 1, "height": block.shape[0],
        "width": block.shape[1], "crs": crs_wkt, "transform": transform * Affine.translation(col, row),
        "nodata": nodata, "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK,
        "compress": "deflate", "zlevel": 1, "predictor": 1,  # scratch only: cheap to write and to read back
    }  # fmt: skip
    path = Path(folder) / f".part-{row}-{col}.tif"
    try:
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(block, 1)
    except RasterioError as exc:  # e.g. "Write failed": the reason (no space left...) is only in errno
        raise write_failure(path, exc) from exc
    valid = block[~np.isnan(block)] if np.isnan(nodata) else block[block != nodata]
    return _moments(valid).reshape(1, 1, 5)


def _moments(valid: np.ndarray) -> np.ndarray:
    """[count, sum, sum of squares, min, max] of ``valid`` pixels (what :func:`_band_statistics` sums)."""
    if not valid.size:
        return np.array([0, 0, 0, np.inf, -np.inf], dtype=np.float64)
    values = valid.astype(np.float64)
    return np.array(
        [values.size, values.sum(), values @ values, values.min(), values.max()], dtype=np.float64
    )


def _band_statistics(parts: np.ndarray, pixels: int) -> dict[str, str]:
    """GDAL's ``STATISTICS_*`` items of a layer from its parts' [count, sum, squares, min, max]."""
    count, total, squares = parts[..., 0].sum(), parts[..., 1].sum(), parts[..., 2].sum()
    if count == 0:
        return {}
    mean = total / count
    return {
        "STATISTICS_MINIMUM": repr(float(parts[..., 3].min())),
        "STATISTICS_MAXIMUM": repr(float(parts[..., 4].max())),
        "STATISTICS_MEAN": repr(float(mean)),
        "STATISTICS_STDDEV": repr(float(max(squares / count - mean * mean, 0.0) ** 0.5)),
        "STATISTICS_VALID_PERCENT": repr(round(100.0 * float(count) / pixels, 4)),
    }


def _mosaic(
    folder: Path,
    shape: tuple[int, ...],
    layout: tuple[tuple[int, ...], ...],
    crs_wkt: str,
    transform: Affine,
    spec: CogSpec,
    stats: dict[str, str],
) -> Path:
    """A VRT of the parts in ``folder`` (one per chunk of ``layout``, the rows' and columns' chunk
    sizes) carrying the layer's nodata, scale, offset, description, colour table, tags and
    statistics (what the COG copies from it)."""
    dataset = ET.Element("VRTDataset", rasterXSize=str(shape[1]), rasterYSize=str(shape[0]))
    ET.SubElement(dataset, "SRS").text = crs_wkt
    ET.SubElement(dataset, "GeoTransform").text = ", ".join(repr(v) for v in transform.to_gdal())
    _metadata(dataset, dict(spec.tags))
    band = ET.SubElement(dataset, "VRTRasterBand", dataType=GDAL_TYPES[spec.dtype], band="1")
    ET.SubElement(band, "Description").text = spec.description
    ET.SubElement(band, "NoDataValue").text = repr(float(spec.nodata))
    ET.SubElement(band, "Offset").text = repr(spec.offset)
    ET.SubElement(band, "Scale").text = repr(spec.scale)
    if spec.colormap:
        ET.SubElement(band, "ColorInterp").text = "Palette"
        table = ET.SubElement(band, "ColorTable")
        for value in range(256):
            rgba = spec.colormap.get(value, (0, 0, 0, 0))
            ET.SubElement(table, "Entry", c1=str(rgba[0]), c2=str(rgba[1]), c3=str(rgba[2]), c4=str(rgba[3]))
    _metadata(band, stats)
    rows, cols = (np.cumsum((0, *sizes[:-1])) for sizes in layout)
    for (row, height), (col, width) in itertools.product(
        zip(rows, layout[0], strict=True), zip(cols, layout[1], strict=True)
    ):
        source = ET.SubElement(band, "SimpleSource")
        ET.SubElement(source, "SourceFilename", relativeToVRT="1").text = f".part-{row}-{col}.tif"
        ET.SubElement(source, "SourceBand").text = "1"
        ET.SubElement(source, "SrcRect", xOff="0", yOff="0", xSize=str(width), ySize=str(height))
        ET.SubElement(source, "DstRect", xOff=str(col), yOff=str(row), xSize=str(width), ySize=str(height))
    vrt = folder / ".layer.vrt"
    ET.ElementTree(dataset).write(vrt)
    return vrt


def _metadata(parent: ET.Element, items: Mapping[str, str]) -> None:
    if items:
        metadata = ET.SubElement(parent, "Metadata")
        for key, value in items.items():
            ET.SubElement(metadata, "MDI", key=key).text = str(value)


def _aligned_chunks(chunks: tuple[float, ...]) -> tuple[int, ...]:
    """Chunk sizes rounded down to whole GeoTIFF blocks, so no two chunks share a block."""
    return tuple(max(BLOCK, int(c) // BLOCK * BLOCK) for c in chunks)


def translate_to_cog(src: Path, dst: Path, spec: CogSpec) -> Path:
    """Build a DEFLATE COG (predictor, 512 px tiles, overviews) from the GeoTIFF ``src`` and publish
    it atomically.

    ``src`` (a scratch file) first receives what the COG carries over from it: nodata, scale, offset
    and description as written, the class colour table and dataset tags of ``spec``, and band
    statistics (GDAL's ``STATISTICS_*`` items over the valid pixels, in stored units) that GIS
    clients use for their default stretch.
    """
    _add_statistics(src)
    with rasterio.open(src, "r+") as ds:
        ds.nodata = spec.nodata
        if spec.colormap:
            ds.write_colormap(1, dict(spec.colormap))
        if spec.tags:
            ds.update_tags(**spec.tags)
    return _publish_cog(src, dst, spec)


def _publish_cog(src: Path, dst: Path, spec: CogSpec) -> Path:
    """GDAL's COG driver copies ``src`` once into ``dst`` (atomically), overviews built on all CPUs
    with ``spec.resampling``; the result must pass strict validation."""
    options = {
        "driver": "COG", "compress": "DEFLATE", "predictor": 2 if spec.dtype != "float32" else 3,
        "blocksize": BLOCK, "overview_resampling": spec.resampling.upper(), "num_threads": "ALL_CPUS",
        "bigtiff": "IF_SAFER",
    }  # fmt: skip
    with atomic_path(dst) as tmp:
        try:
            rio_copy(str(src), str(tmp), **options)
            validate_cog(tmp)  # also catches a copy cut short that GDAL reported as a success
        except (RasterioError, InvalidCogError) as exc:
            failure = write_failure(tmp, exc, dst)
            if failure is exc:
                raise
            raise failure from exc
    return dst


def _add_statistics(path: Path) -> None:
    """Minimum, maximum, mean, standard deviation and valid percent of each band, block by block."""
    with rasterio.open(path, "r+") as ds:
        for band in ds.indexes:
            blocks = [
                _moments(ds.read(band, window=window, masked=True).compressed())
                for _, window in ds.block_windows(band)
            ]
            stats = _band_statistics(np.array(blocks), ds.width * ds.height)
            if stats:
                ds.update_tags(band, **stats)


def validate_cog(path: Path) -> None:
    """Raise InvalidCogError unless ``path`` opens, passes rio-cogeo's strict validation and holds
    every tile its header points at (a write cut short by a full disk leaves a header that validates)."""
    try:
        valid, errors, warnings = cog_validate(str(path), strict=True, quiet=True)
        if not valid:
            raise InvalidCogError(f"{path}: not a valid COG: {'; '.join(errors + warnings)}")
        short = _cut_short(path)
    except RasterioError as exc:
        raise InvalidCogError(f"{path}: not a readable GeoTIFF: {exc}") from exc
    if short:
        raise InvalidCogError(f"{path}: cut short: {short}")


def _cut_short(path: Path) -> str | None:
    """Which tile of which band and overview level ends past the end of the file, if one does."""
    size = path.stat().st_size
    with rasterio.open(path) as ds:
        levels: list[int | None] = [None, *range(len(ds.overviews(1)))]
        for level in levels:
            with rasterio.open(path, overview_level=level) as view:
                height, width = view.block_shapes[0]
                blocks = itertools.product(
                    range(math.ceil(view.height / height)), range(math.ceil(view.width / width))
                )
            for (row, col), band in itertools.product(blocks, ds.indexes):
                offset = ds.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=band, ovr=level)
                length = ds.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=band, ovr=level)
                if offset and length and int(offset) + int(length) > size:
                    where = "full resolution" if level is None else f"overview {level}"
                    return (
                        f"block {col},{row} of band {band} ({where}) ends at byte {int(offset) + int(length)}, "
                        f"past the end of the file ({size} bytes)"
                    )
    return None
