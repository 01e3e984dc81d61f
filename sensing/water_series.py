"""One water body's area series straight from the archive: only the table, no layer published.

The flows classify the whole AOI for every scene and publish its layers; an analyst asking how one
reservoir's area went over five years needs only the counts inside its outline. This path classifies
a window of the AOI grid around the outline (the same pixels and the same method as the flows: masks,
index, canny-otsu per water body, connection to its core, minimum mapping unit) and counts, scene
by scene on Dask's synchronous scheduler, in a few worker processes side by side: no files written.

Areas equal the flows' but where a component of water leaves the window (the margin of 500 m and
the filters' reach keeps that rare: a body's own threshold depends only on pixels inside its
outline) or where the body's own threshold failed and the scene's, taken here over the window
rather than the whole AOI, stands in.
"""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
from numpy.typing import NDArray
from odc.geo.geobox import GeoBox

from sensing.compute.edges import canny_depth
from sensing.compute.zonal import zone_class_counts, zones_raster
from sensing.config import Settings
from sensing.errors import SceneError
from sensing.grid import aoi_geobox
from sensing.models import SceneRef, WaterBodyArea, sensor_name
from sensing.scene_water import classify_scene, input_errors_named, scene_areas
from sensing.sources import open_source
from sensing.sources.base import SceneSource
from sensing.waterbodies import WaterBody, to_crs, with_level

__all__ = ["body_window", "water_body_series"]

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


@dataclass(frozen=True)
class _Window:
    """The grid window of one water body and its zones and cores, rasterized once for every scene."""

    geobox: GeoBox
    zones: NDArray[np.uint16]
    cores: NDArray[np.uint16]

    @classmethod
    def around(cls, settings: Settings, bodies: list[WaterBody], body: WaterBody) -> _Window:
        geobox = body_window(aoi_geobox(settings.aoi), body, _margin_px(settings))
        side = max(geobox.shape.yx)
        zones, cores = dask.compute(
            zones_raster(bodies, geobox, side),
            zones_raster(bodies, geobox, side, shrink_m=settings.water.core_margin_m),
            scheduler="synchronous",
        )
        return cls(geobox, zones, cores)


@dataclass(frozen=True)
class _Job:
    """What every scene of one series needs besides the scene (sent once to each worker process)."""

    settings: Settings
    bodies: list[WaterBody]
    body_id: str
    window: _Window

    def row(self, source: SceneSource, scene: SceneRef) -> WaterBodyArea | None:
        """The body's row of ``scene``; a ``failed`` row naming the reason when the scene is unusable."""
        try:
            return self._measure(source, scene)
        except SceneError as exc:
            return _failed(self.settings, scene, self.body_id, str(exc))

    def _measure(self, source: SceneSource, scene: SceneRef) -> WaterBodyArea | None:
        settings, bodies, window = self.settings, self.bodies, self.window
        chunk = max(window.geobox.shape.yx)  # one block: nothing to join across seams
        zones, cores = da.from_array(window.zones, chunks=chunk), da.from_array(window.cores, chunks=chunk)
        classified = classify_scene(
            source, scene, window.geobox, sensor=settings.source.sensor, water=settings.water,
            sar=settings.sar, masks=settings.masks, chunk=chunk, zones=zones, n_zones=len(bodies),
            terrain=settings.terrain, cores=cores, values=(), in_memory=True,
        )  # fmt: skip
        with input_errors_named(source, scene, classified.bands):
            (counts,) = dask.compute(zone_class_counts(classified.classes.data, zones, len(bodies)))
        rows = scene_areas(settings, scene, classified, counts, bodies, window.geobox)
        return next((r for r in rows if r.water_body == self.body_id), None)


_worker: tuple[_Job, SceneSource] | None = None
"""In a worker process: its job and its own connection to the archive (see ``_start_worker``)."""


def _start_worker(job: _Job) -> None:
    global _worker
    dask.config.set(scheduler="synchronous")  # this process's pixel work runs in its one thread
    _worker = (job, open_source(job.settings.source, job.settings.data_dir))


def _worker_row(scene: SceneRef) -> WaterBodyArea | None:
    assert _worker is not None, "_start_worker did not run in this process"
    job, source = _worker
    return job.row(source, scene)


def water_body_series(
    settings: Settings,
    source: SceneSource,
    scenes: list[SceneRef],
    bodies: list[WaterBody],
    body_id: str,
    *,
    processes: int = 1,
) -> list[WaterBodyArea]:
    """``body_id``'s row for each of ``scenes``, by date (a ``failed`` row, with the reason, for a scene
    that cannot be read), with level and volume where the body has an area-level-volume curve.

    ``bodies`` are the water bodies over the AOI, in the registry's order (where outlines overlap, the
    zone a pixel counts in is decided as in the flows). With ``processes`` > 1 the scenes are
    classified in that many worker processes (the filters hold Python's GIL: threads would not run
    them side by side), each opening the archive itself; otherwise here, one after another."""
    by_id = {b.id: b for b in bodies}
    if body_id not in by_id:
        raise ValueError(f"water body {body_id!r} is not over AOI {settings.aoi.id}; known: {sorted(by_id)}")
    job = _Job(settings, bodies, body_id, _Window.around(settings, bodies, by_id[body_id]))
    if processes <= 1 or len(scenes) <= 1:
        with dask.config.set(scheduler="synchronous"):
            rows = [job.row(source, scene) for scene in scenes]
    else:
        context = multiprocessing.get_context("spawn")  # no fork of this process's threads and GDAL state
        with ProcessPoolExecutor(
            processes, mp_context=context, initializer=_start_worker, initargs=(job,)
        ) as pool:
            rows = list(pool.map(_worker_row, scenes))
    measured = (with_level(r, bodies) for r in rows if r is not None)
    return sorted(measured, key=lambda r: (r.date, r.sensor, r.scene_id))


def _failed(settings: Settings, scene: SceneRef, body_id: str, reason: str) -> WaterBodyArea:
    nan = float("nan")
    return WaterBodyArea(
        body_id, scene.date, nan, nan, 0.0, "failed", scene_id=scene.id,
        sensor=sensor_name(scene.platform, settings.source.sensor), reason=reason,
        version=settings.version_key(),
    )  # fmt: skip
