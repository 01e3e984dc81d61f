"""Analysts' exclusions: an observation (water body, date, sensor) an analyst judged wrong, with the
reason, who and when. ``all`` stands for every water body or every sensor of that date.

Exclusions are a table of their own (``tables/exclusions.parquet`` + CSV), never a deletion: the
series keeps the row with ``excluded`` set and the exclusion's text, and ``usable`` false, so alerts
neither judge it nor use it as baseline. Withdrawing an exclusion keeps its record (``active``
false, with who withdrew it and when). A whole date excluded for every water body also leaves the
yearly occurrence counts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from sensing.publish.tables import upsert_frame

__all__ = [
    "ALL",
    "EXCLUSION_KEY",
    "apply_exclusions",
    "excluded_dates",
    "read_exclusions",
    "record_exclusion",
]

ALL = "all"
EXCLUSION_KEY = ["water_body", "date", "sensor"]
COLUMNS = [*EXCLUSION_KEY, "reason", "by", "recorded_at", "active"]


def read_exclusions(path: Path) -> pd.DataFrame:
    """Every exclusion ever recorded (active or withdrawn)."""
    return pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=COLUMNS)


def record_exclusion(
    path: Path, water_body: str, date: dt.date, sensor: str, reason: str, by: str, *, active: bool = True
) -> pd.DataFrame:
    """Record (or withdraw, ``active=False``) an exclusion; returns the whole table."""
    if not reason.strip():
        raise ValueError("an exclusion needs a reason")
    old = read_exclusions(path)
    row = pd.DataFrame(
        [
            [
                water_body,
                date.isoformat(),
                sensor,
                reason,
                by,
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                active,
            ]
        ],
        columns=COLUMNS,
    )
    upsert_frame(path, old, row, EXCLUSION_KEY)
    return read_exclusions(path)


def _matches(table: pd.DataFrame, water_body: str, date: str, sensor: str) -> pd.Series:
    """Rows of ``table`` an exclusion of (water_body, date, sensor) covers."""
    return (
        ((table.water_body == water_body) | (water_body == ALL))
        & (table.date.astype(str) == date)
        & ((table.sensor == sensor) | (sensor == ALL))
    )


def apply_exclusions(table: pd.DataFrame, exclusions: pd.DataFrame) -> pd.DataFrame:
    """The water-area table with ``excluded``, ``exclusion`` and ``usable`` reflecting the active
    exclusions (a withdrawn one makes its row usable again where its quality is ``ok``)."""
    table = table.copy()
    table["excluded"] = False
    table["exclusion"] = ""
    for ex in exclusions[exclusions.active.astype(bool)].itertuples(index=False):
        hit = _matches(table, str(ex.water_body), str(ex.date), str(ex.sensor))
        table.loc[hit, "excluded"] = True
        table.loc[hit, "exclusion"] = f"excluded by {ex.by} at {ex.recorded_at}: {ex.reason}"
    table["usable"] = (table.quality == "ok") & ~table.excluded
    return table


def excluded_dates(exclusions: pd.DataFrame, radar: bool) -> set[dt.date]:
    """Dates excluded for every water body, for radar (``sentinel-1``) or optical sensors: the dates
    whose class layers leave the occurrence counts."""
    active = exclusions[exclusions.active.astype(bool) & (exclusions.water_body == ALL)]
    sar = active.sensor == "sentinel-1"
    active = active[(active.sensor == ALL) | (sar if radar else ~sar)]
    return {dt.date.fromisoformat(d) for d in active.date}
