"""Schedules of the nightly groups and the backfill's month partitions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from pipelines.backfill import month_partitions
from sensing.config import load_settings
from sensing.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _settings(tmp_path: Path, **changes: object):  # type: ignore[no-untyped-def]
    doc = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text()) | changes
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_settings(path)


def test_default_groups_split_water_and_land_products_at_night_in_almaty(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    groups = settings.schedule_groups()
    assert settings.schedule.timezone == "Asia/Almaty"
    assert groups["water"].products == ("water", "ndwi", "mndwi") and groups["water"].cron == "30 1 * * *"
    assert groups["land"].products == ("ndvi",)
    only_water = _settings(tmp_path, products=["water"]).schedule_groups()
    assert list(only_water) == ["water"] and only_water["water"].products == ("water",)


@pytest.mark.parametrize(
    ("group", "message"),
    [
        ({"products": ["water"], "cron": "30 1 * *"}, "five cron fields"),
        ({"products": ["water"]}, "exactly one of cron and interval_s"),
        (
            {"products": ["water"], "cron": "0 1 * * *", "interval_s": 60},
            "exactly one of cron and interval_s",
        ),
        ({"products": ["vv"], "cron": "0 1 * * *"}, r"schedule.groups.water.products: \['vv'\]"),
    ],
)
def test_bad_groups_are_rejected_naming_the_field(
    tmp_path: Path, group: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _settings(tmp_path, schedule={"groups": {"water": group}})


def test_an_unknown_time_zone_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"schedule\.timezone.*Asia/Almatty"):
        _settings(tmp_path, schedule={"timezone": "Asia/Almatty"})


def test_a_period_is_cut_at_calendar_months() -> None:
    parts = month_partitions(dt.date(2021, 1, 15), dt.date(2021, 3, 3))
    assert parts == [
        (dt.date(2021, 1, 15), dt.date(2021, 1, 31)),
        (dt.date(2021, 2, 1), dt.date(2021, 2, 28)),
        (dt.date(2021, 3, 1), dt.date(2021, 3, 3)),
    ]
    assert month_partitions(dt.date(2020, 12, 31), dt.date(2020, 12, 31)) == [(dt.date(2020, 12, 31),) * 2]
    with pytest.raises(ConfigError, match="after end"):
        month_partitions(dt.date(2021, 2, 1), dt.date(2021, 1, 1))


def test_the_land_season_deployment_runs_monthly_in_almaty_and_its_settings_are_checked(
    tmp_path: Path,
) -> None:
    from pipelines.deployments import _specs

    config = tmp_path / "c.yaml"
    settings = _settings(tmp_path)
    specs = {name: kw for _, name, kw in _specs(config, settings)}
    (schedule,) = specs["land-season"]["schedules"]
    assert (schedule.cron, schedule.timezone) == ("0 5 1 * *", "Asia/Almaty")
    assert specs["land-season"]["parameters"] == {"config": str(config.resolve())}
    radar = _settings(
        tmp_path, products=["water-sar"],
        source={"kind": "static-stac", "catalog": "x.json", "collection": "s1", "bands": {"vv": "VV", "vh": "VH"}},
    )  # fmt: skip
    assert "land-season" not in {name for _, name, _ in _specs(config, radar)}
    with pytest.raises(ConfigError, match=r"land\.seasonal_cron"):
        _settings(tmp_path, land={"seasonal_cron": "0 5 1 *"})
    with pytest.raises(ConfigError, match=r"land\.snow_season.*'11-31'"):
        _settings(tmp_path, land={"snow_season": ["11-31", "03-31"]})
