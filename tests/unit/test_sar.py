"""Radar compute: Lee filter (chunk-exact), units detection, dB, and Otsu with water below the threshold."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sensing.compute.sar import detect_units, lee_filter, to_db, to_linear
from sensing.compute.water import choose_threshold, index_histogram
from sensing.config import SarConfig
from sensing.errors import SceneError
from sensing.models import WaterBodyArea, sensor_name
from sensing.publish.tables import read_water_areas, upsert_water_areas

LOOKS = 4.4


def _scene(chunks: int | tuple[int, int]) -> tuple[xr.DataArray, np.ndarray]:
    """Speckled linear power: land at -9 dB around a lake at -21 dB, a nodata strip on top."""
    rng = np.random.default_rng(7)
    truth = np.full((300, 420), -9.0)
    truth[100:220, 60:300] = -21.0
    linear = 10 ** (truth / 10) * rng.gamma(LOOKS, 1 / LOOKS, truth.shape)
    linear[:4] = np.nan
    return xr.DataArray(da.from_array(linear.astype("float32"), chunks=chunks), dims=("y", "x")), truth


def test_lee_filter_is_identical_across_chunkings_and_reduces_speckle() -> None:
    chunked, _ = _scene((64, 100))
    whole, _ = _scene(-1)
    filtered = lee_filter(chunked, 5, LOOKS).compute().values
    np.testing.assert_array_equal(filtered, lee_filter(whole, 5, LOOKS).compute().values)
    assert np.isnan(filtered[:4]).all() and np.isfinite(filtered[4:]).all()
    lake = (slice(120, 200), slice(80, 280))
    raw_db, smooth_db = to_db(whole).values[lake], 10 * np.log10(filtered[lake])
    assert np.std(smooth_db) < 0.4 * np.std(raw_db)
    assert np.mean(filtered[lake]) == pytest.approx(10 ** (-21 / 10), rel=0.05)  # mean power is kept


def test_units_are_told_from_the_values_or_the_band_is_named() -> None:
    linear, _ = _scene(128)
    assert detect_units(linear, "vv") == "linear"
    assert detect_units(to_db(linear), "vv") == "db"
    mixed = np.random.default_rng(1).uniform(-1, 3, (200, 200))  # a quarter negative
    half = xr.DataArray(da.from_array(mixed, chunks=100), dims=("y", "x"))
    with pytest.raises(SceneError, match="band vh: cannot tell linear power from dB"):
        detect_units(half, "vh")
    empty = xr.full_like(linear, np.nan)
    with pytest.raises(SceneError, match="band vv: too few valid pixels"):
        detect_units(empty, "vv")
    np.testing.assert_allclose(to_linear(to_db(linear), "db").values, linear.values, rtol=1e-5)


def test_otsu_on_backscatter_puts_water_below_the_threshold() -> None:
    linear, truth = _scene(128)
    db = to_db(lee_filter(linear, 5, LOOKS))
    cfg = SarConfig()
    counts = index_histogram(db, db.notnull(), cfg.histogram_bins, cfg.histogram_range).compute()
    choice = choose_threshold(counts, cfg, value_range=cfg.histogram_range, water_below=True)
    assert choice.method == "otsu" and -19 < choice.value < -11
    water = (db < choice.value).values[4:]
    assert np.mean(water == (truth[4:] < -15)) > 0.99
    # All land: no bimodal histogram, the fixed threshold is used.
    land = to_db(
        xr.DataArray(da.from_array(np.full((100, 100), 0.12, "float32"), chunks=50), dims=("y", "x"))
    )
    counts = index_histogram(land, land.notnull(), cfg.histogram_bins, cfg.histogram_range).compute()
    assert choose_threshold(counts, cfg, value_range=cfg.histogram_range, water_below=True).method == "fixed"


def test_sensor_names() -> None:
    assert sensor_name("SENTINEL-1A", "sar") == "sentinel-1"
    assert sensor_name("sentinel-2b", "optical") == "sentinel-2"
    assert sensor_name("landsat-8", "optical") == "landsat-8"
    assert sensor_name("", "sar") == "sar"


def test_optical_and_radar_areas_of_one_date_are_separate_rows(tmp_path: Path) -> None:
    path = tmp_path / "water_areas.parquet"
    day = dt.date(2021, 8, 1)
    old = pd.DataFrame([dataclasses.asdict(WaterBodyArea("lake", day, 1.0, 0.0, 1.0, "clear"))])
    old.drop(columns="sensor").astype({"date": str}).to_parquet(path)  # written before the sensor column
    assert read_water_areas(path).loc[0, "sensor"] == ""
    rows = [
        WaterBodyArea("lake", day, w, 0.0, 1.0, "clear", sensor=s)
        for w, s in ((2.0, "sentinel-2"), (2.1, "sentinel-1"))
    ]
    upsert_water_areas(path, rows)
    table = read_water_areas(path)
    assert sorted(table.sensor) == ["", "sentinel-1", "sentinel-2"]
    assert path.with_suffix(".csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
