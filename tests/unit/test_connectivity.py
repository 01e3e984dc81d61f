"""Water connected to the water bodies' cores: exact across chunk seams, and what it keeps and drops."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from scipy import ndimage
from shapely.geometry import Point, box

from sensing.compute.connectivity import connected_to_cores, drop_detached_water
from sensing.waterbodies import GEOD, core_outline


@pytest.mark.parametrize("seed", range(6))
def test_components_reaching_a_core_equal_whole_array_labelling_in_any_chunking(seed: int) -> None:
    """Random masks near the percolation threshold: components wind through many blocks, corners
    included (8-connectivity joins diagonal blocks through one pixel)."""
    rng = np.random.default_rng(seed)
    mask = rng.random((97, 131)) < 0.45
    cores = rng.random(mask.shape) < 0.002
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    reached = np.unique(labels[cores & mask])
    expected = np.isin(labels, reached[reached > 0])
    assert 0 < expected.sum() < mask.sum()
    for chunks in [(7, 13), (16, 16), (50, 9), (97, 131)]:
        got = connected_to_cores(da.from_array(mask, chunks=chunks), da.from_array(cores, chunks=11))
        np.testing.assert_array_equal(got.compute(), expected)


def test_water_detached_from_the_core_inside_the_outline_turns_dry() -> None:
    classes = np.zeros((120, 160), dtype="uint8")
    zones = np.zeros(classes.shape, dtype="uint16")
    zones[10:110, 10:110] = 1  # the outline
    cores = np.zeros_like(zones)
    cores[30:90, 30:90] = 1  # its core
    classes[40:80, 40:80] = 1  # the lake, in the core
    classes[12:16, 12:16] = 1  # a puddle in the outline's margin: dropped
    classes[100:108, 50:56] = 1  # a bay joined to the lake only outside the outline: kept
    classes[80:100, 50:52] = 1
    classes[100:119, 111:113] = 1  # water outside every outline: untouched
    classes[100:119, 113] = 3  # a cloud stays a cloud
    array = xr.DataArray(da.from_array(classes, chunks=(25, 35)), dims=("y", "x"))
    out = drop_detached_water(array, da.from_array(zones, chunks=40), da.from_array(cores, chunks=40)).values
    assert (out[12:16, 12:16] == 0).all()
    assert (out[40:80, 40:80] == 1).all() and (out[100:108, 50:56] == 1).all()
    assert (out[100:119, 111:113] == 1).all() and (out[100:119, 113] == 3).all()
    assert (out != classes).sum() == 16


def test_a_core_is_the_outline_shrunk_by_the_margin_and_a_narrow_lake_keeps_its_outline() -> None:
    lake = Point(77.0, 43.8).buffer(0.05)  # about 4 km by 5.5 km
    core = core_outline(lake, 300)
    area = abs(GEOD.geometry_area_perimeter(lake)[0])
    perimeter = GEOD.geometry_area_perimeter(lake)[1]
    lost = area - abs(GEOD.geometry_area_perimeter(core)[0])
    assert lost == pytest.approx(300 * perimeter, rel=0.05)  # a ring 300 m wide
    narrow = box(77.0, 43.8, 77.005, 43.9)  # about 400 m wide
    assert core_outline(narrow, 300).equals(narrow)
    assert core_outline(lake, 0).equals(lake)
