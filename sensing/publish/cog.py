"""Cloud-Optimized GeoTIFF writing (GDAL's COG driver) and strict validation (rio-cogeo), streaming from Dask."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.shutil import copy as rio_copy
from rasterio.transform import Affine
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_validate

from sensing.errors import FatalError
from sensing.publish.storage import atomic_path

__all__ = ["CogSpec", "InvalidCogError", "translate_to_cog", "validate_cog", "write_cogs"]

BLOCK = 512


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


class _WindowWriter:
    """A picklable ``da.store`` target that opens the GeoTIFF for each block it writes."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __setitem__(self, key: tuple[slice, slice], block: np.ndarray) -> None:
        rows, cols = key
        window = Window.from_slices(rows, cols, height=block.shape[0], width=block.shape[1])
        with rasterio.open(self.path, "r+") as dst:
            dst.write(block, 1, window=window)


def _store_lock(path: Path) -> Any:
    """A lock that serialises block writes to one file, across processes under dask.distributed."""
    try:
        from distributed import Lock, get_client

        get_client()
        return Lock(f"cog-write-{path}")
    except (ImportError, ValueError):
        return threading.Lock()


def write_cogs(
    layers: Sequence[tuple[da.Array, Path, CogSpec]],
    *,
    crs: CRS | str,
    transform: Affine,
    also_compute: Sequence[Any] = (),
) -> tuple[Any, ...]:
    """Stream 2-D Dask arrays to validated COGs, published atomically; return ``also_compute`` computed.

    All layers and the extra results are computed in one Dask pass, so inputs are read once. Blocks go
    into tiled scratch GeoTIFFs as Dask produces them (never a whole array in memory), then rio-cogeo
    builds each COG with overviews; each must pass strict validation before it replaces its path.
    """
    scratches: list[Path] = []
    try:
        stores = []
        for data, path, spec in layers:
            if data.ndim != 2:
                raise ValueError(f"{path}: expected a 2-D array, got shape {data.shape}")
            scratch = _open_scratch(path, data.shape, crs, transform, spec)
            scratches.append(scratch)
            aligned = data.astype(spec.dtype).rechunk(_aligned_chunks(data.chunksize))
            target: Any = _WindowWriter(str(scratch))  # duck-typed __setitem__ target
            stores.append(da.store(aligned, target, lock=_store_lock(scratch), compute=False))
        results = dask.compute(*stores, *also_compute)
        for (_, path, spec), scratch in zip(layers, scratches, strict=True):
            translate_to_cog(scratch, path, spec)
    finally:
        for scratch in scratches:
            scratch.unlink(missing_ok=True)
    return tuple(results[len(stores) :])


def _open_scratch(
    path: Path, shape: tuple[int, ...], crs: CRS | str, transform: Affine, spec: CogSpec
) -> Path:
    """Create an empty tiled GeoTIFF beside ``path`` with the layer's metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.scratch.tif")
    profile = {
        "driver": "GTiff",
        "dtype": spec.dtype,
        "count": 1,
        "height": shape[0],
        "width": shape[1],
        "crs": CRS.from_user_input(crs),
        "transform": transform,
        "nodata": spec.nodata,
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "compress": "zstd",  # scratch only: cheap to write and to read back
        "zstd_level": 1,
        "BIGTIFF": "IF_SAFER",
    }
    with rasterio.open(scratch, "w", **profile) as dst:
        dst.scales, dst.offsets = (spec.scale,), (spec.offset,)
        if spec.description:
            dst.set_band_description(1, spec.description)
    return scratch


def _aligned_chunks(chunks: tuple[float, ...]) -> tuple[int, ...]:
    """Chunk sizes rounded down to whole GeoTIFF blocks, so no two chunks share a block."""
    return tuple(max(BLOCK, int(c) // BLOCK * BLOCK) for c in chunks)


def translate_to_cog(src: Path, dst: Path, spec: CogSpec) -> Path:
    """Build a DEFLATE COG (predictor, 512 px tiles, overviews) from ``src`` and publish it atomically.

    GDAL's COG driver copies ``src`` once, with overviews (``spec.resampling``) built on all CPUs.
    ``src`` (a scratch file) first receives what the COG carries over from it: nodata, scale,
    offset and description as written, the class colour table and dataset tags of ``spec``, and
    band statistics (GDAL's ``STATISTICS_*`` items over the valid pixels, in stored units) that GIS
    clients use for their default stretch.
    """
    _add_statistics(src)
    with rasterio.open(src, "r+") as ds:
        ds.nodata = spec.nodata
        if spec.colormap:
            ds.write_colormap(1, dict(spec.colormap))
        if spec.tags:
            ds.update_tags(**spec.tags)
    options = {
        "driver": "COG", "compress": "DEFLATE", "predictor": 2 if spec.dtype != "float32" else 3,
        "blocksize": BLOCK, "overview_resampling": spec.resampling.upper(), "num_threads": "ALL_CPUS",
        "bigtiff": "IF_SAFER",
    }  # fmt: skip
    with atomic_path(dst) as tmp:
        rio_copy(str(src), str(tmp), **options)
        validate_cog(tmp)
    return dst


def _add_statistics(path: Path) -> None:
    """Minimum, maximum, mean, standard deviation and valid percent of each band, block by block."""
    with rasterio.open(path, "r+") as ds:
        for band in ds.indexes:
            count, total, squares = 0, 0.0, 0.0
            low, high = np.inf, -np.inf
            for _, window in ds.block_windows(band):
                values = ds.read(band, window=window, masked=True).compressed().astype("float64")
                if values.size:
                    count += values.size
                    total += float(values.sum())
                    squares += float(np.square(values).sum())
                    low, high = min(low, float(values.min())), max(high, float(values.max()))
            if count == 0:
                continue
            mean = total / count
            ds.update_tags(
                band, STATISTICS_MINIMUM=repr(low), STATISTICS_MAXIMUM=repr(high), STATISTICS_MEAN=repr(mean),
                STATISTICS_STDDEV=repr(max(squares / count - mean * mean, 0.0) ** 0.5),
                STATISTICS_VALID_PERCENT=repr(round(100.0 * count / (ds.width * ds.height), 4)),
            )  # fmt: skip


def validate_cog(path: Path) -> None:
    """Raise InvalidCogError unless ``path`` passes rio-cogeo's strict validation."""
    valid, errors, warnings = cog_validate(str(path), strict=True, quiet=True)
    if not valid:
        raise InvalidCogError(f"{path}: not a valid COG: {'; '.join(errors + warnings)}")
