"""Area-level-volume curves: a water body's surveyed relation between water level, surface area and
stored volume (a CSV with ``level_m``, ``area_km2`` and optionally ``volume_mcm``, million m3),
used to turn a measured area into level and volume. Never extrapolated: an area outside the curve's
range gives no level."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sensing.errors import ConfigError

__all__ = ["Curve", "read_curve"]


@dataclass(frozen=True)
class Curve:
    """Level (m), area (km2) and volume (million m3) at increasing levels."""

    level_m: NDArray[np.float64]
    area_km2: NDArray[np.float64]
    volume_mcm: NDArray[np.float64]

    def at_area(self, area_km2: float) -> tuple[float, float]:
        """(level, volume) where the curve's area equals ``area_km2``; NaN outside its range."""
        if not math.isfinite(area_km2) or not self.area_km2[0] <= area_km2 <= self.area_km2[-1]:
            return float("nan"), float("nan")
        level = float(np.interp(area_km2, self.area_km2, self.level_m))
        return round(level, 3), round(float(np.interp(level, self.level_m, self.volume_mcm)), 3)


def read_curve(path: Path) -> Curve:
    """Read and check a curve: area must grow with level (equal areas at the bottom are merged)."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"curve: cannot read {path}: {exc}") from exc
    missing = {"level_m", "area_km2"} - set(frame.columns)
    if missing:
        raise ConfigError(f"curve: {path} lacks column(s) {sorted(missing)}")
    frame = frame.sort_values("level_m")
    if "volume_mcm" not in frame:
        frame["volume_mcm"] = np.nan
    frame = frame.drop_duplicates("area_km2", keep="last")
    if len(frame) < 2 or not np.all(np.diff(frame["area_km2"]) > 0):
        raise ConfigError(f"curve: {path}: area_km2 must increase with level_m over at least two rows")
    return Curve(*(frame[c].to_numpy(dtype=float) for c in ("level_m", "area_km2", "volume_mcm")))
