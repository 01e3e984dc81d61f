"""Water in one scene on a grid: masks, indices or backscatter, a threshold, and the class layer.

Shared by the flows (``sensing.workflow.process_scene``) and the one-scene quick look (``sensing
water``). Everything stays lazy except the histograms the threshold needs (one Dask pass).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Literal

import dask
import dask.array as da
import numpy as np
import xarray as xr
from numpy.typing import NDArray
from odc.geo.geobox import GeoBox

from sensing.compute.cleanup import minimum_mapping_unit
from sensing.compute.clouds import S2CLOUDLESS_BANDS, SPECTRAL_TEST_BANDS
from sensing.compute.connectivity import drop_detached_water
from sensing.compute.edges import canny_edges
from sensing.compute.indices import INDEX_RANGES, INDICES, compute_index
from sensing.compute.masks import dilate, scene_masks
from sensing.compute.sar import detect_units, lee_filter, to_db, to_linear
from sensing.compute.terrain import solar_position, terrain_vetoes
from sensing.compute.water import (
    ThresholdChoice,
    choose_threshold,
    classify,
    index_histogram,
    snow_ice,
    zone_histograms,
)
from sensing.compute.zonal import areas_from_counts
from sensing.config import (
    INDEX_PRODUCTS,
    LAND_INDEX_PRODUCTS,
    SAR_BANDS,
    MaskConfig,
    SarConfig,
    Settings,
    TerrainConfig,
    WaterConfig,
)
from sensing.errors import SceneError
from sensing.grid import pixel_area_m2
from sensing.models import SceneRef, WaterBodyArea, sensor_name
from sensing.sources.base import SceneSource
from sensing.sources.dem import terrain_dem
from sensing.waterbodies import WaterBody

__all__ = [
    "BANDS",
    "REQUIRED_BANDS",
    "ClassifiedScene",
    "classify_scene",
    "input_errors_named",
    "scene_areas",
]

REQUIRED_BANDS = ["green", "red", "nir", "swir16"]
OPTIONAL_BANDS = tuple(
    b
    for b in dict.fromkeys(("scl", "qa_pixel", *S2CLOUDLESS_BANDS, *SPECTRAL_TEST_BANDS))
    if b not in REQUIRED_BANDS
)
"""Mask inputs, loaded where the source has them: SCL (Sentinel-2 L2A), QA_PIXEL (Landsat), the
s2cloudless model bands (Sentinel-2 L1C) or six reflective bands for spectral tests; see
sensing.compute.masks.scene_masks."""
BANDS = [*REQUIRED_BANDS, *OPTIONAL_BANDS]


@dataclass(frozen=True)
class ClassifiedScene:
    """One scene on a grid: the water classes, value layers by product, and how water was found."""

    classes: xr.DataArray
    """uint8 classes: 0 dry, 1 water, 2 snow/ice, 3 cloud/shadow, 255 nodata."""
    values: dict[str, xr.DataArray]
    """Float layers by product name: indices (optical) or backscatter in dB (radar)."""
    choice: ThresholdChoice
    """The scene's threshold (used outside every water body, and where a body's own failed)."""
    properties: dict[str, object]
    """Provenance for the outputs' metadata (``sensing:*`` keys)."""
    bands: list[str]
    """The bands asked of the source (to name a broken one when a later read fails)."""
    zone_choices: dict[int, ThresholdChoice] = field(default_factory=dict)
    """Each water body's own threshold (canny-otsu), by zone number (1-based, as in ``zones``)."""


def scene_areas(
    settings: Settings,
    scene: SceneRef,
    classified: ClassifiedScene,
    counts: np.ndarray,
    bodies: list[WaterBody],
    geobox: GeoBox,
) -> list[WaterBodyArea]:
    """Each water body's row of one classified scene from its class counts per zone
    (:func:`sensing.compute.zonal.zone_class_counts`), with the body's own threshold where it had one."""
    choice = classified.choice
    areas = areas_from_counts(
        np.asarray(counts), bodies, pixel_area_m2(geobox), scene.date, settings.quality,
        scene_id=scene.id, method=choice.method, threshold=round(choice.value, 4),
        sensor=sensor_name(scene.platform, settings.source.sensor), version=settings.version_key(),
    )  # fmt: skip
    own = {bodies[zone - 1].id: c for zone, c in classified.zone_choices.items()}
    return [
        dataclasses.replace(a, method=own[a.water_body].method, threshold=round(own[a.water_body].value, 4))
        if a.water_body in own else a
        for a in areas
    ]  # fmt: skip


@contextlib.contextmanager
def input_errors_named(source: SceneSource, scene: SceneRef, bands: list[str]) -> Iterator[None]:
    """Turn a failed read into a SceneError naming the broken file and band, when one is found.

    Errors raised inside Dask workers lose their context; the source re-reads the assets to tell.
    """
    try:
        yield
    except SceneError:
        raise  # already says what is wrong with the scene
    except Exception as exc:
        cause = source.explain_failure(scene, bands)
        if cause is None:
            raise
        raise SceneError(f"{scene.id}: unreadable input: {cause}") from exc


def classify_scene(
    source: SceneSource,
    scene: SceneRef,
    geobox: GeoBox,
    *,
    sensor: Literal["optical", "sar"],
    water: WaterConfig,
    sar: SarConfig,
    masks: MaskConfig,
    chunk: int,
    zones: da.Array | None = None,
    n_zones: int = 0,
    terrain: TerrainConfig | None = None,
    cores: da.Array | None = None,
    values: Collection[str] | None = None,
    in_memory: bool = False,
) -> ClassifiedScene:
    """Water classes and value layers of ``scene`` on ``geobox`` (reads the inputs once, for the
    histograms; the returned arrays are lazy). With ``zones`` (``n_zones`` water bodies numbered
    1..n on the grid, 0 elsewhere) the canny-otsu method finds each water body's own threshold, and
    with their ``cores`` (the outlines shrunk by ``water.core_margin_m``) it keeps inside the zones
    only water connected to a core (a second read of the inputs). ``values`` names the index layers
    wanted besides the classes (default: every index the scene's bands allow). ``in_memory``
    computes the water index and masks once and keeps them (for grids small enough to hold): the
    inputs are then read once instead of once per pass."""
    if sensor == "sar":
        return _radar(source, scene, geobox, sar, chunk)
    zoning = _Zoning(zones, n_zones, cores)
    return _optical(
        source, scene, geobox, water, masks, chunk, zoning, terrain or TerrainConfig(), values, in_memory
    )


@dataclass(frozen=True)
class _Zoning:
    """The water bodies on the grid: labels 1..n (0 elsewhere) and, optionally, their cores."""

    zones: da.Array | None
    n_zones: int
    cores: da.Array | None


def _optical(
    source: SceneSource, scene: SceneRef, geobox: GeoBox, cfg: WaterConfig, mask_cfg: MaskConfig, chunk: int,
    zoning: _Zoning, terrain: TerrainConfig, values: Collection[str] | None, in_memory: bool,
) -> ClassifiedScene:  # fmt: skip
    zones, n_zones = zoning.zones, zoning.n_zones
    required = list(dict.fromkeys([*REQUIRED_BANDS, *INDICES[cfg.index][0]]))
    optional = tuple(b for b in OPTIONAL_BANDS if b not in required)
    bands = [*required, *optional]
    ds = source.load(scene, bands, geobox, chunk, optional=optional)
    masks, mask_source = scene_masks(ds)
    masks["cloud"] = dilate(masks["cloud"], mask_cfg.cloud_dilation_px)
    land = [name for name in LAND_INDEX_PRODUCTS if all(b in ds for b in INDICES[name][0])]  # lazy: if asked
    wanted = {*INDEX_PRODUCTS, *land} if values is None else set(values)
    indices = {name: compute_index(name, ds) for name in {*wanted, cfg.index, "mndwi"}}
    snow = snow_ice(ds, indices["mndwi"], masks["snow"], cfg)
    water_index = indices[cfg.index]
    if in_memory:  # computed once: the passes below (threshold, connectivity, classes) read no input
        with input_errors_named(source, scene, bands):
            water_index, masks, snow = dask.persist(water_index, masks, snow)
        indices[cfg.index] = water_index
    valid = ~(masks["nodata"] | masks["cloud"] | snow) & water_index.notnull()
    with input_errors_named(source, scene, bands):
        choice, zone_choices = _threshold(water_index, valid, cfg, zones, n_zones)
    threshold = _threshold_layer(water_index, zones, choice, zone_choices) if zone_choices else choice.value
    classes = classify(water_index, masks["nodata"], masks["cloud"], snow, threshold)
    properties: dict[str, object] = {
        "sensing:cloud_mask": mask_source,
        "sensing:water_method": choice.method,
        "sensing:water_threshold": round(choice.value, 4),
        "sensing:water_index": cfg.index,
    }
    if terrain.enabled:
        classes, properties["sensing:terrain"] = _terrain(
            classes, scene, geobox, chunk, zones, n_zones, terrain
        )
    if (
        cfg.method == "canny-otsu"
        and zones is not None
        and zoning.cores is not None
        and cfg.core_margin_m > 0
    ):
        with input_errors_named(source, scene, bands):
            classes = drop_detached_water(classes, zones, zoning.cores)
        properties["sensing:core_margin_m"] = cfg.core_margin_m
    classes = minimum_mapping_unit(classes, cfg.min_mapping_unit_px)
    return ClassifiedScene(classes, indices, choice, properties, bands, zone_choices)


def _terrain(
    classes: xr.DataArray,
    scene: SceneRef,
    geobox: GeoBox,
    chunk: int,
    zones: da.Array | None,
    n_zones: int,
    cfg: TerrainConfig,
) -> tuple[xr.DataArray, dict[str, object]]:
    """The terrain vetoes with the sun where it stood at the acquisition over the grid's centre."""
    lon, lat = geobox.extent.to_crs("EPSG:4326").centroid.coords[0]
    sun = solar_position(scene.datetime, lon, lat)
    dem = terrain_dem(cfg, geobox, chunk)
    vetoed = terrain_vetoes(classes, dem, abs(geobox.resolution.x), sun, zones, n_zones, cfg)
    return vetoed, {
        "dem": cfg.dem_name, "sun_elevation": round(sun[0], 2), "sun_azimuth": round(sun[1], 2),
        "max_slope_deg": cfg.max_slope_deg, "min_hillshade": cfg.min_hillshade,
        "max_height_above_m": cfg.max_height_above_m, "max_shadow_m": cfg.max_shadow_m,
    }  # fmt: skip


def _threshold_layer(
    index: xr.DataArray, zones: da.Array | None, scene: ThresholdChoice, own: dict[int, ThresholdChoice]
) -> xr.DataArray:
    """Per-pixel threshold: each water body's own inside it, the scene's elsewhere."""
    assert zones is not None
    lookup = np.full(np.iinfo(np.uint16).max + 1, scene.value, dtype=np.float32)  # zones are uint16
    for zone, choice in own.items():
        lookup[zone] = choice.value
    values = da.map_blocks(lookup.__getitem__, zones.rechunk(index.data.chunks), dtype=np.float32)
    return xr.DataArray(values, dims=index.dims, coords=index.coords)


def _threshold(
    index: xr.DataArray, valid: xr.DataArray, cfg: WaterConfig, zones: da.Array | None, n_zones: int
) -> tuple[ThresholdChoice, dict[int, ThresholdChoice]]:
    """The configured method's threshold for the scene, and with canny-otsu and ``zones`` each water
    body's own from the edge pixels inside it (where they are enough and Otsu succeeds); the scene's
    canny-otsu falls back to global otsu, then to fixed.

    Only the otsu methods read pixels (one Dask pass computing every histogram they need).
    """
    if cfg.method == "fixed":
        return ThresholdChoice(cfg.fixed_threshold, "fixed", "configured"), {}
    value_range = INDEX_RANGES[cfg.index]
    overall = index_histogram(index, valid, cfg.histogram_bins, value_range)
    if cfg.method == "otsu":
        return choose_threshold(overall.compute(), cfg, value_range=value_range), {}
    near_edges = dilate(canny_edges(index, valid, cfg.canny_sigma), cfg.edge_buffer_px) & valid
    per_zone = (
        zone_histograms(index, near_edges, zones, n_zones, cfg.histogram_bins, value_range)
        if zones is not None and n_zones
        else da.zeros((1, cfg.histogram_bins), dtype=np.int64)
    )
    edge_counts, counts, zone_counts = dask.compute(
        index_histogram(index, near_edges, cfg.histogram_bins, value_range), overall, per_zone
    )
    own = {}
    for zone in range(1, len(zone_counts)):
        if zone_counts[zone].sum() >= cfg.min_edge_pixels:
            choice = choose_threshold(zone_counts[zone], cfg, value_range=value_range)
            if choice.method == "otsu":
                own[zone] = ThresholdChoice(choice.value, "canny-otsu")
    return _scene_canny_otsu(edge_counts, counts, cfg, value_range), own


def _scene_canny_otsu(
    edge_counts: NDArray[np.int64],
    counts: NDArray[np.int64],
    cfg: WaterConfig,
    value_range: tuple[float, float],
) -> ThresholdChoice:
    """Otsu near the scene's edges, else global Otsu, else the fixed threshold."""
    if edge_counts.sum() >= cfg.min_edge_pixels:
        choice = choose_threshold(edge_counts, cfg, value_range=value_range)
        if choice.method == "otsu":
            return ThresholdChoice(choice.value, "canny-otsu")
        reason = f"edges: {choice.reason}"
    else:
        reason = f"edges: {int(edge_counts.sum())} samples < {cfg.min_edge_pixels}"
    fallback = choose_threshold(counts, cfg, value_range=value_range)
    return ThresholdChoice(
        fallback.value, fallback.method, "; ".join(r for r in (reason, fallback.reason) if r)
    )


def _radar(
    source: SceneSource, scene: SceneRef, geobox: GeoBox, cfg: SarConfig, chunk: int
) -> ClassifiedScene:
    """Speckle-filtered backscatter in dB and an Otsu threshold on it (calm water is dark)."""
    optional = tuple(b for b in SAR_BANDS if b != cfg.polarization)
    bands = [cfg.polarization, *optional]
    ds = source.load(scene, bands, geobox, chunk, optional=optional)
    with input_errors_named(source, scene, bands):
        units = {
            str(b): detect_units(ds[b], str(b)) if cfg.units == "auto" else cfg.units for b in ds.data_vars
        }
    db = {
        b: to_db(lee_filter(to_linear(ds[b], units[b]), cfg.speckle_filter_px, cfg.looks)).rename(b)
        for b in units
    }
    evidence = db[cfg.polarization]
    with input_errors_named(source, scene, bands):
        counts = index_histogram(
            evidence, evidence.notnull(), cfg.histogram_bins, cfg.histogram_range
        ).compute()
    choice = choose_threshold(counts, cfg, value_range=cfg.histogram_range, water_below=True)
    no = xr.zeros_like(evidence, dtype=bool)
    classes = classify(evidence, evidence.isnull(), no, no, choice.value, water_below=True)
    classes = minimum_mapping_unit(classes, cfg.min_mapping_unit_px)
    return ClassifiedScene(classes, db, choice, {
        "sensing:water_method": choice.method,
        "sensing:water_threshold": round(choice.value, 2),
        "sensing:water_index": f"{cfg.polarization}_db",
        "sensing:sar_units": units[cfg.polarization],
        "sensing:speckle_filter": f"lee-{cfg.speckle_filter_px}" if cfg.speckle_filter_px > 1 else "none",
    }, bands)  # fmt: skip
