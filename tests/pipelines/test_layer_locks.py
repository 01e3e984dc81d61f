"""Two runs never write the same layer: a scene waits for the lock of each of its layers, then finds
what the other run published and skips it."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from sensing import workflow
from sensing.config import load_settings
from sensing.models import SceneResult
from sensing.publish.layout import OutputLayout
from sensing.publish.locks import file_lock
from sensing.registry import load_water_bodies
from sensing.sources import open_source

DAY = dt.date(2021, 8, 1)


def test_two_runs_on_one_scene_write_its_layers_once_the_second_waits_then_skips(demo_copy: Path) -> None:
    settings = load_settings(demo_copy / "config.yaml")
    bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
    source = open_source(settings.source, settings.data_dir)
    (scene,) = workflow.scenes_for_period(settings, source, DAY, DAY)
    layout = OutputLayout(settings.output_dir)
    results: list[SceneResult] = []
    runs = [
        threading.Thread(
            target=lambda: results.append(workflow.process_scene(settings, source, scene, bodies))
        )
        for _ in range(2)
    ]
    with file_lock(layout.layer_lock("ndvi", settings.aoi.id, DAY)):  # a third run holds one layer
        for run in runs:
            run.start()
        runs[0].join(timeout=5)
        assert all(run.is_alive() for run in runs), "a scene did not wait for the layer's lock"
        assert not layout.item("water", settings.aoi.id, DAY).exists()
    for run in runs:
        run.join(timeout=300)
    assert sorted(r.status for r in results) == ["processed", "skipped"]
    assert layout.item("water", settings.aoi.id, DAY).exists()
