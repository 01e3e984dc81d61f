"""Water classification: a bounded Otsu threshold over valid pixels, with a fixed fallback.

Used on optical water indices (water above the threshold) and on radar backscatter in dB (below).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import dask.array as da
import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d

from sensing.compute.counts import bincount
from sensing.config import WaterConfig

__all__ = [
    "CLASS_CLOUD",
    "CLASS_DRY",
    "CLASS_NODATA",
    "CLASS_SNOW_ICE",
    "CLASS_WATER",
    "ThresholdChoice",
    "ThresholdRule",
    "choose_threshold",
    "classify",
    "index_histogram",
    "otsu_centre",
    "snow_ice",
]

CLASS_DRY, CLASS_WATER, CLASS_SNOW_ICE, CLASS_CLOUD, CLASS_NODATA = 0, 1, 2, 3, 255
HIST_RANGE = (-1.0, 1.0)


@dataclass(frozen=True)
class ThresholdChoice:
    """The threshold that separated water from land, and how it was chosen."""

    value: float
    method: str
    """``otsu`` when the histogram supported it, ``fixed`` otherwise."""
    reason: str = ""
    """Why the fallback was taken."""


def snow_ice(
    reflectance: xr.Dataset, mndwi: xr.DataArray, scl_snow: xr.DataArray, cfg: WaterConfig
) -> xr.DataArray:
    """Snow and lake ice: SCL's snow class, or bright pixels whose MNDWI (= NDSI) is high.

    Open water is dark in the visible, so green reflectance separates it from snow and ice.
    """
    bright_snow = (mndwi > 0.4) & (reflectance["green"] > cfg.snow_min_green)
    return scl_snow | bright_snow


class ThresholdRule(Protocol):
    """The settings :func:`choose_threshold` reads (WaterConfig for indices, SarConfig for radar)."""

    @property
    def otsu_bounds(self) -> tuple[float, float]: ...
    @property
    def fixed_threshold(self) -> float: ...
    @property
    def min_class_fraction(self) -> float: ...


def index_histogram(
    index: xr.DataArray, valid: xr.DataArray, bins: int, value_range: tuple[float, float] = HIST_RANGE
) -> da.Array:
    """Lazy histogram counts of ``index`` over ``valid`` pixels on ``value_range`` (default [-1, 1])."""
    values = da.where(valid.data, index.data, np.nan)
    counts, _ = da.histogram(values, bins=bins, range=value_range)
    return counts


def zone_histograms(
    index: xr.DataArray,
    valid: xr.DataArray,
    zones: da.Array,
    n_zones: int,
    bins: int,
    value_range: tuple[float, float] = HIST_RANGE,
) -> da.Array:
    """Lazy histogram counts of ``index`` over ``valid`` pixels per zone: shape (n_zones + 1, bins),
    row 0 outside every zone. One bincount over the grid, whatever the number of zones."""
    lo, hi = value_range
    inside = valid.data & (index.data >= lo) & (index.data <= hi)
    scaled = da.where(inside, (index.data - lo) / (hi - lo) * bins, 0)
    bin_index = da.clip(da.floor(scaled), 0, bins - 1).astype(np.int64)
    overflow = (n_zones + 1) * bins
    flat = da.where(inside, zones.rechunk(index.data.chunks).astype(np.int64) * bins + bin_index, overflow)
    counts = bincount(flat, overflow + 1)
    return counts[:overflow].reshape(n_zones + 1, bins)


def choose_threshold(
    counts: NDArray[np.int64],
    cfg: ThresholdRule,
    *,
    value_range: tuple[float, float] = HIST_RANGE,
    water_below: bool = False,
) -> ThresholdChoice:
    """Otsu on the histogram, kept only when inside ``cfg.otsu_bounds`` and both classes are present.

    Water lies above the threshold (water indices) or, with ``water_below``, below it (radar
    backscatter, where calm water is dark). Otsu over a scene without water invents some; the
    bounds, the class-fraction test and the valley test (:func:`valley_depth`) catch that.
    """
    edges = np.linspace(*value_range, len(counts) + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    total = counts.sum()
    fixed = cfg.fixed_threshold
    if total == 0:
        return ThresholdChoice(fixed, "fixed", "no valid pixels")
    if np.count_nonzero(counts) < 2:  # Otsu has nothing to split (and skimage fails on it)
        return ThresholdChoice(fixed, "fixed", "every valid pixel in one histogram bin")
    value = otsu_centre(counts, centres)
    low, high = cfg.otsu_bounds
    if not low <= value <= high:
        return ThresholdChoice(fixed, "fixed", f"otsu {value:.3f} outside bounds [{low}, {high}]")
    water_fraction = counts[centres < value if water_below else centres > value].sum() / total
    if not cfg.min_class_fraction <= water_fraction <= 1 - cfg.min_class_fraction:
        return ThresholdChoice(fixed, "fixed", f"histogram not bimodal (water fraction {water_fraction:.4f})")
    depth = valley_depth(counts, centres, value)
    if depth > MAX_VALLEY_RATIO:
        return ThresholdChoice(
            fixed, "fixed", f"histogram not bimodal (no valley at otsu {value:.3f}: {depth:.2f})"
        )
    return ThresholdChoice(value, "otsu")


def otsu_centre(counts: NDArray[np.int64], centres: NDArray[np.float64]) -> float:
    """Otsu's threshold, centred on the plateau of maximal between-class variance.

    The usual implementation (skimage's) returns the first bin of that maximum; when the classes are
    well apart every bin of the empty gap between them scores the same, and the first one hugs the
    lower class. Thresholds lie on bin edges: the variance at bin i splits after bin i.
    """
    weight = np.cumsum(counts).astype(np.float64)
    total = weight[-1]
    moment = np.cumsum(counts * centres)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_low = moment / weight
        mean_high = (moment[-1] - moment) / (total - weight)
        between = np.nan_to_num(weight * (total - weight) * (mean_low - mean_high) ** 2)[:-1]
    start = end = int(np.argmax(between))
    top = between[start] * 0.999
    while end + 1 < len(between) and between[end + 1] >= top:
        end += 1
    return float((centres[start] + centres[end + 1]) / 2)


MAX_VALLEY_RATIO = 0.7
"""A threshold must sit in a valley: the smoothed histogram's lowest point between the two classes'
peaks at most this fraction of the lower peak. Otsu splits a unimodal histogram (a hazy scene with
no water) at its mode, where this ratio is about 1."""


def valley_depth(counts: NDArray[np.int64], centres: NDArray[np.float64], threshold: float) -> float:
    """Lowest smoothed density between the peaks on either side of ``threshold``, over the lower peak."""
    smooth = gaussian_filter1d(counts.astype(np.float64), sigma=max(1.0, len(counts) / 100), mode="constant")
    split = int(np.searchsorted(centres, threshold))
    if split <= 0 or split >= len(counts):
        return 1.0
    left, right = int(np.argmax(smooth[:split])), split + int(np.argmax(smooth[split:]))
    lower_peak = min(smooth[left], smooth[right])
    return float(smooth[left : right + 1].min() / lower_peak) if lower_peak > 0 else 1.0


def classify(
    index: xr.DataArray,
    nodata: xr.DataArray,
    cloud: xr.DataArray,
    snow: xr.DataArray,
    threshold: float | xr.DataArray,
    *,
    water_below: bool = False,
) -> xr.DataArray:
    """The water class layer (uint8): 0 dry, 1 water, 2 snow/ice, 3 cloud/shadow, 255 nodata.

    Water is ``index > threshold``, or ``index < threshold`` with ``water_below`` (backscatter in dB);
    ``threshold`` is one value or a per-pixel layer (each water body's own, see ``zone_histograms``).
    """
    nodata = nodata | index.isnull()
    is_water = index < threshold if water_below else index > threshold
    classes = xr.where(is_water, CLASS_WATER, CLASS_DRY)
    classes = xr.where(snow, CLASS_SNOW_ICE, classes)
    classes = xr.where(cloud, CLASS_CLOUD, classes)
    classes = xr.where(nodata, CLASS_NODATA, classes)
    return classes.astype("uint8").rename("water")
