"""Outlines from water frequency: DEA Waterbodies' hysteresis, minimum size and clear-observation rule."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin

from sensing.outlines import derive_outlines

TRANSFORM = from_origin(500000, 4800000, 10, 10)
CRS_UTM = CRS.from_epsg(32643)


def _frequency_grid() -> tuple[np.ndarray, np.ndarray]:
    clear = np.full((60, 60), 20, dtype=np.uint16)
    wet = np.zeros_like(clear)
    wet[10:20, 10:20] = 20  # a permanent lake
    wet[20:24, 10:20] = 2  # its seasonal margin: wet 10 % of the time, joined to the lake
    wet[40:44, 40:44] = 2  # damp ground wet 10 % of the time, no permanent core: not a water body
    wet[50:52, 5:7] = 20  # a permanent 4-pixel puddle: under min_pixels
    wet[30:40, 50:60] = 3
    clear[30:40, 50:60] = 2  # seen wet on every clear look, but seen only twice: too few to count
    return wet, clear


def test_hysteresis_keeps_the_margin_of_a_lake_and_drops_damp_ground() -> None:
    wet, clear = _frequency_grid()
    frame = derive_outlines(wet, clear, TRANSFORM, CRS_UTM, detect=0.5, extent=0.05, min_pixels=10)
    assert list(frame["id"]) == ["wb-0001"]
    assert frame.loc[0, "area_km2"] == pytest.approx(140 * 100 / 1e6)  # 10x10 lake + 4x10 margin
    assert frame.loc[0, "max_frequency"] == 1.0
    assert frame.loc[0, "mean_frequency"] == pytest.approx((100 * 1.0 + 40 * 0.1) / 140, abs=1e-3)
    assert frame.crs == CRS_UTM


def test_lower_thresholds_admit_more_and_bad_thresholds_are_refused() -> None:
    wet, clear = _frequency_grid()
    frame = derive_outlines(wet, clear, TRANSFORM, CRS_UTM, detect=0.05, extent=0.05, min_pixels=4)
    assert sorted(frame["area_km2"].round(4)) == [0.0004, 0.0016, 0.014]
    with pytest.raises(ValueError, match="extent"):
        derive_outlines(wet, clear, TRANSFORM, CRS_UTM, detect=0.05, extent=0.2)
