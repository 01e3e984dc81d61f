"""One water body's series straight from the archive (``sensing waterbodies series``): the same areas as
the whole-AOI classification the flows run, on a window around the outline, nothing published."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import yaml
from typer.testing import CliRunner

from pipelines.cli import app
from sensing.compute.zonal import zone_class_counts, zones_raster
from sensing.config import Settings, load_settings
from sensing.grid import aoi_geobox
from sensing.registry import load_water_bodies
from sensing.scene_water import classify_scene, scene_areas
from sensing.sources import open_source
from sensing.water_series import body_window, water_body_series
from sensing.workflow import scenes_for_period
from tests.conftest import write_test_config

runner = CliRunner()
CANNY = {"method": "canny-otsu", "core_margin_m": 300.0}


def _settings(demo_root: Path, folder: Path) -> Settings:
    """The demo at 30 m with canny-otsu, reading the shared archive, its outputs in ``folder``."""
    water = yaml.safe_load((demo_root / "config.yaml").read_text())["water"] | CANNY
    config = write_test_config(folder, data_dir=str(demo_root / "data"), water=water)
    return load_settings(config)


def _whole_grid_rows(settings: Settings, scene, bodies) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    """What the flows measure: the scene classified on the whole AOI grid, counted per outline."""
    geobox, chunk = aoi_geobox(settings.aoi), settings.dask.chunk
    zones = zones_raster(bodies, geobox, chunk)
    classified = classify_scene(
        open_source(settings.source, settings.data_dir), scene, geobox, sensor="optical",
        water=settings.water, sar=settings.sar, masks=settings.masks, chunk=chunk, zones=zones,
        n_zones=len(bodies), cores=zones_raster(bodies, geobox, chunk, shrink_m=settings.water.core_margin_m),
    )  # fmt: skip
    (counts,) = dask.compute(zone_class_counts(classified.classes.data, zones, len(bodies)))
    rows = scene_areas(settings, scene, classified, counts, bodies, geobox)
    return {r.water_body: (r.water_km2, r.quality, r.method, r.threshold) for r in rows}


def test_the_series_equals_the_whole_grid_areas_of_every_water_body(demo_root: Path, tmp_path: Path) -> None:
    settings = _settings(demo_root, tmp_path)
    bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
    source = open_source(settings.source, settings.data_dir)
    scenes = scenes_for_period(settings, source, dt.date(2021, 8, 1), dt.date(2021, 12, 31))
    assert len(scenes) >= 3
    with dask.config.set(scheduler="threads"):
        expected = {scene.date: _whole_grid_rows(settings, scene, bodies) for scene in scenes[:3]}
    for body in bodies:
        window = body_window(aoi_geobox(settings.aoi), body, 20)
        assert window.shape.x * window.shape.y < 1000 * 1000  # the grid: 30 km at 30 m
        processes = 2 if body.id == "kapchagay" else 1  # worker processes, or here
        rows = water_body_series(settings, source, scenes[:3], bodies, body.id, processes=processes)
        assert [r.date for r in rows] == sorted(expected)
        for row in rows:
            assert (row.water_km2, row.quality, row.method, row.threshold) == expected[row.date][body.id]
            if body.curve is not None and row.usable:  # the reservoir's level and volume from its curve
                assert (row.level_m, row.volume_mcm) == body.curve.at_area(row.water_km2)
                assert np.isfinite(row.level_m) and np.isfinite(row.volume_mcm)
    assert any(r[0] > 50 and r[1] == "ok" for rows in expected.values() for r in rows.values())
    assert not (tmp_path / "data" / "outputs").exists()  # nothing published


def test_the_series_command_writes_the_table_and_names_a_wrong_body(demo_root: Path, tmp_path: Path) -> None:
    config = write_test_config(tmp_path, data_dir=str(demo_root / "data"))
    out = tmp_path / "series" / "pond.csv"
    args = ["waterbodies", "series", "pond-north", "--start", "2021-08-01", "--end", "2021-10-31",
            "--config", str(config)]  # fmt: skip
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert set(table.water_body) == {"pond-north"} and len(table) >= 3
    assert table.date.is_monotonic_increasing
    assert np.isfinite(table.loc[table.usable, "water_km2"]).all() and table.usable.any()
    assert "pond-north:" in result.output and "usable" in result.output

    wrong = runner.invoke(app, ["waterbodies", "series", "pond-south", *args[3:]])
    assert wrong.exit_code == 2
    assert "'pond-south'" in wrong.output and "pond-north" in wrong.output
    bad_out = runner.invoke(app, [*args, "--out", str(tmp_path / "x.xlsx")])
    assert bad_out.exit_code == 2 and "--out" in bad_out.output
    assert not (tmp_path / "data" / "outputs").exists()
