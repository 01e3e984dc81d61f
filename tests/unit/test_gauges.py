"""Gauge readings: import with named errors; each observation gets its date's reading or the nearest within a day."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from sensing.errors import ConfigError
from sensing.gauges import apply_gauges, import_gauges, read_gauges


def test_readings_attach_to_the_same_or_nearest_day(tmp_path: Path) -> None:
    readings = tmp_path / "kapchagay_post.csv"
    readings.write_text(
        "Дата,Уровень\n2022-05-01,483.12\n2022-05-20,483.40\n2022-06-01,483.55\n", encoding="utf-8"
    )
    table = tmp_path / "gauges.parquet"
    assert import_gauges(table, readings, "kapchagay", date_column="Дата", level_column="Уровень") == 3
    series = pd.DataFrame(
        {
            "water_body": ["kapchagay"] * 3 + ["pond"],
            "date": ["2022-05-02", "2022-05-20", "2022-05-25", "2022-05-20"],
        }
    )
    levels = apply_gauges(series, read_gauges(table)).gauge_level_m.tolist()
    assert levels[:2] == [483.12, 483.40] and math.isnan(levels[2]) and math.isnan(levels[3])
    assert set(read_gauges(table).source) == {"kapchagay_post.csv"}


def test_bad_gauge_files_name_the_file_and_column(tmp_path: Path) -> None:
    readings = tmp_path / "post.csv"
    readings.write_text("date,level\n2022-05-01,483.1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"post.csv has no column 'level_m'"):
        import_gauges(tmp_path / "g.parquet", readings, "kapchagay")
    readings.write_text("date,level_m\n2022-05-01,483.1\nyesterday,483.2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unreadable date or level on data row\(s\) \[2\]"):
        import_gauges(tmp_path / "g.parquet", readings, "kapchagay")
