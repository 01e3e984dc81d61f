"""``sensing parcels`` end to end on a demo growing season: the simulated fields (sown or fallow, known
from the simulator) are labelled from the published NDVI and water class layers, rolled up per region,
and bad inputs are refused with the file and column named."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from shapely.geometry import box
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import write_test_config

SEASON = ["--start", "2022-04-01", "--end", "2022-10-31"]


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo archive of 2022 (16 dates) with the water and NDVI layers of April-October published."""
    folder = tmp_path_factory.mktemp("season")
    config = write_test_config(folder)
    doc = yaml.safe_load(config.read_text())
    doc["demo"].update({"start": "2022-03-05", "years": 1, "dates_per_year": 16})
    config.write_text(yaml.safe_dump(doc))
    runner = CliRunner()
    for args in (
        ["demo-data"],
        ["reprocess", "--aoi", "kapchagay-dam", *SEASON, "--products", "water,ndvi"],
    ):
        done = runner.invoke(app, [*args, "--config", str(config)])
        assert done.exit_code == 0, done.output
    return config


def test_demo_fields_are_labelled_as_the_simulator_sowed_them_and_rolled_up_per_region(
    season: Path, tmp_path: Path
) -> None:
    fields = season.parent / "data" / "demo-archive" / "truth" / "parcels.gpkg"
    truth = gpd.read_file(fields).set_index("parcel_id")
    xmin, ymin, xmax, ymax = truth.total_bounds
    middle = (xmin + xmax) / 2
    regions = gpd.GeoDataFrame(
        {"district": ["west", "east"]},
        geometry=[box(xmin - 1, ymin - 1, middle, ymax + 1), box(middle, ymin - 1, xmax + 1, ymax + 1)],
        crs=truth.crs,
    ).to_crs("EPSG:4326")
    regions.to_file(tmp_path / "districts.geojson")
    out = tmp_path / "season"
    done = CliRunner().invoke(app, [
        "parcels", "--parcels", str(fields), *SEASON, "--out", str(out), "--regions",
        str(tmp_path / "districts.geojson"), "--region-name", "district", "--config", str(season),
    ])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "parcels/s" in done.output

    labelled = pd.read_parquet(out / "parcel_seasons.parquet")
    both = truth.join(labelled)
    assert len(labelled) == len(truth) > 500
    agreement = (both["truth"] == both["label"]).mean()
    assert agreement >= 0.95, pd.crosstab(both["truth"], both["label"])
    sown = both[both["truth"] == "cultivated"]
    # the simulator's crop calendars peak between day 170 and 240: green-up before, harvest after
    assert sown["max_ndvi"].median() > 0.5 and (sown["n_clear"] >= 4).all()
    assert (
        sown["green_up_date"].dropna()
        < sown["max_ndvi_date"].dropna().reindex(sown["green_up_date"].dropna().index)
    ).all()
    assert sown["green_up_date"].notna().mean() > 0.9 and sown["harvest_date"].notna().mean() > 0.9

    observations = pd.read_parquet(out / "parcel_observations.parquet")
    assert set(observations.columns) >= {"parcel_id", "date", "ndvi_mean", "ndvi_median", "ndvi_p10", "ndvi_p90",
                                         "clear_fraction"}  # fmt: skip
    assert observations["clear_fraction"].between(0, 1).all() and observations["clear_fraction"].lt(1).any()

    layer = gpd.read_file(out / "parcels.gpkg", layer="parcels")
    assert len(layer) == len(truth) and set(layer["label"]) == {"cultivated", "not_used"}
    assert layer["evidence"].str.len().min() > 10

    rollup = pd.read_csv(out / "regions.csv")
    assert set(rollup["region"]) == {"west", "east"}
    assert rollup["parcels"].sum() == len(truth)
    for _, part in rollup.groupby("region"):
        assert part["area_share"].sum() == pytest.approx(1.0)
    sown_area_ha = rollup.loc[rollup["label"] == "cultivated", "area_ha"].sum()
    assert sown_area_ha == pytest.approx(
        (both["label"] == "cultivated").sum() * 24.0, rel=1e-3
    )  # 600 x 400 m


def test_bad_parcel_inputs_are_refused_naming_the_file_and_column(season: Path, tmp_path: Path) -> None:
    fields = season.parent / "data" / "demo-archive" / "truth" / "parcels.gpkg"
    runner = CliRunner()
    base = ["parcels", *SEASON, "--out", str(tmp_path / "out"), "--config", str(season)]
    no_column = runner.invoke(app, [*base, "--parcels", str(fields), "--id-column", "field_no"])
    assert no_column.exit_code == 2 and "field_no" in no_column.output and "parcels.gpkg" in no_column.output
    points = tmp_path / "points.geojson"
    points.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"parcel_id": 1}, "geometry": {"type": "Point", "coordinates": [77.3, 43.8]}}
    ]}))  # fmt: skip
    not_polygons = runner.invoke(app, [*base, "--parcels", str(points)])
    assert not_polygons.exit_code == 2 and "needs polygons" in not_polygons.output
    winter = runner.invoke(app, ["parcels", "--parcels", str(fields), "--start", "2021-01-01", "--end", "2021-02-01",
                                 "--out", str(tmp_path / "w"), "--config", str(season)])  # fmt: skip
    assert winter.exit_code == 2 and "no published ndvi and water layers" in winter.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "w").exists()
