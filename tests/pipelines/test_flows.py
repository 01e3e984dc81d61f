"""Prefect flows: a broken scene is recorded and the run goes on; reprocessing versions its layers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from sensing.config import load_settings
from sensing.errors import ConfigError
from sensing.publish.layout import OutputLayout
from sensing.publish.tables import read_water_areas

pytestmark = pytest.mark.slow


def test_a_corrupt_scene_fails_with_its_reason_and_the_others_are_published(
    demo_copy: Path, prefect_api: None
) -> None:
    from pipelines.flows import reprocess

    config = demo_copy / "config.yaml"
    settings = load_settings(config)
    broken = next(settings.source.catalog.parent.rglob("S2B_43TGJ_20210907_0_L2A/B03.tif"))
    broken.write_bytes(broken.read_bytes()[:5000])  # a truncated download
    summary = reprocess(
        aoi="kapchagay-dam", start=dt.date(2021, 8, 1), end=dt.date(2021, 10, 13), config=str(config)
    )
    assert summary["scenes"] == {"processed": 2, "skipped": 0, "failed": 1}
    failure = summary["failed"][0]
    assert failure["scene"] == "S2B_43TGJ_20210907_0_L2A"
    assert "B03.tif" in failure["reason"]
    layout = OutputLayout(settings.output_dir)
    assert layout.item("water", "kapchagay-dam", dt.date(2021, 8, 1)).exists()
    assert not layout.item("water", "kapchagay-dam", dt.date(2021, 9, 7)).exists()
    index = json.loads(layout.layer_index.read_text())["layers"]
    assert {e["date"] for e in index if e["product"] == "water"} == {"2021-08-01", "2021-10-13"}
    reports = list(layout.runs.glob("*.json"))
    assert len(reports) == 1 and json.loads(reports[0].read_text())["failed"][0]["scene"] == failure["scene"]
    table = read_water_areas(layout.water_areas).set_index(["water_body", "date"])
    failed = table.loc[("kapchagay", "2021-09-07")]
    assert failed.quality == "failed" and "B03.tif" in failed.reason and not failed.usable
    assert failed.sensor == "sentinel-2" and np.isnan(failed.water_km2)
    # A rerun that fails again never replaces a measured row with a failure.
    measured = table.loc[("kapchagay", "2021-08-01")]
    broken_too = next(settings.source.catalog.parent.rglob("S2A_43TGJ_20210801_0_L2A/B03.tif"))
    broken_too.write_bytes(broken_too.read_bytes()[:5000])
    again = reprocess(aoi="kapchagay-dam", start=dt.date(2021, 8, 1), end=dt.date(2021, 8, 1),
                      config=str(config), force=True)  # fmt: skip
    assert again["scenes"]["failed"] == 1
    kept = (
        read_water_areas(layout.water_areas)
        .set_index(["water_body", "date"])
        .loc[("kapchagay", "2021-08-01")]
    )
    assert kept.quality == "ok" and kept.water_km2 == measured.water_km2


def test_reprocess_with_a_new_configuration_writes_a_new_version(demo_copy: Path, prefect_api: None) -> None:
    from pipelines.flows import reprocess

    config = demo_copy / "config.yaml"
    day = dt.date(2021, 8, 1)
    first = reprocess(aoi="kapchagay-dam", start=day, end=day, products=["water"], config=str(config))
    assert first["scenes"]["processed"] == 1
    settings = load_settings(config)
    layout = OutputLayout(settings.output_dir)
    old_cog = layout.layer("water", "kapchagay-dam", day, settings.version_key())
    doc = yaml.safe_load(config.read_text())
    doc["water"]["fixed_threshold"] = 0.05
    config.write_text(yaml.safe_dump(doc))
    changed = load_settings(config)
    assert changed.version_key() != settings.version_key()
    again = reprocess(aoi="kapchagay-dam", start=day, end=day, products=["water"], config=str(config))
    assert again["scenes"]["processed"] == 1
    new_cog = layout.layer("water", "kapchagay-dam", day, changed.version_key())
    assert old_cog.exists() and new_cog.exists()
    item = json.loads(layout.item("water", "kapchagay-dam", day).read_text())
    assert item["properties"]["sensing:version"] == changed.version_key()
    assert (
        layout.item("water", "kapchagay-dam", day).parent / item["assets"]["data"]["href"]
    ).resolve() == new_cog


def test_yearly_summaries_can_be_turned_off(demo_copy: Path, prefect_api: None) -> None:
    """``publish.summaries: false``: the scene's products only (no counts, occurrence or change).
    Regression: ``sensing reprocess`` then failed printing its table (no gap-filled area to format)."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    config = demo_copy / "config.yaml"
    doc = yaml.safe_load(config.read_text())
    doc["publish"] = {"summaries": False}
    config.write_text(yaml.safe_dump(doc))
    day = dt.date(2021, 8, 1)
    result = CliRunner().invoke(app, ["reprocess", "--config", str(config), "--aoi", "kapchagay-dam",
                                      "--start", str(day), "--end", str(day), "--products", "water"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 processed" in result.output and "Water area per water body" in result.output
    layout = OutputLayout(load_settings(config).output_dir)
    assert layout.item("water", "kapchagay-dam", day).exists()
    assert not layout.summary_counts("water", "kapchagay-dam", 2021).exists()
    assert not layout.item("occurrence", "kapchagay-dam", dt.date(2021, 1, 1)).exists()


def test_reprocess_publishes_the_period_as_a_flood_event(demo_copy: Path, prefect_api: None) -> None:
    from pipelines.flows import reprocess

    config = demo_copy / "config.yaml"
    start, end = dt.date(2022, 4, 1), dt.date(2022, 6, 30)
    summary = reprocess(
        aoi="kapchagay-dam", start=start, end=end, products=["water"], config=str(config), flood="classes"
    )
    rows = {row["zone"]: row for row in summary["flood"]}
    assert set(rows) == {"aoi total", "outside outlines", "kapchagay", "pond-north"}
    # a first run has no history: new water is reported without a reference, never as flood
    assert rows["aoi total"]["flooded_km2"] == 0 and rows["aoi total"]["seen_fraction"] > 0.5
    item = (
        load_settings(config).output_dir / "stac" / "flood" / "2022" / "flood-kapchagay-dam-2022-04-01.json"
    )
    assert json.loads(item.read_text())["properties"]["sensing:event"] == "2022-04-01_2022-06-30"
    with pytest.raises(ConfigError, match="unknown method 'tides'"):
        reprocess(aoi="kapchagay-dam", start=start, end=end, config=str(config), flood="tides")
