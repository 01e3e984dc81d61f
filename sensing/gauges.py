"""Gauge readings beside the satellite series: analysts import a water body's level readings (a CSV
from a hydrological post), and each observation of the series carries the reading of its date (or
the nearest one within a day) for comparison with the level derived from its area."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from sensing.errors import ConfigError
from sensing.publish.tables import upsert_frame

__all__ = ["GAUGE_KEY", "apply_gauges", "import_gauges", "read_gauges"]

GAUGE_KEY = ["water_body", "date", "source"]
COLUMNS = [*GAUGE_KEY, "level_m", "imported_at"]
TOLERANCE = pd.Timedelta(days=1)


def read_gauges(path: Path) -> pd.DataFrame:
    """Every gauge reading imported so far."""
    return pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=COLUMNS)


def import_gauges(
    table: Path, readings: Path, water_body: str, *, date_column: str = "date", level_column: str = "level_m",
    source: str = "",
) -> int:  # fmt: skip
    """Upsert the readings of a CSV (``date_column`` as YYYY-MM-DD, ``level_column`` in metres) for
    ``water_body``; returns how many readings it holds. Errors name the file and column."""
    try:
        frame = pd.read_csv(readings)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"gauges: cannot read {readings}: {exc}") from exc
    for column in (date_column, level_column):
        if column not in frame.columns:
            raise ConfigError(f"gauges: {readings} has no column {column!r}; columns: {list(frame.columns)}")
    if "water_body" in frame.columns:  # a file of several water bodies: take this one's rows
        frame = frame[frame["water_body"] == water_body]
    dates = pd.to_datetime(frame[date_column], errors="coerce", format="ISO8601")
    levels = pd.to_numeric(frame[level_column], errors="coerce")
    bad = frame.index[dates.isna() | levels.isna()]
    if len(bad):
        raise ConfigError(
            f"gauges: {readings}: unreadable date or level on data row(s) {[int(i) + 1 for i in bad[:5]]}"
        )
    new = pd.DataFrame(
        {
            "water_body": water_body,
            "date": dates.dt.date.astype(str),
            "source": source or readings.name,
            "level_m": levels.astype(float),
            "imported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
    upsert_frame(table, read_gauges(table), new.drop_duplicates(GAUGE_KEY, keep="last"), GAUGE_KEY)
    return len(new)


def apply_gauges(series: pd.DataFrame, gauges: pd.DataFrame) -> pd.DataFrame:
    """``series`` with ``gauge_level_m``: the reading of the same date, else the nearest within a day."""
    series = series.copy()
    series["gauge_level_m"] = float("nan")
    if gauges.empty or series.empty:
        return series
    left = series[["water_body", "date"]].assign(when=pd.to_datetime(series.date)).reset_index()
    readings = gauges.assign(when=pd.to_datetime(gauges.date))
    right = readings.groupby(["water_body", "when"])["level_m"].mean().reset_index()
    matched = pd.merge_asof(
        left.sort_values("when"), right.sort_values("when"), on="when", by="water_body",
        direction="nearest", tolerance=TOLERANCE,
    )  # fmt: skip
    series.loc[matched["index"], "gauge_level_m"] = matched["level_m"].to_numpy()
    return series
