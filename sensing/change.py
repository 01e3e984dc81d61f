"""Change of surface water between two periods, in the spirit of the JRC Global Surface Water
transitions (Pekel et al., 2016), from the monthly wet and clear counts of the yearly summaries.

Each pixel's state in a period: of the (year, month) slots it was seen clear, the share seen wet;
``permanent`` when at least ``PERMANENT_SHARE`` (0.9) of them, ``seasonal`` when some, ``not water``
when none, unknown when never seen clear (ice months are not clear looks, so winter does not make a
permanent lake seasonal). The pair of states gives the class; water seen only in the years between
the two periods (never in either) is ``ephemeral``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from numpy.typing import NDArray

from sensing.products import CHANGE_CLASSES
from sensing.publish.layout import OutputLayout
from sensing.summaries import BLOCK
from sensing.waterbodies import WaterBody, rasterize_zones

__all__ = [
    "NO_DATA",
    "Period",
    "area_table",
    "change_classes",
    "class_counts",
    "period_state",
    "write_change",
]

NOT_WATER, SEASONAL, PERMANENT, UNKNOWN = 0, 1, 2, 255
PERMANENT_SHARE = 0.9
NO_DATA = 255


_PAIRS = {
    (PERMANENT, PERMANENT): 1, (NOT_WATER, PERMANENT): 2, (PERMANENT, NOT_WATER): 3,
    (SEASONAL, SEASONAL): 4, (NOT_WATER, SEASONAL): 5, (SEASONAL, NOT_WATER): 6,
    (SEASONAL, PERMANENT): 7, (PERMANENT, SEASONAL): 8,
}  # fmt: skip


@dataclass(frozen=True)
class Period:
    """Consecutive years, first to last inclusive."""

    first: int
    last: int

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2021`` or ``2017-2019``."""
        first, _, last = text.partition("-")
        try:
            period = cls(int(first), int(last or first))
        except ValueError:
            raise ValueError(f"expected a year or a range of years like 2017-2019, got {text!r}") from None
        if period.first > period.last:
            raise ValueError(f"period {text!r} ends before it starts")
        return period

    @property
    def years(self) -> range:
        """The years of the period."""
        return range(self.first, self.last + 1)

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


def period_state(counts: Sequence[NDArray[np.uint8]]) -> NDArray[np.uint8]:
    """State per pixel from the 24-band monthly counts of a period's years (wet 1-12, clear 13-24)."""
    shape = counts[0].shape[1:] if counts else (0, 0)
    wet_slots = sum((c[:12] > 0).sum(axis=0) for c in counts) if counts else np.zeros(shape)
    clear_slots = sum((c[12:] > 0).sum(axis=0) for c in counts) if counts else np.zeros(shape)
    share = np.where(clear_slots > 0, wet_slots / np.maximum(clear_slots, 1), 0.0)
    state = np.where(share >= PERMANENT_SHARE, PERMANENT, np.where(wet_slots > 0, SEASONAL, NOT_WATER))
    return np.where(clear_slots > 0, state, UNKNOWN).astype(np.uint8)


def change_classes(
    before: NDArray[np.uint8], after: NDArray[np.uint8], between: NDArray[np.uint8] | None = None
) -> NDArray[np.uint8]:
    """Transition class per pixel from the two periods' states (and the years between them)."""
    out = np.full(before.shape, NO_DATA, dtype=np.uint8)
    for (a, b), code in _PAIRS.items():
        out[(before == a) & (after == b)] = code
    dry = (before == NOT_WATER) & (after == NOT_WATER)
    out[dry] = 0
    if between is not None:
        out[dry & (between == PERMANENT)] = 9
        out[dry & (between == SEASONAL)] = 10
    return out


def write_change(
    layout: OutputLayout,
    product: str,
    aoi: str,
    before: Period,
    after: Period,
    path: Path,
    bodies: list[WaterBody],
) -> NDArray[np.int64]:
    """Write the change classes of ``product`` over ``aoi`` from ``before`` to ``after`` as a tiled
    GeoTIFF at ``path`` (years without counts are skipped); return the pixel count per water body
    (rows, 0 = outside every outline, i + 1 = ``bodies[i]``) and class value (columns, 0-255),
    tallied block by block as the layer is written."""
    if before.last >= after.first:
        raise ValueError(f"periods overlap or are reversed: {before} then {after}")
    groups = {
        "before": _existing(layout, product, aoi, before.years),
        "after": _existing(layout, product, aoi, after.years),
        "between": _existing(layout, product, aoi, range(before.last + 1, after.first)),
    }
    for name in ("before", "after"):
        if not groups[name]:
            raise ValueError(
                f"no occurrence counts of {product} over {aoi} in {before if name == 'before' else after}"
            )
    with contextlib.ExitStack() as stack:
        sources = {
            name: [stack.enter_context(rasterio.open(p)) for p in paths] for name, paths in groups.items()
        }
        first = sources["before"][0]
        profile = {**first.profile, "count": 1, "nodata": NO_DATA, "blockxsize": BLOCK, "blockysize": BLOCK}
        counts = np.zeros((len(bodies) + 1, 256), dtype=np.int64)
        with rasterio.open(path, "w", **profile) as dst:
            for _, window in dst.block_windows(1):
                states = {
                    name: period_state([src.read(window=window) for src in group]) if group else None
                    for name, group in sources.items()
                }
                assert states["before"] is not None and states["after"] is not None
                classes = change_classes(states["before"], states["after"], states["between"])
                dst.write(classes, 1, window=window)
                zones = rasterize_zones(bodies, str(dst.crs), dst.window_transform(window), classes.shape)
                counts += class_counts(classes, zones, len(bodies))
    return counts


def _existing(layout: OutputLayout, product: str, aoi: str, years: Iterable[int]) -> list[Path]:
    return [p for year in years if (p := layout.summary_counts(product, aoi, year)).exists()]


def class_counts(classes: NDArray[np.uint8], zones: NDArray[np.uint16], n_zones: int) -> NDArray[np.int64]:
    """Pixels per zone (rows, 0 = outside every zone) and class value (columns, 0-255)."""
    flat = zones.astype(np.int64) * 256 + classes
    return np.bincount(flat.ravel(), minlength=(n_zones + 1) * 256).reshape(n_zones + 1, 256)


def area_table(
    areas: NDArray[np.float64], body_ids: list[str], before: Period, after: Period, product: str
) -> pd.DataFrame:
    """Rows (water body, periods, product, class, area) for every class present in a water body."""
    rows = [
        {
            "water_body": body, "period_before": str(before), "period_after": str(after), "product": product,
            "change_class": CHANGE_CLASSES[value][0], "value": value, "area_km2": round(float(areas[i + 1, value]), 4),
        }
        for i, body in enumerate(body_ids)
        for value in CHANGE_CLASSES
        if areas[i + 1, value] > 0
    ]  # fmt: skip
    return pd.DataFrame(rows)
