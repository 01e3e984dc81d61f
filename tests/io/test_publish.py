"""Atomic files, COG writing from Dask, the water-area table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_validate

from sensing.config import IndexScale
from sensing.models import WaterBodyArea
from sensing.products import product_spec
from sensing.publish.cog import write_cogs
from sensing.publish.storage import atomic_path, write_json_atomic
from sensing.publish.tables import read_water_areas, upsert_water_areas


def test_atomic_path_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "layer.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["layer.json"]


def test_unchanged_json_is_not_rewritten(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    assert write_json_atomic(target, {"b": 1, "a": 2})
    stamp = target.stat().st_mtime_ns
    assert not write_json_atomic(target, {"a": 2, "b": 1})
    assert target.stat().st_mtime_ns == stamp


def test_write_cogs_streams_dask_blocks_into_valid_cogs(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    classes = rng.choice(np.array([0, 1, 2, 3, 255], dtype=np.uint8), size=(1300, 1100))
    index = rng.uniform(-1, 1, size=(1300, 1100)).astype("float32")
    water, ndwi = product_spec("water"), product_spec("ndwi", IndexScale())
    stored = np.round(index / 1e-4).astype(np.int16)
    paths = [tmp_path / "water.tif", tmp_path / "ndwi.tif"]
    extra = da.from_array(classes, chunks=512).sum()
    (total,) = write_cogs(
        [
            (da.from_array(classes, chunks=512), paths[0], water.cog),
            (da.from_array(stored, chunks=512), paths[1], ndwi.cog),
        ],
        crs="EPSG:32643",
        transform=from_origin(669000, 4875000, 30, 30),
        also_compute=[extra],
    )
    assert total == classes.sum()
    for path, expected in zip(paths, (classes, stored), strict=True):
        assert cog_validate(str(path), strict=True, quiet=True)[0]
        with rasterio.open(path) as ds:
            assert np.array_equal(ds.read(1), expected)
            assert ds.overviews(1) == [2, 4]
    with rasterio.open(paths[1]) as ds:
        assert ds.scales == (1e-4,) and ds.descriptions == ("NDWI",)
        stats = ds.tags(1)  # what QGIS reads for its default stretch
        assert float(stats["STATISTICS_MINIMUM"]) == stored.min()
        assert float(stats["STATISTICS_MAXIMUM"]) == stored.max()
        assert float(stats["STATISTICS_MEAN"]) == pytest.approx(stored.mean(), rel=1e-9)
        assert float(stats["STATISTICS_STDDEV"]) == pytest.approx(stored.std(), rel=1e-6)
    with rasterio.open(paths[0]) as ds:  # class 255 is no data: the statistics leave it out
        valid = classes[classes != 255]
        assert float(ds.tags(1)["STATISTICS_MAXIMUM"]) == 3
        assert float(ds.tags(1)["STATISTICS_VALID_PERCENT"]) == pytest.approx(
            100 * valid.size / classes.size, abs=1e-3
        )
    with rasterio.open(paths[0]) as ds:
        assert ds.colormap(1)[1] == (23, 96, 200, 255)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ndwi.tif", "water.tif"]


def _row(body: str, day: int, km2: float) -> WaterBodyArea:
    return WaterBodyArea(body, dt.date(2022, 6, day), km2, 0.0, 1.0, "clear", "S2A_X", "otsu", 0.1)


def test_table_upsert_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "water_areas.parquet"
    assert upsert_water_areas(path, [_row("a", 1, 10.0), _row("b", 1, 2.0)])
    before = path.read_bytes(), path.with_suffix(".csv").read_bytes()
    assert not upsert_water_areas(path, [_row("b", 1, 2.0)])
    assert (path.read_bytes(), path.with_suffix(".csv").read_bytes()) == before
    assert upsert_water_areas(path, [_row("a", 1, 11.0), _row("a", 2, 9.0)])
    table = read_water_areas(path)
    assert table[["water_body", "date", "water_km2"]].values.tolist() == [
        ["a", "2022-06-01", 11.0],
        ["a", "2022-06-02", 9.0],
        ["b", "2022-06-01", 2.0],
    ]


def test_a_run_over_an_aoi_without_water_bodies_publishes_no_water_body_table(tmp_path: Path) -> None:
    """An analyst's AOI far from every registered water body (e.g. an Alpine test scene) on a fresh
    output folder: the run once failed with KeyError 'id' on the empty water-body table."""
    from sensing.publish.layout import OutputLayout
    from sensing.workflow import _publish_water_bodies

    layout = OutputLayout(tmp_path)
    _publish_water_bodies(layout, [])
    assert not layout.water_bodies.exists()
