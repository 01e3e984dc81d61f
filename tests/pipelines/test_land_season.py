"""A demo growing season through the flows: the reprocess run publishes monthly NDVI composites (COG,
STAC, tiles), and ``sensing parcels`` labels the simulated fields (sown or fallow, known from the
simulator) from the published NDVI and water class layers, rolls them up per region, and refuses bad
inputs naming the file and column."""

from __future__ import annotations

import datetime as dt
import io
import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from fastapi.testclient import TestClient
from PIL import Image
from rasterio.features import rasterize
from rio_cogeo.cogeo import cog_validate
from shapely.geometry import box
from typer.testing import CliRunner

from pipelines.cli import app
from sensing.config import load_settings
from sensing.publish.layout import OutputLayout
from sensing.publish.stac import read_items
from sensing.publish.stac_validation import validate_stac
from sensing.serve.app import create_app
from sensing.summaries import class_layers
from tests.land import decoded, published_demo
from tests.tiles import centre_tile

SEASON = ["--start", "2022-04-01", "--end", "2022-10-31"]


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo archive of March 2022 - February 2023 (16 dates, the winter's frozen, a steppe fire on
    5 July) with its water, NDVI and NBR layers published."""
    demo = {"start": "2022-03-05", "years": 1, "dates_per_year": 16}
    period = ["--start", "2022-03-01", "--end", "2023-02-28", "--products", "water,ndvi,nbr"]
    return published_demo(tmp_path_factory.mktemp("season"), demo, period)


def test_the_season_run_publishes_monthly_ndvi_composites_of_the_clear_observations(season: Path) -> None:
    settings = load_settings(season)
    layout = OutputLayout(settings.output_dir)
    items = {i["properties"]["datetime"][:7]: i for i in read_items(layout, "ndvi-median")}
    assert sorted(items) == [*(f"2022-{m:02d}" for m in range(3, 13)), "2023-01", "2023-02"]
    september = items["2022-09"]["properties"]  # a cloudy date (80 %) and a clear one
    assert september["sensing:dates"] == ["2022-09-04", "2022-09-26"]
    assert (september["start_datetime"], september["end_datetime"]) == (
        "2022-09-01T00:00:00Z",
        "2022-09-30T23:59:59Z",
    )
    for item in items.values():
        validate_stac(item, item["id"])

    layers = {product: {lay.date: lay for lay in class_layers(layout, product, settings.aoi.id)[2022]}
              for product in ("ndvi", "water", "ndvi-median", "ndvi-max", "clear-count")}  # fmt: skip
    days = [dt.date(2022, 9, 4), dt.date(2022, 9, 26)]
    ndvi = np.stack([decoded(layout.root / layers["ndvi"][d].cog) for d in days])
    classes = []
    for day in days:
        with rasterio.open(layout.root / layers["water"][day].cog) as ds:
            classes.append(ds.read(1))
    clear = np.isin(np.stack(classes), [0, 1])
    kept = np.where(clear, ndvi, np.nan)
    month = dt.date(2022, 9, 1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = {"ndvi-median": np.nanmedian(kept, axis=0), "ndvi-max": np.nanmax(kept, axis=0)}
    for product, values in expected.items():
        cog = layout.root / layers[product][month].cog
        assert cog_validate(str(cog), strict=True, quiet=True)[0]
        np.testing.assert_allclose(decoded(cog), values, atol=1.01e-4, equal_nan=True)
    with rasterio.open(layout.root / layers["clear-count"][month].cog) as ds:
        assert (ds.read(1) == clear.sum(axis=0)).all()
    assert 0.1 < 1 - clear[0].mean() < 0.95 and clear[1].mean() > 0.9  # the mask is exercised

    client = TestClient(create_app(settings.output_dir))
    entry = next(e for e in client.get("/layers").json()["layers"] if e["product"] == "ndvi-median")
    legend = client.get(entry["legend"]).json()
    assert legend["range"] == [-1.0, 1.0] and legend["colors"][-1][:3] == [0, 104, 55]  # RdYlGn: green high
    response = centre_tile(client, entry)
    assert response.status_code == 200 and Image.open(io.BytesIO(response.content)).size == (256, 256)


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
    far = tmp_path / "far.geojson"
    gpd.GeoDataFrame({"parcel_id": [1]}, geometry=[box(10.0, 50.0, 10.01, 50.01)], crs="EPSG:4326").to_file(
        far
    )
    elsewhere = runner.invoke(app, [*base, "--parcels", str(far)])
    assert elsewhere.exit_code == 2 and "none of the 1 parcels overlaps" in elsewhere.output
    winter = runner.invoke(app, ["parcels", "--parcels", str(fields), "--start", "2021-01-01", "--end", "2021-02-01",
                                 "--out", str(tmp_path / "w"), "--config", str(season)])  # fmt: skip
    assert winter.exit_code == 2 and "no published ndvi and water layers" in winter.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "w").exists()


def test_snow_days_of_a_winter_hold_each_clear_observation_to_the_midpoints(season: Path) -> None:
    done = CliRunner().invoke(
        app, ["land", "snow", "--start", "2022-11-01", "--end", "2023-02-28", "--config", str(season)]
    )
    assert done.exit_code == 0, done.output
    settings = load_settings(season)
    layout = OutputLayout(settings.output_dir)
    (item,) = read_items(layout, "snow-days")
    assert item["properties"]["sensing:dates"] == [
        "2022-11-11",
        "2022-12-04",
        "2022-12-27",
        "2023-01-19",
        "2023-02-10",
    ]
    validate_stac(item, item["id"])
    cog = layout.root / class_layers(layout, "snow-days", settings.aoi.id)[2022][0].cog
    assert cog_validate(str(cog), strict=True, quiet=True)[0]
    with rasterio.open(cog) as ds:
        days = ds.read(1)
    # snow from 4 December on, bare on 11 November: snow from the midpoint (22 Nov 12:00) to 1 March
    # = 98.5 days; land the simulator leaves bare in winter: 0
    seen = days[days != 65535]
    assert np.isin(seen, [98, 99]).mean() > 0.5 and (seen == 0).any()
    assert set(np.unique(seen)) <= set(range(0, 121))
    refused = CliRunner().invoke(
        app, ["land", "snow", "--start", "2023-03-01", "--end", "2022-11-01", "--config", str(season)]
    )
    assert refused.exit_code == 2 and "--start 2023-03-01 is not before --end 2022-11-01" in refused.output


def test_the_steppe_fire_is_mapped_by_dnbr_and_only_the_harvest_looks_alike(season: Path) -> None:
    fire = [
        "land",
        "burn",
        "--name",
        "steppe-fire",
        "--pre",
        "2022-06-01:2022-07-04",
        "--post",
        "2022-07-06:2022-08-31",
    ]
    done = CliRunner().invoke(app, [*fire, "--config", str(season)])
    assert done.exit_code == 0, done.output
    settings = load_settings(season)
    layout = OutputLayout(settings.output_dir)
    (item,) = read_items(layout, "burn-severity")
    assert item["properties"]["sensing:pre_dates"] == ["2022-06-04", "2022-06-27"]
    assert item["properties"]["sensing:post_dates"] == ["2022-07-20", "2022-08-12"]
    validate_stac(item, item["id"])
    severity = layout.root / class_layers(layout, "burn-severity", settings.aoi.id)[2022][0].cog
    assert cog_validate(str(severity), strict=True, quiet=True)[0]
    truth = season.parent / "data" / "demo-archive" / "truth"
    with rasterio.open(severity) as ds:
        classes = ds.read(1)
        scar = rasterize(
            gpd.read_file(truth / "burn_scar.geojson").geometry, classes.shape, transform=ds.transform
        )
        fields = rasterize(
            gpd.read_file(truth / "parcels.gpkg").geometry, classes.shape, transform=ds.transform
        )
    burned = (classes >= 1) & (classes <= 4)
    assert burned[scar == 1].mean() > 0.98  # the scar: dNBR about 0.3, moderate-low
    elsewhere = (scar == 0) & (fields == 0) & (classes != 255)
    assert burned[elsewhere].mean() < 0.03  # steppe drying out and water-level changes stay unburned
    assert burned[fields == 1].mean() < 0.3  # harvests do look burned: a documented confounder
    table = pd.read_parquet(settings.output_dir / "tables" / "burns.parquet").set_index("severity")
    pixel_km2 = 30 * 30 / 1e6
    assert table.loc[["low", "moderate-low", "moderate-high", "high"], "area_km2"].sum() == pytest.approx(
        burned.sum() * pixel_km2, abs=1e-3
    )
    scar_km2 = gpd.read_file(truth / "burn_scar.geojson").area.iloc[0] / 1e6
    assert (burned & (scar == 1)).sum() * pixel_km2 == pytest.approx(scar_km2, rel=0.05)
    wrong = CliRunner().invoke(app, [*fire[:-4], "--pre", "2022-07-01:2022-07-10", "--post", "2022-07-06:2022-08-31",
                                     "--config", str(season)])  # fmt: skip
    assert wrong.exit_code == 2 and "--pre window must end before the --post window" in wrong.output
    steppe = CliRunner().invoke(app, [*fire, "--breaks", "0.3,0.2,0.5,0.6", "--config", str(season)])
    assert steppe.exit_code == 2 and "strictly increasing" in steppe.output


def test_the_land_season_flow_publishes_the_last_winter_once_and_says_why_a_trend_waits(
    season: Path, prefect_api: None
) -> None:
    from pipelines.land_flows import land_season

    result = land_season(config=str(season), today=dt.date(2023, 4, 15))
    assert result["snow-days"] == ["snow-days-kapchagay-dam-2022-11-01"]
    assert result["ndvi-percentiles"] == [f"ndvi-p{p}-kapchagay-dam-2022-05-01" for p in (10, 50, 90)]
    assert result["ndvi-trend"].startswith("skipped: growing seasons with NDVI medians: [2022]")
    settings = load_settings(season)
    layout = OutputLayout(settings.output_dir)
    item = next(i for i in read_items(layout, "snow-days") if i["id"] == "snow-days-kapchagay-dam-2022-11-01")
    assert item["properties"]["end_datetime"] == "2023-03-31T23:59:59Z"
    cog = layout.root / next(
        lay.cog
        for lay in class_layers(layout, "snow-days", settings.aoi.id)[2022]
        if lay.date == dt.date(2022, 11, 1)
    )
    written = cog.stat().st_mtime_ns

    assert result["parcel-labels"] == ["parcel-labels-kapchagay-dam-2022-04-01"]  # land.parcels: the demo's
    labels = next(i for i in read_items(layout, "parcel-labels"))
    version = layout.layer(
        "parcel-labels", settings.aoi.id, dt.date(2022, 4, 1), labels["properties"]["sensing:version"]
    )
    table = pd.read_parquet(version.parent / "parcel_seasons.parquet")
    truth = gpd.read_file(season.parent / "data" / "demo-archive" / "truth" / "parcels.gpkg").set_index(
        "parcel_id"
    )
    assert (truth["truth"] == table["label"].reindex(truth.index)).mean() >= 0.95
    assert labels["properties"]["sensing:labels"] == table["label"].value_counts().to_dict()
    with rasterio.open(version) as ds:  # each field's centre carries its label's class
        inside = truth.to_crs(ds.crs).geometry.representative_point()
        values = np.array([v[0] for v in ds.sample(zip(inside.x, inside.y, strict=True))])
        assert ds.tags(1).get("STATISTICS_MAXIMUM") is not None and ds.colormap(1)[1][:3] == (230, 171, 2)
    codes = (
        table["label"]
        .reindex(truth.index)
        .map({"cultivated": 1, "grassland": 2, "not_used": 3, "uncertain": 4})
    )
    assert (values == codes.to_numpy()).mean() >= 0.99
    client = TestClient(create_app(settings.output_dir))
    entry = next(e for e in client.get("/layers").json()["layers"] if e["product"] == "parcel-labels")
    legend = client.get(entry["legend"]).json()
    assert [entry["label"] for entry in legend["classes"]][:3] == [
        "not a parcel",
        "cultivated",
        "grassland / pasture",
    ]
    labels_written = version.stat().st_mtime_ns

    again = land_season(config=str(season), today=dt.date(2023, 5, 1))
    assert again["snow-days"] == result["snow-days"] and cog.stat().st_mtime_ns == written  # inputs unchanged
    assert again["parcel-labels"] == result["parcel-labels"] and version.stat().st_mtime_ns == labels_written


def test_season_percentiles_are_numpys_over_the_clear_observations(season: Path) -> None:
    done = CliRunner().invoke(
        app, ["land", "percentiles", "--start", "2022-05-01", "--end", "2022-09-30", "--config", str(season)]
    )
    assert done.exit_code == 0, done.output
    settings = load_settings(season)
    layout = OutputLayout(settings.output_dir)
    layers = {
        p: {lay.date: lay for lay in class_layers(layout, p, settings.aoi.id)[2022]}
        for p in ("ndvi", "water")
    }
    days = sorted(d for d in layers["ndvi"] if dt.date(2022, 5, 1) <= d <= dt.date(2022, 9, 30))
    assert len(days) == 7
    ndvi = np.stack([decoded(layout.root / layers["ndvi"][d].cog) for d in days])
    classes = []
    for day in days:
        with rasterio.open(layout.root / layers["water"][day].cog) as ds:
            classes.append(ds.read(1))
    kept = np.where(np.isin(np.stack(classes), [0, 1]), ndvi, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanpercentile(kept, [10, 90], axis=0)
    for p, values in zip((10, 90), expected, strict=True):
        (layer,) = class_layers(layout, f"ndvi-p{p}", settings.aoi.id)[2022]
        np.testing.assert_allclose(decoded(layout.root / layer.cog), values, atol=1.01e-4, equal_nan=True)
