"""The water-area time series table (Parquet plus a CSV copy), upserted idempotently."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from sensing.models import WaterBodyArea
from sensing.publish.storage import atomic_path

__all__ = ["KEY", "read_water_areas", "upsert_water_areas"]

KEY = ["water_body", "date", "sensor"]
COLUMNS = [f.name for f in dataclasses.fields(WaterBodyArea)]
DEFAULTS = {
    f.name: f.default for f in dataclasses.fields(WaterBodyArea) if f.default is not dataclasses.MISSING
}


def read_water_areas(path: Path) -> pd.DataFrame:
    """The table, or an empty frame with its columns."""
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    table = pd.read_parquet(path)
    for column in set(COLUMNS) - set(table.columns):  # written before the column existed
        table[column] = DEFAULTS[column]
    return table[COLUMNS]


def upsert_water_areas(
    path: Path, rows: Iterable[WaterBodyArea], placeholders: Iterable[WaterBodyArea] = ()
) -> bool:
    """Insert or replace ``rows`` by (water_body, date, sensor), and insert ``placeholders`` (e.g. rows
    of failed scenes) only where their key has no row yet; write nothing when the table would not
    change.

    Returns True if the table was rewritten. The Parquet file and its CSV copy (UTF-8 with a byte-order
    mark, so that spreadsheet programs show Cyrillic and Kazakh names) are replaced atomically.
    """
    old = read_water_areas(path)
    new = _frame(rows)
    taken = pd.concat([old[KEY], new[KEY]]).astype(str).set_index(KEY).index
    extra = _frame(placeholders)
    new = pd.concat([new, extra[~extra[KEY].astype(str).set_index(KEY).index.isin(taken)]], ignore_index=True)
    if new.empty:
        return False
    merged = pd.concat(
        [old[~old.set_index(KEY).index.isin(new.set_index(KEY).index)], new], ignore_index=True
    )
    merged = merged.sort_values(KEY, kind="stable").reset_index(drop=True)[COLUMNS]
    if len(old) == len(merged) and old.reset_index(drop=True).astype(str).equals(merged.astype(str)):
        return False
    with atomic_path(path) as tmp:
        merged.to_parquet(tmp, index=False)
    with atomic_path(path.with_suffix(".csv")) as tmp:
        merged.to_csv(tmp, index=False, encoding="utf-8-sig")
    return True


def _frame(rows: Iterable[WaterBodyArea]) -> pd.DataFrame:
    frame = pd.DataFrame([dataclasses.asdict(r) for r in rows], columns=COLUMNS)
    frame["date"] = frame["date"].astype(str)
    return frame
