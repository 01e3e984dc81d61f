"""Threshold choice: the valley test against unimodal histograms, Canny edges across chunk seams."""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr

from sensing.compute.edges import canny_edges
from sensing.compute.water import HIST_RANGE, choose_threshold, index_histogram
from sensing.config import WaterConfig
from sensing.scene_water import _threshold


def _histogram(values: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(values, bins=512, range=HIST_RANGE)
    return counts


def test_a_unimodal_histogram_inside_the_bounds_is_not_split() -> None:
    """A hazy scene without water: MNDWI one broad mode around -0.18; Otsu would call half of it water."""
    haze = np.random.default_rng(3).normal(-0.18, 0.06, 200_000)
    choice = choose_threshold(_histogram(haze), WaterConfig())
    assert choice.method == "fixed" and "no valley" in choice.reason


def test_two_percent_of_water_is_still_found() -> None:
    rng = np.random.default_rng(4)
    scene = np.concatenate([rng.normal(-0.35, 0.08, 196_000), rng.normal(0.45, 0.08, 4_000)])
    choice = choose_threshold(_histogram(scene), WaterConfig())
    assert choice.method == "otsu" and 0.0 < choice.value < 0.3


def _lake(chunks: int | tuple[int, int]) -> tuple[xr.DataArray, xr.DataArray]:
    """An NDWI scene: a round lake (0.5) in land (-0.4) with noise, mostly land."""
    y, x = np.mgrid[0:600, 0:700]
    lake = (y - 260) ** 2 + (x - 330) ** 2 < 90**2
    values = np.where(lake, 0.5, -0.4) + np.random.default_rng(5).normal(0, 0.05, lake.shape)
    index = xr.DataArray(da.from_array(values.astype("float32"), chunks=chunks), dims=("y", "x"))
    return index, xr.DataArray(da.ones(lake.shape, chunks=chunks, dtype=bool), dims=("y", "x"))


def test_canny_edges_across_chunk_seams_differ_on_at_most_a_thousandth_of_pixels() -> None:
    chunked = canny_edges(*_lake((128, 150)), sigma=4).compute().values
    whole = canny_edges(*_lake(-1), sigma=4).compute().values
    assert whole.sum() > 400  # the shoreline, about 2 pi 90 px
    assert np.mean(chunked != whole) <= 0.001


def test_canny_otsu_samples_the_shoreline() -> None:
    index, valid = _lake(200)
    choice, own = _threshold(index, valid, WaterConfig(method="canny-otsu"), None, 0)
    assert choice.method == "canny-otsu" and -0.2 < choice.value < 0.3 and own == {}
    overall = index_histogram(index, valid, 512).compute()
    assert overall.sum() == index.size


def test_minimum_mapping_unit_is_exact_across_chunks() -> None:
    from sensing.compute.cleanup import minimum_mapping_unit

    rng = np.random.default_rng(9)
    classes = np.where(rng.random((300, 260)) < 0.04, 1, 0).astype("uint8")  # water specks
    classes[50:150, 40:200] = 1  # a lake...
    classes[90:92, 100:101] = 0  # ...with a 2 px dry hole
    classes[200:203, 10:14] = 1  # a 12 px pond
    classes[250:260, 0:5] = 3  # a cloud

    def cleaned(chunks: int | tuple[int, int]) -> np.ndarray:
        array = xr.DataArray(da.from_array(classes, chunks=chunks), dims=("y", "x"))
        return minimum_mapping_unit(array, 4).compute().values

    out = cleaned(-1)
    np.testing.assert_array_equal(cleaned((37, 41)), out)
    assert out[91, 100] == 1 and (out[200:203, 10:14] == 1).all() and (out[250:260, 0:5] == 3).all()
    outside = np.ones_like(out, dtype=bool)
    outside[40:160, 30:210] = outside[195:208, 5:19] = False
    assert (out[outside] == 1).mean() < 0.2 * (classes[outside] == 1).mean()  # most specks gone


def test_each_water_body_gets_its_own_canny_otsu_threshold() -> None:
    """A clear lake (0.5 in land at -0.4) and a turbid one (0.05 in darker land at -0.35): the scene's
    threshold, set by the large clear lake, misses much of the turbid one; its own finds it."""
    from sensing.compute.water import classify
    from sensing.scene_water import _threshold_layer

    y, x = np.mgrid[0:600, 0:900]
    clear = (y - 300) ** 2 + (x - 250) ** 2 < 170**2
    turbid = (y - 300) ** 2 + (x - 700) ** 2 < 60**2
    noise = np.random.default_rng(6).normal(0, 0.05, clear.shape)
    values = np.where(clear, 0.5, np.where(turbid, 0.05, np.where(x > 550, -0.35, -0.4))) + noise
    zones_np = np.zeros(clear.shape, dtype=np.uint16)
    zones_np[(y - 300) ** 2 + (x - 250) ** 2 < 200**2] = 1
    zones_np[(y - 300) ** 2 + (x - 700) ** 2 < 90**2] = 2
    index = xr.DataArray(da.from_array(values.astype("float32"), chunks=200), dims=("y", "x"))
    valid = xr.DataArray(da.ones(clear.shape, chunks=200, dtype=bool), dims=("y", "x"))
    zones = da.from_array(zones_np, chunks=300)  # other chunks than the index: rechunked
    scene, own = _threshold(index, valid, WaterConfig(method="canny-otsu"), zones, 2)
    assert set(own) == {1, 2} and all(c.method == "canny-otsu" for c in own.values())
    assert own[2].value < -0.05 < scene.value  # the turbid lake's shore lies lower
    nothing = xr.zeros_like(valid)
    with_own = classify(index, nothing, nothing, nothing, _threshold_layer(index, zones, scene, own)).values
    scene_only = classify(index, nothing, nothing, nothing, scene.value).values
    assert (with_own[turbid] == 1).mean() > 0.97 and (scene_only[turbid] == 1).mean() < 0.9
    assert (with_own[clear] == 1).mean() > 0.99 and (with_own[~clear & ~turbid] == 1).mean() < 0.005
