"""Monthly NDVI anomaly and VCI through a reprocess run: three years of a demo archive (June and
December each year); with a baseline of two years, June and December 2022 get an anomaly against
2020-2021, equal to NumPy on the published monthly medians."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rio_cogeo.cogeo import cog_validate
from scipy import stats
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


@pytest.fixture(scope="module")
def three_years(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return published_demo(
        tmp_path_factory.mktemp("years"),
        {"start": "2020-06-10", "years": 3, "dates_per_year": 2},
        ["--start", "2020-01-01", "--end", "2022-12-31", "--products", "water,ndvi,evi"],
        land={"baseline_min_years": 2},
    )


def test_anomaly_and_vci_compare_a_month_with_the_same_month_of_the_baseline_years(three_years: Path) -> None:
    settings = load_settings(three_years)
    layout = OutputLayout(settings.output_dir)
    items = read_items(layout, "ndvi-anomaly")
    assert [i["properties"]["datetime"][:7] for i in items] == ["2022-06", "2022-12"]
    assert all(i["properties"]["sensing:baseline_years"] == [2020, 2021] for i in items)
    evi = read_items(layout, "evi-anomaly")  # EVI, a configured product here, gets its anomaly too
    assert [i["properties"]["datetime"][:7] for i in evi] == ["2022-06", "2022-12"]
    assert len(read_items(layout, "vci")) == 2  # VCI is NDVI's only
    for item in items + read_items(layout, "vci"):
        validate_stac(item, item["id"])

    layers = {product: {lay.date: lay for year in class_layers(layout, product, settings.aoi.id).values()
                        for lay in year} for product in ("ndvi-median", "ndvi-anomaly", "vci")}  # fmt: skip
    june = {y: decoded(layout.root / layers["ndvi-median"][dt.date(y, 6, 1)].cog) for y in (2020, 2021, 2022)}
    base = np.stack([june[2020], june[2021]])
    with np.errstate(all="ignore"):
        z = (june[2022] - base.mean(axis=0)) / base.std(axis=0, ddof=1)
        vci = 100 * (june[2022] - base.min(axis=0)) / (base.max(axis=0) - base.min(axis=0))
    z = np.where(base.std(axis=0, ddof=1) > 0, z, np.nan)
    anomaly_cog = layout.root / layers["ndvi-anomaly"][dt.date(2022, 6, 1)].cog
    assert cog_validate(str(anomaly_cog), strict=True, quiet=True)[0]
    got = decoded(anomaly_cog)
    finite = np.isfinite(z) & (np.abs(z) < 30)  # z beyond int16 thousandths saturates
    assert finite.mean() > 0.5
    np.testing.assert_allclose(got[finite], z[finite], rtol=1e-3, atol=2e-3)  # float32 arithmetic
    with rasterio.open(layout.root / layers["vci"][dt.date(2022, 6, 1)].cog) as ds:
        stored = ds.read(1)
    known = np.isfinite(vci)
    assert (np.abs(stored[known].astype(float) - np.clip(np.round(vci[known]), 0, 100)) <= 1).all()
    assert (stored[~known] == 255).all()

    client = TestClient(create_app(settings.output_dir))
    entry = next(e for e in client.get("/layers").json()["layers"] if e["product"] == "ndvi-anomaly")
    assert client.get(entry["legend"]).json()["range"] == [-3.0, 3.0]
    assert centre_tile(client, entry).status_code == 200


def test_the_ndvi_trend_is_the_theil_sen_slope_of_the_yearly_season_medians(three_years: Path) -> None:
    runner = CliRunner()
    args = [
        "land",
        "trend",
        "--first-year",
        "2020",
        "--last-year",
        "2022",
        "--months",
        "6-6",
        "--config",
        str(three_years),
    ]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    settings = load_settings(three_years)
    layout = OutputLayout(settings.output_dir)
    (item,) = read_items(layout, "ndvi-trend")
    assert item["properties"]["sensing:years"] == [2020, 2021, 2022]
    validate_stac(item, item["id"])
    medians = {lay.date.year: decoded(layout.root / lay.cog) for year in class_layers(layout, "ndvi-median", settings.aoi.id).values()
               for lay in year if lay.date.month == 6}  # fmt: skip
    slope = decoded(layout.root / class_layers(layout, "ndvi-trend", settings.aoi.id)[2020][0].cog)
    with rasterio.open(
        layout.root / class_layers(layout, "ndvi-trend-class", settings.aoi.id)[2020][0].cog
    ) as ds:
        classes = ds.read(1)
    series = np.stack([medians[y] for y in (2020, 2021, 2022)])
    # each year's value stands at mid-season (15 June) in decimal years (2020 is a leap year)
    when = [
        y + (dt.date(y, 6, 15) - dt.date(y, 1, 1)).days / (366 if y % 4 == 0 else 365)
        for y in (2020, 2021, 2022)
    ]
    rng = np.random.default_rng(0)
    complete = np.flatnonzero(np.isfinite(series).all(axis=0).ravel())
    for flat in rng.choice(complete, 20, replace=False):
        r, c = np.unravel_index(flat, slope.shape)
        expected = stats.theilslopes(series[:, r, c], when).slope
        assert slope[r, c] == pytest.approx(expected, abs=1.01e-4)
    # three years can never be significant at 5 % (Mann-Kendall z at most 1.04): class 0 where a slope exists
    assert set(np.unique(classes[np.isfinite(slope)])) == {0} and (classes[np.isnan(slope)] == 255).all()
    too_few = runner.invoke(app, [*args[:3], "2021", *args[4:]])
    assert too_few.exit_code == 2 and "at least 3 years" in too_few.output
