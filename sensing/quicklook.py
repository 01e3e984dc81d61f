"""One local scene to a water class COG and its water area: the analyst's quick look (``sensing water``).

The scene is registered in a throw-away static STAC catalog (the same path as ``sensing catalog add``)
and classified on its own native grid with the same code as the flows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import dask.array as da
import numpy as np
import rasterio
from odc.geo.geobox import GeoBox

from sensing.compute.counts import bincount
from sensing.compute.indices import INDICES
from sensing.compute.water import CLASS_CLOUD, CLASS_NODATA, CLASS_SNOW_ICE, CLASS_WATER, ThresholdChoice
from sensing.config import SAR_BANDS, MaskConfig, SarConfig, SourceConfig, WaterConfig
from sensing.errors import ConfigError
from sensing.grid import row_pixel_areas_m2
from sensing.models import SceneRef
from sensing.products import product_spec
from sensing.publish.cog import write_cogs
from sensing.scene_water import REQUIRED_BANDS, classify_scene, input_errors_named
from sensing.sources.local import (
    COMMON_BANDS,
    Registration,
    read_mtl,
    register_scene,
    registrations_from_options,
)
from sensing.sources.stac import StaticStacSource

__all__ = ["QuickLook", "classify_local_scene", "native_geobox", "registered_scene", "scene_registration"]


@dataclass(frozen=True)
class QuickLook:
    """What one scene's classification found."""

    out: Path
    water_km2: float
    snow_ice_km2: float
    valid_fraction: float
    """Fraction of the scene's pixels observed (not nodata, cloud or shadow)."""
    cloud_fraction: float
    """Fraction of the scene's data pixels flagged cloud or shadow."""
    choice: ThresholdChoice
    properties: dict[str, object]


def scene_registration(
    files: list[Path],
    band_map: str | None,
    scale: str | None,
    offset: str | None,
    nodata: str | None,
    mtl: Path | None,
    sensor: str | None,
) -> Registration:
    """The scene ``sensing water`` was given: files with a band map (as for ``catalog add``), their
    Landsat MTL calibration when ``mtl`` is given, or the MTL's own band files."""
    if sensor not in (None, "s2", "landsat", "s1"):
        raise ConfigError(f"--sensor: {sensor!r} is not one of s2, landsat, s1")
    if mtl is None and len(files) == 1 and files[0].name.upper().endswith("_MTL.TXT"):
        mtl, files = files[0], []
    calibration = read_mtl(mtl) if mtl is not None else None
    if not files:
        if calibration is None:
            raise ConfigError("SCENE: give the scene's file(s), or a Landsat MTL")
        return calibration
    regs = registrations_from_options(
        files, band_map, scale, offset, nodata, "1970-01-01", sensor or "unknown"
    )
    if len(regs) != 1:
        raise ConfigError(
            f"--band-map: band indices with {len(regs)} files make {len(regs)} scenes; give one"
        )
    if calibration is None:
        return regs[0]
    return dataclasses.replace(
        regs[0], scale=calibration.scale, offset=calibration.offset, datetime=calibration.datetime,
        platform=calibration.platform, default_nodata=calibration.default_nodata,
    )  # fmt: skip


def native_geobox(reg: Registration) -> GeoBox:
    """The grid of the scene's finest band file."""
    grids = []
    for path in {path for path, _ in reg.files.values()}:
        with rasterio.open(path) as ds:
            grids.append(GeoBox((ds.height, ds.width), ds.transform, ds.crs))
    return min(grids, key=lambda g: abs(g.resolution.x))


@contextlib.contextmanager
def registered_scene(reg: Registration, bands: list[str]) -> Iterator[tuple[StaticStacSource, SceneRef]]:
    """``reg`` registered in a throw-away static STAC catalog (as ``sensing catalog add`` would): the
    source serving ``bands`` of it, and its scene, for the block."""
    with tempfile.TemporaryDirectory(prefix="sensing-scene-") as folder:
        register_scene(reg, Path(folder))
        source = StaticStacSource(
            SourceConfig(catalog=Path(folder) / "catalog.json", bands={b: b for b in bands})
        )
        day = reg.datetime.date()
        (scene,) = source.search((-180.0, -90.0, 180.0, 90.0), day, day)
        yield source, scene


def classify_local_scene(
    reg: Registration,
    out: Path,
    *,
    sensor: Literal["optical", "sar"],
    water: WaterConfig,
    sar: SarConfig,
    masks: MaskConfig | None = None,
    chunk: int = 1024,
) -> QuickLook:
    """Classify ``reg`` on its native grid, write the class layer to ``out`` (a valid COG) and
    measure water and snow/ice areas (per-row pixel areas, so geographic grids are measured right)."""
    bands = SAR_BANDS if sensor == "sar" else COMMON_BANDS
    unknown = sorted(set(reg.files) - set(bands))
    if unknown:
        raise ConfigError(f"--band-map: unknown band(s) {unknown} for a {sensor} scene; known: {list(bands)}")
    needed = [sar.polarization] if sensor == "sar" else [*REQUIRED_BANDS, *INDICES[water.index][0]]
    missing = sorted(set(needed) - set(reg.files))
    if missing:
        raise ConfigError(f"--band-map: band(s) {missing} are needed (index {water.index}) but not mapped")
    geobox = native_geobox(reg)
    with registered_scene(reg, [b for b in bands if b in reg.files]) as (source, scene):
        result = classify_scene(
            source,
            scene,
            geobox,
            sensor=sensor,
            water=water,
            sar=sar,
            masks=masks or MaskConfig(),
            chunk=chunk,
        )
        classes = result.classes.data
        spec = product_spec("water-sar" if sensor == "sar" else "water")
        row_counts = [da.sum(classes == c, axis=1) for c in (CLASS_WATER, CLASS_SNOW_ICE)]
        class_counts = bincount(classes, 256)
        with input_errors_named(source, scene, list(reg.files)):
            water_rows, ice_rows, counts = write_cogs(
                [(classes, out, spec.cog)], crs=str(geobox.crs), transform=geobox.affine,
                also_compute=(*row_counts, class_counts),
            )  # fmt: skip
    areas = row_pixel_areas_m2(geobox)
    data = int(counts.sum() - counts[CLASS_NODATA])
    cloud = int(counts[CLASS_CLOUD])
    return QuickLook(
        out=out,
        water_km2=float(np.dot(water_rows, areas)) / 1e6,
        snow_ice_km2=float(np.dot(ice_rows, areas)) / 1e6,
        valid_fraction=(data - cloud) / counts.sum() if counts.sum() else 0.0,
        cloud_fraction=cloud / data if data else 0.0,
        choice=result.choice,
        properties=result.properties,
    )
