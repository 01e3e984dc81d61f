"""Alerts: an area against the same month of earlier years (percentiles and z-score together)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd

from sensing.alerts import evaluate_alerts
from sensing.config import AlertConfig
from sensing.models import WaterBodyArea


def _row(day: dt.date, km2: float, sensor: str = "sentinel-2", quality: str = "ok") -> WaterBodyArea:
    return WaterBodyArea(
        "lake", day, km2, 0.0, 1.0, quality, sensor=sensor, usable=quality == "ok", scene_id=f"S{day}"
    )


def _table(rows: list[WaterBodyArea]) -> pd.DataFrame:
    frame = pd.DataFrame([dataclasses.asdict(r) for r in rows])
    frame["date"] = frame.date.astype(str)
    return frame


HISTORY = [
    _row(dt.date(y, 8, d), a)
    for y, d, a in [(2018, 3, 100), (2019, 5, 104), (2020, 9, 97), (2021, 2, 101), (2021, 20, 99)]
]


def test_a_low_and_a_high_month_raise_alerts_a_normal_one_does_not() -> None:
    table = _table([*HISTORY, _row(dt.date(2019, 7, 1), 10.0)])  # July is not August's baseline
    low, normal, high = (
        _row(dt.date(2022, 8, 4), 80.0),
        _row(dt.date(2022, 8, 14), 100.0),
        _row(dt.date(2022, 8, 24), 125.0),
    )
    alerts = evaluate_alerts(table, [low, normal, high], AlertConfig())
    assert [(a.date, a.kind) for a in alerts] == [("2022-08-04", "low"), ("2022-08-24", "high")]
    assert alerts[0].baseline_years == 4 and alerts[0].z_score < -1.5 and alerts[0].percent_of_median == 80.0


def test_no_alert_without_enough_history_or_from_unusable_rows() -> None:
    config = AlertConfig()
    assert evaluate_alerts(_table(HISTORY[:2]), [_row(dt.date(2022, 8, 4), 50.0)], config) == []
    assert evaluate_alerts(_table(HISTORY), [_row(dt.date(2022, 8, 4), 50.0, quality="cloudy")], config) == []
    # Another sensor's series is not this one's baseline, and unusable history does not count.
    radar = _row(dt.date(2022, 8, 4), 50.0, sensor="sentinel-1")
    assert evaluate_alerts(_table(HISTORY), [radar], config) == []
    cloudy_history = [dataclasses.replace(r, quality="cloudy", usable=False) for r in HISTORY]
    assert evaluate_alerts(_table(cloudy_history), [_row(dt.date(2022, 8, 4), 50.0)], config) == []
