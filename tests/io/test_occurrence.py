"""Yearly water occurrence: additive monthly counts, a reprocessed date swapped, nothing counted twice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from sensing.publish.layout import OutputLayout
from sensing.summaries import Layer, update_counts


def _class_layer(root: Path, name: str, classes: np.ndarray) -> str:
    path = root / "layers" / f"{name}.tif"
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "dtype": "uint8", "count": 1, "width": classes.shape[1], "height": classes.shape[0],
               "crs": "EPSG:32643", "transform": from_origin(600000, 4800000, 30, 30), "nodata": 255}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(classes, 1)
    return str(path.relative_to(root))


def _counts(layout: OutputLayout, year: int) -> np.ndarray:
    with rasterio.open(layout.summary_counts("water", "lake", year)) as ds:
        return ds.read()


@pytest.fixture()
def scenes(tmp_path: Path) -> tuple[OutputLayout, list[Layer], np.ndarray]:
    rng = np.random.default_rng(0)
    stack = rng.choice(np.array([0, 1, 3, 255], dtype=np.uint8), size=(3, 700, 600), p=[0.5, 0.3, 0.1, 0.1])
    layers = [
        Layer(day, _class_layer(tmp_path, f"d{n}", stack[n]), "v1")
        for n, day in enumerate([dt.date(2022, 5, 3), dt.date(2022, 5, 19), dt.date(2022, 8, 7)])
    ]
    return OutputLayout(tmp_path), layers, stack


def test_counts_are_per_month_and_a_rerun_changes_nothing(
    scenes: tuple[OutputLayout, list[Layer], np.ndarray],
) -> None:
    layout, layers, stack = scenes
    assert update_counts(layout, "water", "lake", 2022, layers)
    counts = _counts(layout, 2022)
    np.testing.assert_array_equal(counts[4], (stack[0] == 1).astype(int) + (stack[1] == 1))  # May: two dates
    np.testing.assert_array_equal(counts[7], stack[2] == 1)
    np.testing.assert_array_equal(
        counts[12 + 4], np.isin(stack[0], (0, 1)).astype(int) + np.isin(stack[1], (0, 1))
    )
    assert counts[[0, 1, 2, 3, 5, 6, 8, 9, 10, 11]].max() == 0
    stamp = layout.summary_counts("water", "lake", 2022).stat().st_mtime_ns
    assert not update_counts(layout, "water", "lake", 2022, layers)  # the same dates: not counted twice
    assert layout.summary_counts("water", "lake", 2022).stat().st_mtime_ns == stamp


def test_a_reprocessed_date_replaces_its_contribution(
    scenes: tuple[OutputLayout, list[Layer], np.ndarray],
) -> None:
    layout, layers, stack = scenes
    update_counts(layout, "water", "lake", 2022, layers)
    redone = np.where(stack[1] == 0, 1, stack[1]).astype(np.uint8)  # a new version: more water
    layers[1] = Layer(layers[1].date, _class_layer(layout.root, "d1-v2", redone), "v2")
    assert update_counts(layout, "water", "lake", 2022, layers)
    fresh = OutputLayout(layout.root / "fresh")
    moved = [Layer(x.date, str(Path("..") / x.cog), x.version) for x in layers]
    update_counts(fresh, "water", "lake", 2022, moved)
    np.testing.assert_array_equal(_counts(layout, 2022), _counts(fresh, 2022))  # as if counted from scratch
    assert update_counts(layout, "water", "lake", 2022, layers[:2])  # a withdrawn date is subtracted
    assert _counts(layout, 2022)[7].max() == 0


def test_a_failed_update_leaves_the_counts_untouched(
    scenes: tuple[OutputLayout, list[Layer], np.ndarray],
) -> None:
    layout, layers, _ = scenes
    update_counts(layout, "water", "lake", 2022, layers[:2])
    before = _counts(layout, 2022)
    broken = Layer(dt.date(2022, 9, 1), "layers/missing.tif", "v1")
    with pytest.raises(rasterio.errors.RasterioIOError):
        update_counts(layout, "water", "lake", 2022, [*layers[:2], broken])
    np.testing.assert_array_equal(_counts(layout, 2022), before)
    assert not list(layout.summary_counts("water", "lake", 2022).parent.glob(".*.tmp*"))
    assert update_counts(layout, "water", "lake", 2022, layers)  # the ledger did not record the failure
