"""Scene- and run-level steps, each one call for a thin orchestration task.

``process_scene`` takes a scene reference and publishes its layers (COGs, then STAC items);
``publish_run`` then rebuilds collections, the water-area table and the tile metadata.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from rasterio.windows import Window
from shapely.geometry import box, mapping

from sensing.alerts import ALERT_KEY, Alert, alert_rows, evaluate_alerts
from sensing.change import Period, area_table, write_change
from sensing.compute.counts import bincount
from sensing.compute.encode import to_scaled_int16
from sensing.compute.indices import INDICES
from sensing.compute.water import CLASS_CLOUD, CLASS_NODATA
from sensing.compute.zonal import zone_class_counts, zones_raster
from sensing.config import CLASS_PRODUCTS, SAR_BANDS, Settings
from sensing.crosscheck import flag_radar_ice
from sensing.errors import SceneError
from sensing.exclusions import apply_exclusions, excluded_dates, read_exclusions
from sensing.gapfill import gap_filled
from sensing.gauges import apply_gauges, read_gauges
from sensing.grid import aoi_geobox, pixel_area_m2
from sensing.models import LayerRef, SceneRef, SceneResult, WaterBodyArea, sensor_name
from sensing.products import DERIVED_PRODUCTS, ProductSpec, change_product, product_spec
from sensing.publish.cog import translate_to_cog, write_cogs
from sensing.publish.layout import OutputLayout, item_id
from sensing.publish.locks import file_lock
from sensing.publish.retention import prune_superseded
from sensing.publish.stac import LayerMetadata, build_item, read_items, write_collections, write_item
from sensing.publish.storage import write_json_atomic
from sensing.publish.tables import KEY, read_water_areas, upsert_frame, upsert_water_areas, write_frame
from sensing.publish.vectors import write_vector_layers
from sensing.registry import load_water_bodies
from sensing.scene_water import BANDS, classify_scene, input_errors_named, scene_areas
from sensing.sources.base import SceneSource
from sensing.summaries import (
    class_layers,
    counted_years,
    ledger,
    publish_occurrence,
    summary_products,
    update_counts,
    wet_clear_totals,
)
from sensing.water_vectors import water_vectors
from sensing.waterbodies import WaterBody, to_lonlat, water_body_frame, with_level

__all__ = [
    "SCENE_CONCURRENCY", "process_scene", "product_specs", "publish_run", "republish_series", "scenes_for_period",
]  # fmt: skip

SCENE_CONCURRENCY = 2
"""Scenes a run processes at once; each one's pixel work is spread over the Dask cluster."""


def product_specs(settings: Settings) -> dict[str, ProductSpec]:
    """The spec of every configured product."""
    return {p: product_spec(p, settings.indices.get(p)) for p in settings.published_products}


def _catalogued_specs(settings: Settings, layout: OutputLayout) -> dict[str, ProductSpec]:
    """The configured products, and the derived ones (flood events, monthly composites, anomalies) already
    published, so that catalog and tile index keep them."""
    on_demand = {p: product_spec(p) for p in DERIVED_PRODUCTS if layout.collection(p).parent.is_dir()}
    return product_specs(settings) | on_demand


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
    with _layer_locks(layout, settings, scene.date):
        if not force and _published(layout, settings, scene):
            reason = f"already published ({settings.version_key()})"
            return SceneResult(scene.id, scene.date, "skipped", reason=reason)
        return _classify_and_publish(settings, source, scene, bodies, layout)


@contextlib.contextmanager
def _layer_locks(layout: OutputLayout, settings: Settings, date: dt.date) -> Iterator[None]:
    """Hold the lock of every layer the scene publishes (in a fixed order: no deadlock between runs)."""
    with contextlib.ExitStack() as stack:
        for product in sorted(settings.published_products):
            stack.enter_context(file_lock(layout.layer_lock(product, settings.aoi.id, date)))
        yield


def _classify_and_publish(
    settings: Settings, source: SceneSource, scene: SceneRef, bodies: list[WaterBody], layout: OutputLayout
) -> SceneResult:
    version = settings.version_key()
    geobox = aoi_geobox(settings.aoi)
    zones = zones_raster(bodies, geobox, settings.dask.chunk)
    cores = zones_raster(bodies, geobox, settings.dask.chunk, shrink_m=settings.water.core_margin_m)
    scene_layers = classify_scene(
        source, scene, geobox, sensor=settings.source.sensor, water=settings.water, sar=settings.sar,
        masks=settings.masks, chunk=settings.dask.chunk, zones=zones, n_zones=len(bodies),
        terrain=settings.terrain, cores=cores,
    )  # fmt: skip
    classes = scene_layers.classes
    own = {bodies[zone - 1].id: choice for zone, choice in scene_layers.zone_choices.items()}

    specs = product_specs(settings)
    missing = [name for name in specs if name not in CLASS_PRODUCTS and name not in scene_layers.values]
    if missing:
        raise SceneError(
            f"{scene.id}: product(s) {missing} need band(s) the scene lacks "
            f"({', '.join(f'{m}: {list(INDICES[m][0])}' for m in missing)})"
        )
    layers = []
    for name, spec in specs.items():
        data = (
            classes
            if name in CLASS_PRODUCTS
            else to_scaled_int16(scene_layers.values[name], spec.cog.scale, spec.cog.offset)
        )
        layers.append((data.data, layout.layer(name, settings.aoi.id, scene.date, version), spec.cog))
    zone_counts = zone_class_counts(classes.data, zones, len(bodies))
    class_counts = bincount(classes.data, 256)

    def observed_something(computed: tuple[Any, ...]) -> None:  # known only after the one pass
        if computed[1].sum() == computed[1][CLASS_NODATA]:
            raise SceneError(f"{scene.id}: no valid pixel over AOI {settings.aoi.id}")

    with input_errors_named(source, scene, scene_layers.bands):
        zone_counts, class_counts = write_cogs(
            layers, crs=str(geobox.crs), transform=geobox.affine, also_compute=(zone_counts, class_counts),
            accept=observed_something,
        )  # fmt: skip
    observed = int(class_counts.sum() - class_counts[CLASS_NODATA])
    areas = scene_areas(settings, scene, scene_layers, zone_counts, bodies, geobox)
    meta = _layer_metadata(settings, scene, round(100.0 * class_counts[CLASS_CLOUD] / observed, 2))
    meta["properties"] = scene_layers.properties | (
        {"sensing:water_body_thresholds": {body: round(c.value, 4) for body, c in own.items()}} if own else {}
    )
    refs = []
    for (_, path, _), (name, spec) in zip(layers, specs.items(), strict=True):
        extras = {}
        if name in CLASS_PRODUCTS:
            stem = layout.water_vectors(name, settings.aoi.id, scene.date, version)
            extras = _publish_vectors(stem, path, bodies, scene.date)
        write_item(build_item(spec, layout, settings.aoi.id, path, meta, extras), layout)
        refs.append(LayerRef(name, settings.aoi.id, scene.date, str(path.relative_to(layout.root)), version))
    return SceneResult(
        scene.id, scene.date, "processed", layers=tuple(refs), areas=tuple(areas),
        sensor=sensor_name(scene.platform, settings.source.sensor),
    )  # fmt: skip


def _publish_vectors(stem: Path, classes: Path, bodies: list[WaterBody], date: dt.date) -> dict[str, Path]:
    """Publish the date's water polygons and shorelines from its class layer; return them as STAC
    assets (key -> file)."""
    water, shoreline = water_vectors(classes, bodies, date)
    written = write_vector_layers(stem, {"water": water, "shoreline": shoreline})
    return {_asset_key(stem, path): path for path in written}


def _asset_key(stem: Path, path: Path) -> str:
    """``water.gpkg`` -> ``vectors``; ``water.geojson`` -> ``vectors-geojson``;
    ``water.shoreline.parquet`` -> ``shoreline-parquet``."""
    layer, _, fmt = path.name.removeprefix(stem.name).lstrip(".").rpartition(".")
    return "vectors" if fmt == "gpkg" else f"{layer or 'vectors'}-{fmt}"


def grid_metadata(settings: Settings) -> LayerMetadata:
    """The AOI grid's part of every layer's metadata."""
    geobox = aoi_geobox(settings.aoi)
    footprint = to_lonlat(box(*geobox.extent.boundingbox), str(geobox.crs))
    return LayerMetadata(
        crs=str(geobox.crs),
        shape=geobox.shape.yx,
        transform=list(geobox.affine)[:6],
        bbox=list(geobox.extent.boundingbox),
        geometry=mapping(footprint),
        bbox_lonlat=list(footprint.bounds),
        resolution=settings.aoi.resolution,
    )


def _layer_metadata(settings: Settings, scene: SceneRef, cloud_cover: float) -> LayerMetadata:
    """Grid and provenance shared by every layer of one scene."""
    return LayerMetadata(
        grid_metadata(settings),
        datetime=scene.datetime,
        scene_id=scene.id,
        scene_ids=[i for i, _ in scene.items],
        version=settings.version_key(),
        cloud_cover=cloud_cover,
    )


def publish_run(settings: Settings, results: list[SceneResult]) -> list[Alert]:
    """After the scenes: yearly occurrence summaries, collections and root catalog, water-area table,
    alerts (returned, and upserted into the alerts table), then tile metadata.

    A failed scene leaves a ``failed`` row (with its reason) per water body over the AOI, unless that
    water body and date already have a row: nothing measured is replaced by a failure. Serialised by
    a file lock so concurrent runs never interleave their catalog updates.
    """
    layout = OutputLayout(settings.output_dir)
    specs = _catalogued_specs(settings, layout)
    measured = [a for r in results for a in r.areas]
    failed_results = [r for r in results if r.status == "failed"]
    bodies = _bodies_over_aoi(settings)
    failed = [_failed_row(settings, r, body) for r in failed_results for body in bodies]
    with file_lock(layout.lock):
        _publish_water_bodies(layout, bodies)
        if settings.publish.summaries:
            specs |= _update_summaries(settings, layout, specs, read_exclusions(layout.exclusions))
            specs |= _update_change(settings, layout, specs, bodies)
        write_collections(layout, specs)
        measured = [with_level(row, bodies) for row in _gap_filled(settings, layout, measured, bodies)]
        upsert_water_areas(layout.water_areas, measured, placeholders=failed)
        _refresh_series(layout)
        table = read_water_areas(layout.water_areas)
        usable = set(map(tuple, table.loc[table.usable.astype(bool), KEY].astype(str).to_numpy()))
        judged = [m for m in measured if (m.water_body, m.date.isoformat(), m.sensor) in usable]
        alerts = evaluate_alerts(table, judged, settings.alerts)
        if alerts:
            old = pd.read_parquet(layout.alerts) if layout.alerts.exists() else pd.DataFrame()
            upsert_frame(layout.alerts, old, alert_rows(alerts, dt.datetime.now(dt.UTC)), ALERT_KEY)
        write_layer_index(layout, specs)
        if settings.publish.keep_superseded is not None:
            prune_superseded(layout, settings.published_products, settings.publish.keep_superseded)
    return alerts


def _gap_filled(
    settings: Settings, layout: OutputLayout, rows: list[WaterBodyArea], bodies: list[WaterBody]
) -> list[WaterBodyArea]:
    """``rows`` with their gap-filled areas, from the occurrence counts of every year (just updated)."""
    by_id = {b.id: b for b in bodies}
    pixel_km2 = pixel_area_m2(aoi_geobox(settings.aoi)) / 1e6
    aoi, version = settings.aoi.id, settings.version_key()
    read: dict[tuple[str, Window], tuple[NDArray[np.uint16], NDArray[np.uint16]]] = {}
    filled = []
    for row in rows:
        product = "water-sar" if row.sensor == "sentinel-1" else "water"
        cog = layout.layer(product, aoi, row.date, version)
        if row.water_body not in by_id or not layout.summary_counts(product, aoi, row.date.year).exists():
            filled.append(row)
            continue

        def counts(window: Window, product: str = product) -> tuple[NDArray[np.uint16], NDArray[np.uint16]]:
            """A water body's window of the counts, read once for all its dates."""
            if (product, window) not in read:
                read[product, window] = wet_clear_totals(layout, product, aoi, None, window)[:2]
            return read[product, window]

        filled.append(gap_filled(row, by_id[row.water_body], cog, counts, pixel_km2))
    return filled


def republish_series(settings: Settings) -> None:
    """Bring everything published in line with the exclusions and gauge tables (after an analyst
    changed them): the series' flags and gauge readings, alerts on excluded observations withdrawn,
    occurrence summaries, metadata."""
    layout = OutputLayout(settings.output_dir)
    specs = _catalogued_specs(settings, layout) | _summary_specs(settings)
    with file_lock(layout.lock):
        exclusions = _refresh_series(layout)
        if settings.publish.summaries:
            _update_summaries(settings, layout, specs, exclusions)
        write_collections(layout, specs)
        write_layer_index(layout, specs)


def refresh_catalog(settings: Settings) -> None:
    """Rebuild collections, root catalog and tile index (after an on-demand product was published;
    the caller holds the publish lock)."""
    layout = OutputLayout(settings.output_dir)
    specs = _catalogued_specs(settings, layout) | _summary_specs(settings)
    write_collections(layout, specs)
    write_layer_index(layout, specs)


def _summary_specs(settings: Settings) -> dict[str, ProductSpec]:
    """Specs of the summaries (occurrence, water-months, change) of the configured class products."""
    names = [
        name
        for product in settings.published_products if product in CLASS_PRODUCTS
        for name in (*summary_products(product).values(), change_product(product))
    ]  # fmt: skip
    return {name: product_spec(name) for name in names}


def _refresh_series(layout: OutputLayout) -> pd.DataFrame:
    """Flag the series' excluded rows and radar rows of frozen dates (unusable), attach gauge readings
    and withdraw alerts raised on excluded rows; return the exclusions."""
    exclusions = read_exclusions(layout.exclusions)
    table = read_water_areas(layout.water_areas)
    refreshed = apply_gauges(flag_radar_ice(apply_exclusions(table, exclusions)), read_gauges(layout.gauges))
    upsert_frame(layout.water_areas, table, refreshed, KEY)
    if layout.alerts.exists():
        alerts = pd.read_parquet(layout.alerts)
        flagged = apply_exclusions(alerts.assign(quality="ok"), exclusions).excluded
        if flagged.any():
            write_frame(layout.alerts, alerts[~flagged])
    return exclusions


def _update_summaries(
    settings: Settings, layout: OutputLayout, specs: dict[str, ProductSpec], exclusions: pd.DataFrame
) -> dict[str, ProductSpec]:
    """Bring each class product's yearly counts over the AOI up to date with its published layers
    (less the dates analysts excluded) and republish the summaries whose dates changed (or never got
    published); return the summary specs."""
    summary_specs: dict[str, ProductSpec] = {}
    aoi = settings.aoi.id
    for product in (p for p in specs if p in CLASS_PRODUCTS):
        names = summary_products(product)
        summary_specs |= {name: product_spec(name) for name in names.values()}
        skipped = excluded_dates(exclusions, radar=product == "water-sar")
        for year, all_layers in class_layers(layout, product, aoi).items():
            layers = [layer for layer in all_layers if layer.date not in skipped]
            counted = update_counts(layout, product, aoi, year, layers)
            items = [layout.item(name, aoi, dt.date(year, 1, 1)) for name in names.values()]
            dates = sorted(layer.date.isoformat() for layer in layers)
            if (
                counted
                or not all(item.exists() for item in items)
                or json.loads(items[0].read_text())["properties"]["sensing:dates"] != dates
            ):
                lineage = [item_id(product, aoi, layer.date) for layer in layers]
                meta = LayerMetadata(grid_metadata(settings), scene_ids=lineage)
                publish_occurrence(layout, product, aoi, year, layers, meta)
    return summary_specs


def _update_change(
    settings: Settings, layout: OutputLayout, specs: dict[str, ProductSpec], bodies: list[WaterBody]
) -> dict[str, ProductSpec]:
    """Change since monitoring began: for each class product with counts of two years or more, the
    first year against the latest, republished when either year's counts changed."""
    change_specs = {}
    for product in (p for p in specs if p in CLASS_PRODUCTS):
        name = change_product(product)
        change_specs[name] = product_spec(name)
        years = counted_years(layout, product, settings.aoi.id)
        if len(years) < 2:
            continue
        before, after = Period(years[0], years[0]), Period(years[-1], years[-1])
        item = layout.item(name, settings.aoi.id, dt.date(after.first, 1, 1))
        dates = _counted_dates(layout, product, settings.aoi.id, [*before.years, *after.years])
        if not item.exists() or json.loads(item.read_text())["properties"].get("sensing:dates") != dates:
            publish_change(settings, product, before, after, bodies)
    return change_specs


def _counted_dates(layout: OutputLayout, product: str, aoi: str, years: list[int]) -> list[str]:
    return sorted(d for year in years for d in ledger(layout.summary_counts(product, aoi, year)))


def publish_change(
    settings: Settings, product: str, before: Period, after: Period, bodies: list[WaterBody]
) -> pd.DataFrame:
    """Publish the change classes of a class product between two periods over the AOI (COG, STAC
    item, area per class and water body in ``tables/water_change``); return that table's rows."""
    layout = OutputLayout(settings.output_dir)
    aoi, name = settings.aoi.id, change_product(product)
    spec = product_spec(name)
    day = dt.date(after.first, 1, 1)
    cog = layout.layer(name, aoi, day, f"{before}_{after}")
    with tempfile.TemporaryDirectory(dir=layout.root) as folder:
        scratch = Path(folder) / "change.tif"
        counts = write_change(layout, product, aoi, before, after, scratch, bodies)
        translate_to_cog(scratch, cog, spec.cog)
    summaries = summary_products(product)["occurrence"]
    years = [*before.years, *after.years]
    properties = {
        "start_datetime": f"{before.first}-01-01T00:00:00Z",
        "end_datetime": f"{after.last}-12-31T23:59:59Z",
        "sensing:period_before": str(before),
        "sensing:period_after": str(after),
        "sensing:class_product": product,
        "sensing:dates": _counted_dates(layout, product, aoi, years),
    }
    meta = LayerMetadata(
        grid_metadata(settings), datetime=dt.datetime(after.first, 1, 1, tzinfo=dt.UTC), cloud_cover=None,
        version=f"{name}-{before}_{after}", properties=properties,
        scene_ids=[item_id(summaries, aoi, dt.date(y, 1, 1)) for y in years],
    )  # fmt: skip
    write_item(build_item(spec, layout, aoi, cog, meta), layout)
    areas = counts.astype(np.float64) * (pixel_area_m2(aoi_geobox(settings.aoi)) / 1e6)
    rows = area_table(areas, [b.id for b in bodies], before, after, product)
    old = pd.read_parquet(layout.water_change) if layout.water_change.exists() else pd.DataFrame()
    key = ["water_body", "period_before", "period_after", "product", "value"]
    stale = (
        old[
            (old.period_before == str(before))
            & (old.period_after == str(after))
            & (old["product"] == product)
        ]
        if not old.empty
        else old
    )
    upsert_frame(layout.water_change, old.drop(stale.index), rows, key)
    return rows


def _publish_water_bodies(layout: OutputLayout, bodies: list[WaterBody]) -> None:
    """Upsert the monitored water bodies (names, type, region, basin, nominal area) into their table
    and, when it changed, rewrite their nominal outlines as vectors. An AOI without any: nothing."""
    if not bodies:
        return
    old = pd.read_parquet(layout.water_bodies) if layout.water_bodies.exists() else pd.DataFrame()
    frame = water_body_frame(bodies)
    outlines = layout.water_body_outlines
    attributes = pd.DataFrame(frame.drop(columns="geometry"))
    if (
        upsert_frame(layout.water_bodies, old, attributes, ["id"])
        or not outlines.with_suffix(".gpkg").exists()
    ):
        previous = outlines.with_suffix(".parquet")
        if previous.exists():  # bodies of other AOIs published by earlier runs stay
            kept = gpd.read_parquet(previous)
            frame = pd.concat([kept[~kept["id"].isin(frame["id"])], frame], ignore_index=True)
        write_vector_layers(outlines, {"water_bodies": frame.sort_values("id")})


def _bodies_over_aoi(settings: Settings) -> list[WaterBody]:
    footprint = to_lonlat(box(*settings.aoi.bounds), settings.aoi.crs)
    return [
        b
        for b in load_water_bodies(settings.water_bodies, settings.hydrography)
        if b.geometry.intersects(footprint)
    ]


def _failed_row(settings: Settings, result: SceneResult, body: WaterBody) -> WaterBodyArea:
    nan = float("nan")
    return WaterBodyArea(
        body.id, result.date, nan, nan, 0.0, "failed", scene_id=result.scene_id, sensor=result.sensor,
        reason=result.reason, version=settings.version_key(),
    )  # fmt: skip


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
