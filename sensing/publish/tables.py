"""Tables (Parquet plus a CSV copy) upserted idempotently: the water-area time series, and alerts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from sensing.models import WaterBodyArea
from sensing.publish.storage import atomic_path

__all__ = ["KEY", "area_frame", "read_water_areas", "upsert_frame", "upsert_water_areas", "write_frame"]

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
    change. Returns True if the table was rewritten.
    """
    old = read_water_areas(path)
    new = area_frame(rows)
    taken = pd.concat([old[KEY], new[KEY]]).astype(str).set_index(KEY).index
    extra = area_frame(placeholders)
    new = pd.concat([new, extra[~extra[KEY].astype(str).set_index(KEY).index.isin(taken)]], ignore_index=True)
    return upsert_frame(path, old, new, KEY)


def upsert_frame(path: Path, old: pd.DataFrame, new: pd.DataFrame, key: list[str]) -> bool:
    """Write ``old`` with ``new`` inserted or replacing rows by ``key``, sorted by ``key``; nothing when
    unchanged. The Parquet file and its CSV copy (UTF-8 with a byte-order mark, so that spreadsheet
    programs show Cyrillic and Kazakh names) are replaced atomically. Returns True if written."""
    if new.empty:
        return False
    kept = old[~old.set_index(key).index.isin(new.set_index(key).index)] if not old.empty else old
    merged = pd.concat([kept, new], ignore_index=True) if not kept.empty else new.copy()
    merged = merged.sort_values(key, kind="stable").reset_index(drop=True)[list(new.columns)]
    if len(old) == len(merged) and old.reset_index(drop=True).astype(str).equals(merged.astype(str)):
        return False
    write_frame(path, merged)
    return True


def write_frame(path: Path, frame: pd.DataFrame) -> None:
    """Replace the Parquet table ``path`` and its CSV copy (UTF-8 with a byte-order mark) atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    with atomic_path(path.with_suffix(".csv")) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8-sig")


def area_frame(rows: Iterable[WaterBodyArea]) -> pd.DataFrame:
    """Rows of the water-area table (its columns, dates as text)."""
    frame = pd.DataFrame([dataclasses.asdict(r) for r in rows], columns=COLUMNS)
    frame["date"] = frame["date"].astype(str)
    return frame
