"""Gap-filled water area for partly observed dates, from the occurrence prior.

Pixels of a water body hidden on a date (cloud, shadow, outside the swath) are filled from how often
they were water in the yearly occurrence counts. The fill threshold is calibrated on the date itself
(Zhao & Gao, 2018): among the pixels seen, the occurrence level above which as many pixels lie as
were seen wet, so a low-water date fills its gaps from the permanently wet core only and a high-water
date reaches into the seasonal margin (with less than a tenth of the outline seen, the level is 0.5). Bounds fill at fixed occurrence levels: the lower at 0.75
(only the pixels nearly always wet), the upper at 0.25 (plus hidden pixels never seen clear).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.features import geometry_mask
from rasterio.windows import Window, from_bounds

from sensing.compute.water import CLASS_DRY, CLASS_SNOW_ICE, CLASS_WATER
from sensing.models import WaterBodyArea
from sensing.waterbodies import WaterBody, to_crs

__all__ = ["GapFill", "fill_gaps", "gap_filled"]

LOW_LEVEL, HIGH_LEVEL = 0.75, 0.25
"""Occurrence levels of the lower and upper bounds."""
MIN_CLEAR = 3
"""Clear observations a pixel needs before its occurrence is trusted."""
MIN_CALIBRATION = 0.10
"""Share of the outline that must be seen (with a trusted occurrence) to calibrate the fill level;
below it the level is 0.5 (pixels wet in most years)."""


@dataclass(frozen=True)
class GapFill:
    """A date's water area with its hidden pixels filled, and the bounds of that fill (km2)."""

    km2: float
    low_km2: float
    high_km2: float
    level: float
    """Occurrence level the estimate filled at (calibrated on the pixels seen)."""


def fill_gaps(
    classes: NDArray[np.uint8],
    wet: NDArray[np.uint16],
    clear: NDArray[np.uint16],
    inside: NDArray[np.bool_],
    pixel_km2: float,
) -> GapFill:
    """Gap fill of one water body: ``classes`` of the date, the occurrence counts and the outline
    mask on the same window."""
    frequency = np.where(clear >= MIN_CLEAR, wet / np.maximum(clear, 1), np.nan)
    seen = inside & np.isin(classes, (CLASS_DRY, CLASS_WATER, CLASS_SNOW_ICE))
    hidden = inside & ~seen
    n_wet = int(np.count_nonzero(inside & (classes == CLASS_WATER)))
    seen_frequency = frequency[seen & np.isfinite(frequency)]
    if seen_frequency.size >= MIN_CALIBRATION * np.count_nonzero(inside):
        level = _calibrated_level(seen_frequency, n_wet, int(np.count_nonzero(seen)))
    else:
        level = 0.5
    hidden_frequency = frequency[hidden]
    known = hidden_frequency[np.isfinite(hidden_frequency)]
    estimate = n_wet + int(np.count_nonzero(known >= level))
    low = min(estimate, n_wet + int(np.count_nonzero(known >= LOW_LEVEL)))
    high = max(
        estimate, n_wet + int(np.count_nonzero(known >= HIGH_LEVEL)) + hidden_frequency.size - known.size
    )
    return GapFill(
        round(estimate * pixel_km2, 4), round(low * pixel_km2, 4), round(high * pixel_km2, 4), round(level, 3)
    )


def _calibrated_level(seen_frequency: NDArray[np.float64], n_wet: int, n_seen: int) -> float:
    """The occurrence level above which the seen pixels hold as many pixels as were seen wet."""
    wet_share = n_wet / n_seen
    if wet_share <= 0:
        return 1.0 + 1e-9  # nothing wet where seen: fill nothing
    return float(np.clip(np.quantile(seen_frequency, 1 - wet_share), 1e-6, 1.0))


def gap_filled(
    row: WaterBodyArea,
    body: WaterBody,
    classes_cog: Path,
    counts: Callable[[Window], tuple[NDArray[np.uint16], NDArray[np.uint16]]],
    pixel_km2: float,
) -> WaterBodyArea:
    """``row`` with its gap-filled area and bounds, from its class layer and ``counts`` (wet and clear
    observation totals of a window of the grid). A fully seen date keeps its measured area."""
    if row.quality in ("failed", "frozen") or not np.isfinite(row.water_km2):
        return row
    if row.valid_fraction >= 1:
        return dataclasses.replace(
            row, filled_km2=row.water_km2, filled_low_km2=row.water_km2, filled_high_km2=row.water_km2
        )
    with rasterio.open(classes_cog) as ds:
        outline = to_crs(body.geometry, str(ds.crs))
        window = from_bounds(*outline.bounds, transform=ds.transform).round_offsets().round_lengths()
        window = window.intersection(Window(0, 0, ds.width, ds.height))
        classes = ds.read(1, window=window)
        inside = ~geometry_mask([outline], out_shape=classes.shape, transform=ds.window_transform(window))
    wet, clear = counts(window)
    fill = fill_gaps(classes, wet, clear, inside, pixel_km2)
    return dataclasses.replace(
        row,
        filled_km2=fill.km2,
        filled_low_km2=fill.low_km2,
        filled_high_km2=fill.high_km2,
        fill_level=fill.level,
    )
