"""Chunk seams on a whole classification: canny-otsu with per-water-body thresholds, terrain-free,
connectivity to the cores and the minimum mapping unit, chunked against one block."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from sensing.compute.zonal import zones_raster
from sensing.config import load_settings
from sensing.grid import aoi_geobox
from sensing.registry import load_water_bodies
from sensing.scene_water import classify_scene
from sensing.sources import open_source
from sensing.workflow import scenes_for_period


def test_chunk_seams_change_at_most_a_thousandth_of_the_class_layer(demo_root: Path) -> None:
    settings = load_settings(demo_root / "config.yaml")
    bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
    source = open_source(settings.source, settings.data_dir)
    geobox = aoi_geobox(settings.aoi)
    water = settings.water.model_copy(update={"method": "canny-otsu", "core_margin_m": 300.0})
    scene = scenes_for_period(settings, source, dt.date(2021, 9, 7), dt.date(2021, 9, 7))[0]

    def classes(chunk: int) -> tuple[np.ndarray, float]:
        result = classify_scene(
            source, scene, geobox, sensor="optical", water=water, sar=settings.sar, masks=settings.masks,
            chunk=chunk, zones=zones_raster(bodies, geobox, chunk), n_zones=len(bodies),
            cores=zones_raster(bodies, geobox, chunk, shrink_m=water.core_margin_m),
        )  # fmt: skip
        assert result.properties["sensing:core_margin_m"] == 300.0
        return result.classes.values, result.zone_choices[1].value

    whole, whole_threshold = classes(max(geobox.shape.yx))
    chunked, chunked_threshold = classes(200)
    assert (whole == 1).sum() > 100_000
    assert chunked_threshold == whole_threshold
    assert np.mean(chunked != whole) <= 0.001
