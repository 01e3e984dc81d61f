"""Flood rules: water during the event less permanent water; the Sentinel-1 backscatter-drop rule."""

from __future__ import annotations

import numpy as np

from sensing.compute.water import CLASS_CLOUD, CLASS_DRY, CLASS_NODATA, CLASS_WATER
from sensing.flood import (
    FLOODED,
    NO_REFERENCE,
    NOT_FLOODED,
    NOT_SEEN,
    PERMANENT_WATER,
    FloodRule,
    Reference,
    flood_from_backscatter,
    flood_from_classes,
    reference,
)

RULE = FloodRule()


def test_permanent_water_needs_enough_clear_looks() -> None:
    wet = np.array([[9, 10, 2, 2]], dtype=np.uint16)
    clear = np.array([[10, 10, 2, 10]], dtype=np.uint16)
    normal = reference(wet, clear, RULE)
    assert normal.permanent.tolist() == [[True, True, False, False]]
    assert normal.known.tolist() == [[True, True, False, True]]


def _normal(permanent: list[bool], known: list[bool]) -> Reference:
    return Reference(np.array([permanent]), np.array([known]))


def test_flood_from_classes_keeps_new_water_only() -> None:
    normal = _normal([True, False, False, False, False, False], [True, True, True, True, True, False])
    day1 = np.array(
        [[CLASS_WATER, CLASS_DRY, CLASS_CLOUD, CLASS_DRY, CLASS_NODATA, CLASS_DRY]], dtype=np.uint8
    )
    day2 = np.array(
        [[CLASS_WATER, CLASS_WATER, CLASS_WATER, CLASS_DRY, CLASS_NODATA, CLASS_WATER]], dtype=np.uint8
    )
    flood = flood_from_classes([day1, day2], normal)
    # new water with a history: flood; with too short a history: water, no reference
    assert flood.tolist() == [[PERMANENT_WATER, FLOODED, FLOODED, NOT_FLOODED, NOT_SEEN, NO_REFERENCE]]


def test_backscatter_drop_marks_new_open_water() -> None:
    nan = np.nan
    before = [
        np.array([[-8.0, -8.0, -16.0, -12.0, nan]], dtype=np.float32),
        np.array([[-9.0, -7.0, -17.0, -12.0, nan]], dtype=np.float32),
    ]
    during = [np.array([[-20.0, -10.0, -21.0, -14.0, -20.0]], dtype=np.float32)]
    normal = _normal([False, False, True, False, False], [True] * 5)
    flood = flood_from_backscatter(before, during, normal, RULE)
    # fell 11.5 dB to -20: flood; fell 2.5 dB: not; permanent lake; fell 2 dB to -14: not; unseen before
    assert flood.tolist() == [[FLOODED, NOT_FLOODED, PERMANENT_WATER, NOT_FLOODED, NOT_SEEN]]
