"""The run report: each water body's change since its previous usable observation."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from pipelines.report import water_body_changes
from sensing.models import SceneResult, WaterBodyArea


def _area(body: str, day: str, km2: float, usable: bool = True) -> WaterBodyArea:
    return WaterBodyArea(body, dt.date.fromisoformat(day), km2, 0.0, 1.0, "ok" if usable else "cloudy",
                         sensor="sentinel-2", usable=usable)  # fmt: skip


def test_changes_compare_the_runs_latest_date_with_the_usable_one_before_it() -> None:
    table = pd.DataFrame([
        {"water_body": a.water_body, "date": a.date.isoformat(), "sensor": a.sensor, "water_km2": a.water_km2,
         "usable": a.usable}
        for a in (_area("lake", "2021-07-01", 200.0), _area("lake", "2021-07-20", 10.0, usable=False),
                  _area("lake", "2021-08-01", 190.0), _area("lake", "2021-08-10", 185.0),
                  _area("pond", "2021-08-10", 3.0), _area("marsh", "2021-07-01", 5.0),
                  _area("marsh", "2021-08-10", 1.0, usable=False))
    ])  # fmt: skip
    run = [
        SceneResult("S2-0801", dt.date(2021, 8, 1), "processed", areas=(_area("lake", "2021-08-01", 190.0),)),
        SceneResult("S2-0810", dt.date(2021, 8, 10), "processed", areas=(
            _area("lake", "2021-08-10", 185.0), _area("pond", "2021-08-10", 3.0),
            _area("marsh", "2021-08-10", 1.0, usable=False))),
    ]  # fmt: skip
    (lake,) = water_body_changes(run, table)  # pond: nothing before; marsh: its new date is not usable
    assert (lake["date"], lake["previous_date"]) == ("2021-08-10", "2021-08-01")
    assert lake["change_km2"] == -5.0 and lake["change_pct"] == -2.63
