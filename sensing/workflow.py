"""Scene- and run-level steps, each one call for a thin orchestration task.

``process_scene`` takes a scene reference and publishes its layers (COGs, then STAC items);
``publish_run`` then rebuilds collections, the water-area table and the tile metadata.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

import dask.array as da
import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox
from shapely.geometry import box, mapping

from sensing.compute.clouds import S2CLOUDLESS_BANDS, SPECTRAL_TEST_BANDS
from sensing.compute.encode import to_scaled_int16
from sensing.compute.indices import compute_index
from sensing.compute.masks import dilate, scene_masks
from sensing.compute.sar import detect_units, lee_filter, to_db, to_linear
from sensing.compute.water import (
    CLASS_CLOUD,
    CLASS_NODATA,
    ThresholdChoice,
    choose_threshold,
    classify,
    index_histogram,
    snow_ice,
)
from sensing.compute.zonal import areas_from_counts, zone_class_counts, zones_raster
from sensing.config import CLASS_PRODUCTS, INDEX_PRODUCTS, SAR_BANDS, Settings
from sensing.errors import SceneError
from sensing.grid import aoi_geobox, pixel_area_m2
from sensing.models import LayerRef, SceneRef, SceneResult, sensor_name
from sensing.products import ProductSpec, product_spec
from sensing.publish.cog import write_cogs
from sensing.publish.layout import OutputLayout
from sensing.publish.locks import file_lock
from sensing.publish.stac import LayerMetadata, build_item, read_items, write_collections, write_item
from sensing.publish.storage import write_json_atomic
from sensing.publish.tables import upsert_water_areas
from sensing.sources.base import SceneSource
from sensing.waterbodies import WaterBody, to_lonlat

__all__ = ["process_scene", "product_specs", "publish_run", "scenes_for_period"]

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


def product_specs(settings: Settings) -> dict[str, ProductSpec]:
    """The spec of every configured product."""
    return {p: product_spec(p, settings.indices.get(p)) for p in settings.published_products}


def scenes_for_period(
    settings: Settings, source: SceneSource, start: dt.date, end: dt.date
) -> list[SceneRef]:
    """Scenes over the AOI acquired from ``start`` to ``end``; refused when over the source's quota."""
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    footprint = to_lonlat(box(*settings.aoi.bounds), settings.aoi.crs)
    scenes = source.search(tuple(footprint.bounds), start, end)
    wanted = SAR_BANDS if settings.source.sensor == "sar" else BANDS
    n_bands = len([b for b in wanted if b in settings.source.bands])  # every band the scenes will fetch
    source.check_budget(len(scenes), aoi_geobox(settings.aoi), n_bands)
    return scenes


def _published(layout: OutputLayout, settings: Settings, scene: SceneRef) -> bool:
    """Whether every product of the scene is already published at the current version."""
    for product in settings.published_products:
        path = layout.item(product, settings.aoi.id, scene.date)
        if not path.exists():
            return False
        item = json.loads(path.read_text())
        props = item["properties"]
        if props.get("sensing:version") != settings.version_key() or props.get("sensing:source_scenes") != [
            i for i, _ in scene.items
        ]:
            return False
        if not (path.parent / item["assets"]["data"]["href"]).exists():
            return False
    return True


@contextlib.contextmanager
def _input_errors_named(source: SceneSource, scene: SceneRef, bands: list[str]) -> Iterator[None]:
    """Turn a failed read into a SceneError naming the broken file and band, when one is found.

    Errors raised inside Dask workers lose their context; the source re-reads the assets to tell.
    """
    try:
        yield
    except Exception as exc:
        cause = source.explain_failure(scene, bands)
        if cause is None:
            raise
        raise SceneError(f"{scene.id}: unreadable input: {cause}") from exc


@dataclass(frozen=True)
class _Classified:
    """One scene on the AOI grid: the water classes, value layers by product, and how water was found."""

    classes: xr.DataArray
    values: dict[str, xr.DataArray]
    choice: ThresholdChoice
    properties: dict[str, object]


def _optical(settings: Settings, source: SceneSource, scene: SceneRef, geobox: GeoBox) -> _Classified:
    """Masks, indices and an Otsu threshold on the water index (read pass one: the histogram)."""
    ds = source.load(scene, BANDS, geobox, settings.dask.chunk, optional=OPTIONAL_BANDS)
    masks, mask_source = scene_masks(ds)
    masks["cloud"] = dilate(masks["cloud"], settings.masks.cloud_dilation_px)
    indices = {name: compute_index(name, ds) for name in {*INDEX_PRODUCTS, settings.water.index}}
    snow = snow_ice(ds, indices["mndwi"], masks["snow"], settings.water)
    water_index = indices[settings.water.index]
    valid = ~(masks["nodata"] | masks["cloud"] | snow) & water_index.notnull()
    with _input_errors_named(source, scene, BANDS):
        counts = index_histogram(water_index, valid, settings.water.histogram_bins).compute()
    choice = choose_threshold(counts, settings.water)
    classes = classify(water_index, masks["nodata"], masks["cloud"], snow, choice.value)
    return _Classified(classes, indices, choice, {
        "sensing:cloud_mask": mask_source,
        "sensing:water_method": choice.method,
        "sensing:water_threshold": round(choice.value, 4),
        "sensing:water_index": settings.water.index,
    })  # fmt: skip


def _radar(settings: Settings, source: SceneSource, scene: SceneRef, geobox: GeoBox) -> _Classified:
    """Speckle-filtered backscatter in dB and an Otsu threshold on it (water is dark)."""
    cfg = settings.sar
    optional = tuple(b for b in SAR_BANDS if b != cfg.polarization)
    bands = [cfg.polarization, *optional]
    ds = source.load(scene, bands, geobox, settings.dask.chunk, optional=optional)
    with _input_errors_named(source, scene, bands):
        units = {
            str(b): detect_units(ds[b], str(b)) if cfg.units == "auto" else cfg.units for b in ds.data_vars
        }
    db = {
        b: to_db(lee_filter(to_linear(ds[b], units[b]), cfg.speckle_filter_px, cfg.looks)).rename(b)
        for b in units
    }
    evidence = db[cfg.polarization]
    with _input_errors_named(source, scene, bands):
        counts = index_histogram(
            evidence, evidence.notnull(), cfg.histogram_bins, cfg.histogram_range
        ).compute()
    choice = choose_threshold(counts, cfg, value_range=cfg.histogram_range, water_below=True)
    no = xr.zeros_like(evidence, dtype=bool)
    classes = classify(evidence, evidence.isnull(), no, no, choice.value, water_below=True)
    return _Classified(classes, db, choice, {
        "sensing:water_method": choice.method,
        "sensing:water_threshold": round(choice.value, 2),
        "sensing:water_index": f"{cfg.polarization}_db",
        "sensing:sar_units": units[cfg.polarization],
        "sensing:speckle_filter": f"lee-{cfg.speckle_filter_px}" if cfg.speckle_filter_px > 1 else "none",
    })  # fmt: skip


def process_scene(
    settings: Settings, source: SceneSource, scene: SceneRef, bodies: list[WaterBody], *, force: bool = False
) -> SceneResult:
    """Classify water and compute value layers for one scene on the AOI grid; publish COGs then STAC items.

    Optical scenes give water classes and indices; radar scenes (a source of vv/vh bands) give water
    classes and backscatter in dB. Skips (status ``skipped``) when the current version is already
    published, unless ``force``. Inputs are read twice: a first Dask pass reduces the water evidence
    to a histogram (Otsu needs the whole scene), then one pass computes every layer and the
    per-water-body counts together.
    """
    layout = OutputLayout(settings.output_dir)
    version = settings.version_key()
    if not force and _published(layout, settings, scene):
        return SceneResult(scene.id, scene.date, "skipped", reason=f"already published ({version})")
    geobox = aoi_geobox(settings.aoi)
    sar = settings.source.sensor == "sar"
    scene_layers = (_radar if sar else _optical)(settings, source, scene, geobox)
    classes = scene_layers.classes

    specs = product_specs(settings)
    layers = []
    for name, spec in specs.items():
        data = (
            classes
            if name in CLASS_PRODUCTS
            else to_scaled_int16(scene_layers.values[name], spec.cog.scale, spec.cog.offset)
        )
        layers.append((data.data, layout.layer(name, settings.aoi.id, scene.date, version), spec.cog))
    zone_counts = zone_class_counts(
        classes.data, zones_raster(bodies, geobox, settings.dask.chunk), len(bodies)
    )
    class_counts = da.bincount(classes.data.ravel(), minlength=256)
    with _input_errors_named(source, scene, list(SAR_BANDS) if sar else BANDS):
        zone_counts, class_counts = write_cogs(
            layers, crs=str(geobox.crs), transform=geobox.affine, also_compute=(zone_counts, class_counts)
        )
    observed = int(class_counts.sum() - class_counts[CLASS_NODATA])
    if observed == 0:
        raise SceneError(f"{scene.id}: no valid pixel over AOI {settings.aoi.id}")
    choice = scene_layers.choice
    areas = areas_from_counts(
        np.asarray(zone_counts), bodies, pixel_area_m2(geobox), scene.date, settings.quality,
        scene_id=scene.id, method=choice.method, threshold=round(choice.value, 4),
        sensor=sensor_name(scene.platform, settings.source.sensor),
    )  # fmt: skip
    meta = _layer_metadata(settings, geobox, scene, round(100.0 * class_counts[CLASS_CLOUD] / observed, 2))
    meta["properties"] = scene_layers.properties
    refs = []
    for (_, path, _), (name, spec) in zip(layers, specs.items(), strict=True):
        write_item(build_item(spec, layout, settings.aoi.id, path, meta), layout)
        refs.append(LayerRef(name, settings.aoi.id, scene.date, str(path.relative_to(layout.root)), version))
    return SceneResult(scene.id, scene.date, "processed", layers=tuple(refs), areas=tuple(areas))


def _layer_metadata(settings: Settings, geobox: GeoBox, scene: SceneRef, cloud_cover: float) -> LayerMetadata:
    """Grid and provenance shared by every layer of one scene."""
    footprint = to_lonlat(box(*geobox.extent.boundingbox), str(geobox.crs))
    return LayerMetadata(
        crs=str(geobox.crs),
        shape=geobox.shape.yx,
        transform=list(geobox.affine)[:6],
        bbox=list(geobox.extent.boundingbox),
        geometry=mapping(footprint),
        bbox_lonlat=list(footprint.bounds),
        datetime=scene.datetime,
        scene_id=scene.id,
        scene_ids=[i for i, _ in scene.items],
        version=settings.version_key(),
        resolution=settings.aoi.resolution,
        cloud_cover=cloud_cover,
    )


def publish_run(settings: Settings, results: list[SceneResult]) -> None:
    """After the scenes: collections and root catalog, water-area table, then tile metadata.

    Serialised by a file lock so concurrent runs never interleave their catalog updates.
    """
    layout = OutputLayout(settings.output_dir)
    specs = product_specs(settings)
    with file_lock(layout.lock):
        write_collections(layout, specs)
        upsert_water_areas(layout.water_areas, [a for r in results for a in r.areas])
        write_layer_index(layout, specs)


def write_layer_index(layout: OutputLayout, specs: dict[str, ProductSpec]) -> None:
    """Tile metadata: every published layer and date with its COG, bounds and rendering."""
    layers = []
    for name, spec in sorted(specs.items()):
        for item in read_items(layout, name):
            props = item["properties"]
            item_path = layout.item(name, props["sensing:aoi"], dt.date.fromisoformat(props["datetime"][:10]))
            cog = (item_path.parent / item["assets"]["data"]["href"]).resolve()
            layers.append(
                {
                    "id": f"{name}-{props['sensing:aoi']}",
                    "product": name,
                    "title": spec.title,
                    "aoi": props["sensing:aoi"],
                    "date": props["datetime"][:10],
                    "cog": str(cog.relative_to(layout.root.resolve())),
                    "item": str(item_path.relative_to(layout.root)),
                    "bounds": item["bbox"],
                    "version": props["sensing:version"],
                    "rescale": list(spec.rescale) if spec.rescale else None,
                    "colormap_name": spec.colormap_name,
                    "legend": spec.legend,
                }
            )
    write_json_atomic(layout.layer_index, {"layers": layers})
