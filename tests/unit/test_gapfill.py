"""Gap filling from the occurrence prior: the level calibrated on the seen pixels, bounds at 0.75/0.25."""

from __future__ import annotations

import numpy as np
import pytest

from sensing.compute.water import CLASS_CLOUD, CLASS_DRY, CLASS_WATER
from sensing.gapfill import fill_gaps


def _lake(water_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A 100x100 lake whose occurrence falls row by row (row r wet in 100-r % of 100 looks); on this
    date rows below ``water_rows`` are water."""
    clear = np.full((100, 100), 100, dtype=np.uint16)
    wet = np.repeat((100 - np.arange(100)).astype(np.uint16)[:, None], 100, axis=1)
    classes = np.where(np.arange(100)[:, None] < water_rows, CLASS_WATER, CLASS_DRY).repeat(100, axis=1)
    return classes.astype(np.uint8), wet, clear, np.ones((100, 100), dtype=bool)


@pytest.mark.parametrize("water_rows", [30, 60, 90])
def test_hidden_half_is_filled_at_the_level_the_seen_half_shows(water_rows: int) -> None:
    classes, wet, clear, inside = _lake(water_rows)
    classes[:, 50:] = CLASS_CLOUD  # the right half hidden
    fill = fill_gaps(classes, wet, clear, inside, pixel_km2=1e-4)
    assert fill.km2 == pytest.approx(water_rows * 100 * 1e-4)  # the truth: water_rows full rows
    assert fill.level == pytest.approx(1 - (water_rows - 1) / 100, abs=0.011)
    assert fill.low_km2 <= fill.km2 <= fill.high_km2
    # lower bound: the seen water plus the hidden pixels wet in at least 75 % of looks (rows 0-25)
    assert fill.low_km2 == pytest.approx(min(water_rows * 100, water_rows * 50 + 26 * 50) * 1e-4)


def test_no_water_seen_fills_nothing_and_a_hidden_lake_gets_level_one_half() -> None:
    classes, wet, clear, inside = _lake(0)
    classes[:, 50:] = CLASS_CLOUD
    assert fill_gaps(classes, wet, clear, inside, pixel_km2=1.0).km2 == 0
    classes[:] = CLASS_CLOUD
    fill = fill_gaps(classes, wet, clear, inside, pixel_km2=1.0)
    assert fill.level == 0.5 and fill.km2 == 51 * 100 and fill.high_km2 == 76 * 100
