"""Flood extent of an event window: water seen during the event where water does not normally lie.

Two detections, each a per-pixel rule on published layers:

- ``classes`` (optical or radar class layers): a pixel is flooded when classified water on any date
  of the window, and its occurrence over the reference years is below ``permanent`` (0.9): the
  reservoir's permanent water is removed, its seasonal margin is not.
- ``ratio`` (Sentinel-1 change detection): the event's lowest VV backscatter against the median of
  a pre-event window; flooded where it fell by at least ``ratio_db`` (3 dB) to below ``max_water_db``
  (-15 dB), again less permanent water. Smooth open water darkens radar; wet soil and vegetation
  change less.

The layer: 0 not flooded (seen during the event), 1 flooded, 2 permanent water, 3 water during the
event where the reference has too few clear looks to tell flood from normal water, 255 not seen.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sensing.compute.water import CLASS_DRY, CLASS_SNOW_ICE, CLASS_WATER

__all__ = [
    "FLOOD_CLASSES",
    "FloodRule",
    "Reference",
    "flood_from_backscatter",
    "flood_from_classes",
    "reference",
]

NOT_FLOODED, FLOODED, PERMANENT_WATER, NO_REFERENCE, NOT_SEEN = 0, 1, 2, 3, 255
FLOOD_CLASSES: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    NOT_FLOODED: ("not flooded", (0, 0, 0, 0)),
    FLOODED: ("flooded", (230, 30, 160, 255)),
    PERMANENT_WATER: ("permanent water", (23, 96, 200, 255)),
    NO_REFERENCE: ("water, no reference", (150, 150, 150, 255)),
    NOT_SEEN: ("not seen", (0, 0, 0, 0)),
}
"""Class value -> (label, RGBA colour) of the flood layers."""


@dataclass(frozen=True)
class FloodRule:
    """Thresholds of the flood detections."""

    permanent: float = 0.9
    """Occurrence at or above which water is permanent, never a flood."""
    ratio_db: float = 3.0
    """Backscatter drop (dB) from before to during the event that marks new open water."""
    max_water_db: float = -15.0
    """Backscatter (dB) during the event above which no pixel counts as open water."""
    min_clear: int = 3
    """Clear looks a pixel needs before its occurrence is trusted (fewer: not permanent)."""


@dataclass(frozen=True)
class Reference:
    """What normal water is, per pixel, from the reference years' counts."""

    permanent: NDArray[np.bool_]
    """Occurrence at or above the permanent level."""
    known: NDArray[np.bool_]
    """Enough clear looks to tell."""


def reference(wet: NDArray[np.uint16], clear: NDArray[np.uint16], rule: FloodRule) -> Reference:
    """The reference of the flood rules from wet and clear counts."""
    known = clear >= rule.min_clear
    return Reference(known & (wet >= rule.permanent * clear), known)


def flood_from_classes(event: Sequence[NDArray[np.uint8]], normal: Reference) -> NDArray[np.uint8]:
    """Flood layer from the class layers of the event's dates."""
    stack = np.stack(event)
    water = np.any(stack == CLASS_WATER, axis=0)
    seen = np.any(np.isin(stack, (CLASS_DRY, CLASS_WATER, CLASS_SNOW_ICE)), axis=0)
    return _layer(np.asarray(water), np.asarray(seen), normal)


def flood_from_backscatter(
    before_db: Sequence[NDArray[np.float32]],
    event_db: Sequence[NDArray[np.float32]],
    normal: Reference,
    rule: FloodRule,
) -> NDArray[np.uint8]:
    """Flood layer from VV backscatter in dB (NaN where not seen) before and during the event."""
    with warnings.catch_warnings():  # all-NaN pixels (never seen) are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        baseline = np.nanmedian(np.stack(before_db), axis=0)
        during = np.nanmin(np.stack(event_db), axis=0)
    seen = np.isfinite(baseline) & np.isfinite(during)
    water = seen & (during - baseline <= -rule.ratio_db) & (during <= rule.max_water_db)
    return _layer(water, seen, normal)


def _layer(water: NDArray[np.bool_], seen: NDArray[np.bool_], normal: Reference) -> NDArray[np.uint8]:
    out = np.full(water.shape, NOT_SEEN, dtype=np.uint8)
    out[seen] = NOT_FLOODED
    out[seen & water & normal.known] = FLOODED
    out[seen & water & ~normal.known] = NO_REFERENCE
    out[normal.permanent] = PERMANENT_WATER
    return out
