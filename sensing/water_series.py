"""One water body's area series straight from the archive: only the table, no layer published.

The flows classify the whole AOI for every scene and publish its layers; an analyst asking how one
reservoir's area went over five years needs only the counts inside its outline. This path classifies
a window of the AOI grid around the outline (the same pixels and the same method as the flows: masks,
index, canny-otsu per water body, connection to its core, minimum mapping unit) and counts, a few
scenes at a time, each on Dask's synchronous scheduler in its own thread: no cluster, no files.

Areas equal the flows' but where a component of water leaves the window (the margin of 500 m and
the filters' reach keeps that rare: a body's own threshold depends only on pixels inside its
outline) or where the body's own threshold failed and the scene's, taken here over the window
rather than the whole AOI, stands in.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import dask
import numpy as np
from odc.geo.geobox import GeoBox

from sensing.compute.edges import canny_depth
from sensing.compute.zonal import areas_from_counts, zone_class_counts, zones_raster
from sensing.config import Settings
from sensing.errors import SceneError
from sensing.grid import aoi_geobox, pixel_area_m2
from sensing.models import SceneRef, WaterBodyArea, sensor_name
from sensing.scene_water import ClassifiedScene, classify_scene, input_errors_named
from sensing.sources.base import SceneSource
from sensing.waterbodies import WaterBody, to_crs

__all__ = ["body_window", "scene_areas", "water_body_series"]

WINDOW_MARGIN_M = 500.0
"""Grid kept around the outline's bounding box (as eo-learn's water-monitor example does)."""


def body_window(geobox: GeoBox, body: WaterBody, margin_px: int) -> GeoBox:
    """The part of ``geobox`` over ``body``'s outline and ``margin_px`` pixels around it (same pixels)."""
    minx, miny, maxx, maxy = to_crs(body.geometry, str(geobox.crs)).bounds
    inverse = ~geobox.affine
    corners = [inverse * (x, y) for x in (minx, maxx) for y in (miny, maxy)]
    cols, rows = [c for c, _ in corners], [r for _, r in corners]
    r0 = max(0, math.floor(min(rows)) - margin_px)
    c0 = max(0, math.floor(min(cols)) - margin_px)
    r1 = min(geobox.shape.y, math.ceil(max(rows)) + margin_px)
    c1 = min(geobox.shape.x, math.ceil(max(cols)) + margin_px)
    if r0 >= r1 or c0 >= c1:
        raise ValueError(f"water body {body.id!r}: its outline lies outside the AOI grid")
    return geobox[r0:r1, c0:c1]


def _margin_px(settings: Settings) -> int:
    """Pixels around the outline: 500 m, and at least what the filters reach (Canny's smoothing, the
    edge buffer, the cloud dilation) plus a few pixels."""
    water = settings.water
    reach = canny_depth(water.canny_sigma) + water.edge_buffer_px + settings.masks.cloud_dilation_px + 8
    return max(reach, math.ceil(WINDOW_MARGIN_M / settings.aoi.resolution))


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


def _one_scene(
    settings: Settings,
    source: SceneSource,
    scene: SceneRef,
    bodies: list[WaterBody],
    target: str,
    window: GeoBox,
) -> WaterBodyArea | None:
    chunk = max(window.shape.y, window.shape.x)  # one block: nothing to join across seams
    zones = zones_raster(bodies, window, chunk)
    cores = zones_raster(bodies, window, chunk, shrink_m=settings.water.core_margin_m)
    classified = classify_scene(
        source, scene, window, sensor=settings.source.sensor, water=settings.water, sar=settings.sar,
        masks=settings.masks, chunk=chunk, zones=zones, n_zones=len(bodies), terrain=settings.terrain,
        cores=cores, values=(), in_memory=True,
    )  # fmt: skip
    with input_errors_named(source, scene, classified.bands):
        (counts,) = dask.compute(zone_class_counts(classified.classes.data, zones, len(bodies)))
    rows = scene_areas(settings, scene, classified, counts, bodies, window)
    return next((r for r in rows if r.water_body == target), None)


def water_body_series(
    settings: Settings,
    source: SceneSource,
    scenes: list[SceneRef],
    bodies: list[WaterBody],
    body_id: str,
    *,
    parallel: int = 2,
    on_scene: Callable[[SceneRef, WaterBodyArea | None, str], None] | None = None,
) -> list[WaterBodyArea]:
    """``body_id``'s row for each of ``scenes`` (a ``failed`` row, with the reason, for a scene that
    cannot be read), ``parallel`` scenes at a time. ``bodies`` are the water bodies over the AOI, in
    the registry's order (where outlines overlap, the zone a pixel counts in is decided as in the flows).
    ``on_scene(scene, row, error)`` is called as each scene ends."""
    by_id = {b.id: b for b in bodies}
    if body_id not in by_id:
        raise ValueError(f"water body {body_id!r} is not over AOI {settings.aoi.id}; known: {sorted(by_id)}")
    window = body_window(aoi_geobox(settings.aoi), by_id[body_id], _margin_px(settings))

    def run(scene: SceneRef) -> WaterBodyArea | None:
        try:
            row = _one_scene(settings, source, scene, bodies, body_id, window)
        except SceneError as exc:
            row = _failed(settings, scene, body_id, str(exc))
        if on_scene is not None:
            on_scene(scene, row, row.reason if row is not None and row.quality == "failed" else "")
        return row

    with dask.config.set(scheduler="synchronous"), ThreadPoolExecutor(max(1, parallel)) as pool:
        rows = list(pool.map(run, scenes))
    return sorted((r for r in rows if r is not None), key=lambda r: (r.date, r.sensor, r.scene_id))


def _failed(settings: Settings, scene: SceneRef, body_id: str, reason: str) -> WaterBodyArea:
    nan = float("nan")
    return WaterBodyArea(
        body_id, scene.date, nan, nan, 0.0, "failed", scene_id=scene.id,
        sensor=sensor_name(scene.platform, settings.source.sensor), reason=reason,
        version=settings.version_key(),
    )  # fmt: skip
