"""Indices, masks, thresholds, classes and zonal counts on small arrays with known answers."""

from __future__ import annotations

import datetime as dt

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from shapely.geometry import box

from sensing.compute.counts import bincount
from sensing.compute.encode import to_scaled_int16
from sensing.compute.indices import compute_index, normalized_difference
from sensing.compute.masks import scl_masks
from sensing.compute.water import choose_threshold, classify, index_histogram
from sensing.compute.zonal import CLASS_ORDER, areas_from_counts, quality_flag, zone_class_counts
from sensing.config import QualityConfig, WaterConfig
from sensing.waterbodies import WaterBody


def _da(values: list[list[float]]) -> xr.DataArray:
    return xr.DataArray(da.from_array(np.asarray(values, dtype="float32"), chunks=1), dims=("y", "x"))


def test_normalized_difference_values_and_nan() -> None:
    green = _da([[0.05, 0.14, np.nan], [0.0, 0.05, 0.2]])
    nir = _da([[0.015, 0.245, 0.1], [0.0, -0.01, 0.2]])
    out = normalized_difference(green, nir).compute().values
    assert out[0, 0] == pytest.approx((0.05 - 0.015) / 0.065, rel=1e-6)
    assert out[0, 1] == pytest.approx((0.14 - 0.245) / 0.385, rel=1e-6)
    assert np.isnan(out[0, 2]) and np.isnan(out[1, 0])
    assert out[1, 1] == 1.0  # negative NIR (dark water, baseline 04 offset) clipped to the range
    assert out[1, 2] == 0.0


def test_index_band_order_mndwi_ndvi() -> None:
    ds = xr.Dataset({"green": _da([[0.1]]), "swir16": _da([[0.3]]), "nir": _da([[0.4]]), "red": _da([[0.1]])})
    assert compute_index("mndwi", ds).values.item() == pytest.approx(-0.5)
    assert compute_index("ndvi", ds).values.item() == pytest.approx(0.6)
    with pytest.raises(ValueError, match="unknown index 'foo'"):
        compute_index("foo", ds)


def test_scaled_int16_encoding_clips_and_marks_nodata() -> None:
    out = to_scaled_int16(_da([[0.12345, -1.0, np.nan, 5.0]]), 1e-4).compute().values
    assert out.tolist() == [[1234, -10000, -32768, 32767]] or out.tolist() == [[1235, -10000, -32768, 32767]]


@pytest.mark.parametrize("chunked", [False, True])
def test_scl_masks_keep_three_states_apart(chunked: bool) -> None:
    classes = np.arange(12, dtype="uint8").reshape(1, 12)  # every SCL class, 0 (nodata) to 11 (snow)
    scl = xr.DataArray(da.from_array(classes, chunks=5) if chunked else classes, dims=("y", "x"))
    masks = scl_masks(scl)
    assert masks["nodata"].values.tolist() == [[True] + [False] * 11]
    #                                          0 nodata, 1 saturated, 2 dark, 3 shadow, 8-10 cloud, cirrus
    assert masks["cloud"].values.tolist() == [[False, True, True, True] + [False] * 4 + [True] * 3 + [False]]
    assert masks["snow"].values.tolist() == [[False] * 11 + [True]]
    assert {masks[name].dtype for name in masks} == {np.dtype(bool)}


def _histogram(values: np.ndarray, bins: int = 512) -> np.ndarray:
    valid = xr.DataArray(da.ones(values.shape, dtype=bool, chunks=50), dims=("y", "x"))
    return index_histogram(
        xr.DataArray(da.from_array(values, chunks=50), dims=("y", "x")), valid, bins
    ).compute()


def test_otsu_on_a_bimodal_scene() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(-0.4, 0.08, 7000), rng.normal(0.6, 0.08, 3000)]).reshape(100, 100)
    choice = choose_threshold(_histogram(values), WaterConfig())
    assert choice.method == "otsu"
    assert -0.3 < choice.value < 0.4
    assert (values > choice.value).sum() == 3000


def test_dry_scene_falls_back_to_the_fixed_threshold() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(-0.35, 0.1, 10000).reshape(100, 100)
    choice = choose_threshold(_histogram(values), WaterConfig())
    assert choice.method == "fixed" and choice.value == 0.0
    assert choice.reason


def test_no_valid_pixel_is_fixed_with_reason() -> None:
    choice = choose_threshold(np.zeros(512, dtype=np.int64), WaterConfig())
    assert (choice.method, choice.reason) == ("fixed", "no valid pixels")


def test_classify_precedence() -> None:
    index = _da([[0.5, -0.5, 0.5, 0.5, np.nan]])
    nodata = _da([[0, 0, 0, 1, 0]]).astype(bool)
    cloud = _da([[0, 0, 1, 0, 0]]).astype(bool)
    snow = _da([[0, 0, 0, 0, 0]]).astype(bool)
    out = classify(index, nodata, cloud, snow, 0.1).compute().values
    assert out.tolist() == [[1, 0, 3, 255, 255]]
    snow = _da([[1, 0, 0, 0, 0]]).astype(bool)
    assert classify(index, nodata, cloud, snow, 0.1).compute().values[0, 0] == 2


def test_zone_counts_match_numpy() -> None:
    rng = np.random.default_rng(2)
    classes = rng.choice(np.array(CLASS_ORDER, dtype=np.uint8), size=(64, 48))
    zones = rng.integers(0, 3, size=(64, 48)).astype(np.uint16)
    counts = zone_class_counts(
        da.from_array(classes, chunks=16), da.from_array(zones, chunks=16), 2
    ).compute()
    for z in range(3):
        for col, value in enumerate(CLASS_ORDER):
            assert counts[z, col] == np.sum((zones == z) & (classes == value))


def test_areas_and_quality_flags() -> None:
    bodies = [WaterBody("a", "A", box(0, 0, 1, 1)), WaterBody("b", "B", box(0, 0, 1, 1))]
    counts = np.array([[0, 0, 0, 0, 0], [100, 800, 0, 0, 0], [100, 300, 0, 600, 0]])
    rows = areas_from_counts(counts, bodies, 900.0, dt.date(2022, 6, 1), QualityConfig())
    assert rows[0].water_km2 == pytest.approx(800 * 900 / 1e6)
    assert (rows[0].quality, rows[1].quality) == ("ok", "cloudy")
    assert rows[0].usable and not rows[1].usable and "60% cloud" in rows[1].reason
    assert rows[1].valid_fraction == pytest.approx(0.4) and rows[1].cloud_fraction == pytest.approx(0.6)
    assert rows[0].nominal_fraction == pytest.approx(800 / 900, abs=1e-4)
    assert quality_flag(0.8, 0.0, 0.0, QualityConfig())[0] == "partial"  # outside the swath
    assert quality_flag(0.95, 0.05, 0.0, QualityConfig())[0] == "ok"
    assert quality_flag(1.0, 0.0, 0.5, QualityConfig())[0] == "frozen"


def test_building_the_graph_triggers_no_compute() -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a computation was triggered while building the graph")

    ds = xr.Dataset({b: _da([[0.1, 0.2], [0.3, 0.05]]) for b in ("green", "nir", "swir16", "red")})
    with dask.config.set(scheduler=refuse):
        masks = scl_masks(xr.DataArray(da.zeros((2, 2), dtype="uint8", chunks=1), dims=("y", "x")))
        mndwi = compute_index("mndwi", ds)
        classes = classify(mndwi, masks["nodata"], masks["cloud"], masks["snow"], 0.0)
        encoded = to_scaled_int16(compute_index("ndvi", ds), 1e-4)
        zone_class_counts(classes.data, da.zeros((2, 2), dtype="uint16", chunks=1), 1)
        index_histogram(mndwi, ~masks["nodata"], 64)
    assert classes.dtype == np.uint8 and encoded.dtype == np.int16


def test_qa_pixel_bits() -> None:
    from sensing.compute.masks import qa_pixel_masks

    # fill, clear land (bit 6), dilated cloud, cirrus, cloud, shadow, snow, clear water (bit 7)
    values = [1, 1 << 6, 1 << 1, 1 << 2, 1 << 3, 1 << 4, 1 << 5, (1 << 7) | (1 << 6)]
    masks = qa_pixel_masks(xr.DataArray(np.array([values], dtype="uint16"), dims=("y", "x")))
    assert masks["nodata"].values.tolist() == [[True] + [False] * 7]
    assert masks["cloud"].values.tolist() == [[False, False, True, True, True, True, False, False]]
    assert masks["snow"].values.tolist() == [[False] * 6 + [True, False]]


def test_dilation_grows_masks_identically_in_any_chunking() -> None:
    from sensing.compute.masks import dilate

    rng = np.random.default_rng(5)
    mask = rng.random((90, 70)) > 0.985
    whole = dilate(xr.DataArray(da.from_array(mask, chunks=-1), dims=("y", "x")), 3).values
    assert whole.sum() > 10 * mask.sum() and whole[mask].all()
    for chunk in (8, 25, 64):
        chunked = dilate(xr.DataArray(da.from_array(mask, chunks=chunk), dims=("y", "x")), 3).values
        np.testing.assert_array_equal(chunked, whole)
    untouched = xr.DataArray(mask, dims=("y", "x"))
    assert dilate(untouched, 0) is untouched


def test_scene_masks_pick_the_best_available_source() -> None:
    from sensing.compute.clouds import SPECTRAL_TEST_BANDS
    from sensing.compute.masks import scene_masks

    cloud = [0.50, 0.48, 0.47, 0.52, 0.40, 0.30]  # blue green red nir swir16 swir22
    water = [0.055, 0.045, 0.025, 0.012, 0.006, 0.004]
    bands = {b: _da([[c, w]]) for b, c, w in zip(SPECTRAL_TEST_BANDS, cloud, water, strict=True)}
    masks, kind = scene_masks(xr.Dataset(bands))
    assert kind == "spectral" and masks["cloud"].values.tolist() == [[True, False]]
    scl = xr.DataArray(np.array([[4, 9]], dtype="uint8"), dims=("y", "x"))
    assert scene_masks(xr.Dataset({**bands, "scl": scl}))[1] == "scl"
    assert scene_masks(xr.Dataset({"green": bands["green"]}))[1] == "none"


def test_blockwise_bincount_equals_numpy_and_never_ravels_the_grid() -> None:
    """Regression: ``da.bincount(a.ravel())`` on a chunked 2-D grid rechunked the whole grid into rows
    (a shuffle of every pixel on a full Sentinel-2 tile); counts now come block by block."""
    values = np.random.default_rng(0).integers(0, 300, (2500, 2300))
    grid = da.from_array(values, chunks=(700, 900))
    counts = bincount(grid, 256)
    assert (counts.compute() == np.bincount(values.ravel(), minlength=300)[:256]).all()
    layers = counts.dask.layers
    assert not any("rechunk" in name or "ravel" in name or "reshape" in name for name in layers)
    classes = da.from_array(np.array([[0, 1], [255, 3]], dtype=np.uint8), chunks=1)
    zones = da.from_array(np.array([[1, 1], [0, 2]], dtype=np.uint16), chunks=2)  # chunked differently
    counts_per_zone = zone_class_counts(classes, zones, 2).compute()
    assert counts_per_zone.tolist() == [[0, 0, 0, 0, 1], [1, 1, 0, 0, 0], [0, 0, 0, 1, 0]]
