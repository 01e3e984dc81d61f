"""Sentinel-2 L2A facts: digital numbers to surface reflectance across processing baselines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

__all__ = ["BASELINE_04_START", "is_sentinel2_l2a", "l2a_offset", "processing_baseline"]

BASELINE_04_START = dt.date(2022, 1, 25)
"""First day of processing baseline 04.00, which adds BOA_ADD_OFFSET = -1000 DN."""
QUANTIFICATION = 10000.0


def is_sentinel2_l2a(properties: Mapping[str, Any], collection: str | None) -> bool:
    """Whether an item is Sentinel-2 L2A (Earth Search, Planetary Computer, CDSE and the demo say so
    differently)."""
    if "s2:processing_baseline" in properties:
        return True
    platform = str(properties.get("platform", "")).lower()
    level = str(
        properties.get("processing:level") or properties.get("s2:product_type") or collection or ""
    ).lower()
    return platform.startswith("sentinel-2") and ("l2a" in level or "msi2a" in level)


def processing_baseline(properties: Mapping[str, Any], date: dt.date) -> str:
    """The item's processing baseline (``s2:processing_baseline``, or CDSE's ``processing:version``);
    from the acquisition date when the item does not say."""
    value = properties.get("s2:processing_baseline") or properties.get("processing:version")
    if value:
        return str(value)
    return "04.00" if date >= BASELINE_04_START else "03.01"


def l2a_offset(properties: Mapping[str, Any], date: dt.date) -> tuple[float, float]:
    """Scale and offset turning L2A DN into reflectance: ``DN * scale + offset``.

    Decided from the processing baseline, never from the item's "offset applied" flags, which some
    archives get wrong.
    """
    baseline = processing_baseline(properties, date)
    major = (
        float(baseline.split(".")[0] + "." + baseline.split(".")[1][:2])
        if "." in baseline
        else float(baseline)
    )
    offset = -1000.0 / QUANTIFICATION if major >= 4.0 else 0.0
    return 1.0 / QUANTIFICATION, offset
