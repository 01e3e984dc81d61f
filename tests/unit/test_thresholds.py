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
    choice = _threshold(index, valid, WaterConfig(method="canny-otsu"))
    assert choice.method == "canny-otsu" and -0.2 < choice.value < 0.3
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
