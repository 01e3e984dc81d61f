"""Exclusions flag the series' rows: by water body or all, by sensor or all; withdrawal restores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from sensing.exclusions import apply_exclusions, excluded_dates, record_exclusion

DAY = dt.date(2022, 5, 2)


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "water_body": ["lake", "lake", "pond", "lake"],
            "date": [DAY.isoformat(), DAY.isoformat(), DAY.isoformat(), "2022-05-20"],
            "sensor": ["sentinel-2", "sentinel-1", "sentinel-2", "sentinel-2"],
            "quality": ["ok", "ok", "cloudy", "ok"],
            "usable": [True, True, False, True],
        }
    )


def test_exclusions_by_body_and_sensor_and_their_withdrawal(tmp_path: Path) -> None:
    path = tmp_path / "exclusions.parquet"
    record_exclusion(path, "lake", DAY, "sentinel-2", "smoke plume", "k.analyst")
    flagged = apply_exclusions(_table(), pd.read_parquet(path))
    assert list(flagged.excluded) == [True, False, False, False]
    assert list(flagged.usable) == [False, True, False, True]
    assert flagged.exclusion[0].startswith("excluded by k.analyst at ") and flagged.exclusion[0].endswith(
        "smoke plume"
    )

    exclusions = record_exclusion(path, "all", DAY, "all", "wrong orbit file", "k.analyst")
    assert list(apply_exclusions(_table(), exclusions).excluded) == [True, True, True, False]
    assert excluded_dates(exclusions, radar=True) == excluded_dates(exclusions, radar=False) == {DAY}

    record_exclusion(path, "all", DAY, "all", "orbit fine after all", "k.analyst", active=False)
    exclusions = record_exclusion(
        path, "lake", DAY, "sentinel-2", "plume was cloud shadow", "k.analyst", active=False
    )
    restored = apply_exclusions(_table(), exclusions)
    assert not restored.excluded.any() and list(restored.usable) == [
        True,
        True,
        False,
        True,
    ]  # cloudy stays unusable
    assert len(exclusions) == 2 and not exclusions.active.any()


def test_an_exclusion_needs_a_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reason"):
        record_exclusion(tmp_path / "x.parquet", "lake", DAY, "all", "  ", "k.analyst")


def test_radar_rows_near_a_frozen_optical_look_are_not_used() -> None:
    from sensing.crosscheck import flag_radar_ice

    table = pd.DataFrame(
        {
            "water_body": ["lake", "lake", "lake", "pond"],
            "date": ["2022-01-31", "2022-02-03", "2022-03-20", "2022-02-03"],
            "sensor": ["sentinel-2", "sentinel-1", "sentinel-1", "sentinel-1"],
            "quality": ["frozen", "ok", "ok", "ok"],
            "usable": [False, True, True, True],
        }
    )
    flagged = flag_radar_ice(table)
    assert list(flagged.ice_from) == [
        "",
        "sentinel-2 2022-01-31",
        "",
        "",
    ]  # three days: ice; seven weeks: not
    assert list(flagged.usable) == [False, False, True, True]  # another water body's ice says nothing
    table.loc[0, ["quality", "usable"]] = ["ok", True]  # the optical look reprocessed as open water:
    assert flag_radar_ice(table).usable.all()  # the radar row is used again


def test_radar_rows_in_a_month_the_lake_is_frozen_most_years_are_not_used() -> None:
    """A cloudy January with only radar: two earlier Januaries seen frozen from orbit say ice."""
    from sensing.crosscheck import flag_radar_ice

    table = pd.DataFrame(
        {
            "water_body": ["lake", "lake", "lake", "lake", "lake", "lake", "pond"],
            "date": ["2020-01-12", "2021-01-20", "2021-01-28", "2023-01-15", "2023-07-15", "2023-12-10",
                     "2023-01-15"],
            "sensor": ["sentinel-2", "sentinel-2", "landsat-8", "sentinel-1", "sentinel-1", "sentinel-1",
                       "sentinel-1"],
            "quality": ["frozen", "frozen", "ok", "ok", "ok", "ok", "ok"],
            "usable": [False, False, True, True, True, True, True],
        }
    )  # fmt: skip
    flagged = flag_radar_ice(table)
    assert flagged.ice_from[3] == "frozen in Jan (2 of 3 optical looks, 2020, 2021)"
    assert list(flagged.usable) == [False, False, True, False, True, True, True]
    one_year = table.drop(index=0)  # frozen in one January only: not yet a frozen month
    assert flag_radar_ice(one_year).usable[3]
