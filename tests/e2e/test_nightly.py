"""The nightly flow end to end on the simulated archive: areas, COGs, STAC, tiles, idempotent reruns."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import morecantile
import numpy as np
import pandas as pd
import pytest
import rasterio
from fastapi.testclient import TestClient
from PIL import Image
from pyproj import Transformer
from rio_cogeo.cogeo import cog_validate
from stac_validator.validate import StacValidate
from typer.testing import CliRunner

from pipelines.cli import app
from sensing.config import Settings
from sensing.products import CHANGE_CLASSES, WATER_CLASSES
from sensing.publish.stac_validation import schema_files, validate_stac
from sensing.serve.app import create_app
from tests.conftest import write_test_config
from tests.tiles import centre_tile

pytestmark = pytest.mark.slow


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "runs" not in p.relative_to(root).parts and p.name != ".publish.lock"
    }


def test_every_scene_processed_and_reported(nightly_run: tuple[Settings, dict]) -> None:
    from prefect.artifacts import Artifact

    _, summary = nightly_run
    assert summary["scenes"] == {"processed": 10, "skipped": 0, "failed": 0}
    report = Artifact.get("nightly-run-report")
    assert report is not None and report.type == "markdown"
    assert "10 processed" in str(report.data) and "kapchagay" in str(report.data)


def test_areas_match_ground_truth_on_clear_dates(nightly_run: tuple[Settings, dict]) -> None:
    settings, _ = nightly_run
    assert settings.demo is not None
    truth = pd.read_csv(settings.demo.archive / "truth" / "areas.csv", dtype={"date": str})
    table = pd.read_parquet(settings.output_dir / "tables" / "water_areas.parquet")
    merged = table.merge(truth, on=["water_body", "date"], validate="one_to_one", suffixes=("", "_true"))
    assert len(merged) == 20
    clear = merged[(merged.cloud_fraction_true == 0) & (merged.nodata_fraction == 0) & ~merged.frozen]
    assert len(clear) >= 8
    assert (clear.quality == "ok").all() and clear.usable.all()
    assert clear.nominal_fraction.between(0.1, 1).all() and (clear.cloud_fraction == 0).all()
    error = (clear.water_km2 - clear.true_water_km2).abs() / clear.true_water_km2
    assert error.max() < 0.05, clear.assign(error=error)[
        ["water_body", "date", "water_km2", "true_water_km2", "error"]
    ]


def test_clouded_and_frozen_dates_are_flagged(nightly_run: tuple[Settings, dict]) -> None:
    settings, _ = nightly_run
    assert settings.demo is not None
    truth = pd.read_csv(settings.demo.archive / "truth" / "areas.csv", dtype={"date": str})
    table = pd.read_parquet(settings.output_dir / "tables" / "water_areas.parquet")
    merged = table.merge(truth, on=["water_body", "date"], suffixes=("", "_true"))
    clouded = merged[merged.cloud_fraction_true > 0.10]
    assert len(clouded) >= 2 and (clouded.quality == "cloudy").all() and not clouded.usable.any()
    assert (clouded.cloud_fraction - clouded.cloud_fraction_true).abs().max() < 0.05
    # A clouded date is flagged, never used as a value while short of its true area.
    assert not (merged.usable & (merged.water_km2 < 0.95 * merged.true_water_km2)).any()
    frozen = merged[merged.frozen]
    assert len(frozen) == 4 and (frozen.quality == "frozen").all() and not frozen.usable.any()
    assert (frozen.ice_km2 >= 0.95 * frozen.true_ice_km2).all()


def test_every_output_is_a_valid_cog(nightly_run: tuple[Settings, dict]) -> None:
    settings, _ = nightly_run
    cogs = sorted((settings.output_dir / "layers").rglob("*.tif"))
    # 10 dates x 4 products, occurrence, water-months and max-extent for 2021 and 2022, change,
    # 10 months x 3 NDVI composites (one date a month)
    assert len(cogs) == 77
    for path in cogs:
        valid, errors, warnings = cog_validate(str(path), strict=True, quiet=True)
        assert valid, (path, errors, warnings)
        with rasterio.open(path) as ds:
            assert ds.overviews(1), path
            if path.name == "water.tif":
                assert ds.dtypes[0] == "uint8" and ds.nodata == 255
                assert ds.colormap(1)[1][:3] == WATER_CLASSES[1][1][:3]
            elif path.name == "water-change.tif":
                assert ds.dtypes[0] == "uint8" and ds.nodata == 255
                assert ds.colormap(1)[1][:3] == CHANGE_CLASSES[1][1][:3]
            elif path.name == "clear-count.tif":
                assert ds.dtypes[0] == "uint8" and ds.read(1).max() <= 1  # one date a month
            elif path.name in ("occurrence.tif", "water-months.tif", "max-extent.tif"):
                assert ds.dtypes[0] == "uint8" and ds.nodata == 255
                top = {"occurrence.tif": 100, "water-months.tif": 12, "max-extent.tif": 1}[path.name]
                assert ds.read(1, masked=True).max() <= top
            else:
                assert ds.dtypes[0] == "int16" and ds.nodata == -32768
                assert ds.scales[0] == pytest.approx(1e-4)
                values = ds.read(1, out_shape=(100, 100), masked=True)
                assert values.min() >= -10000 and values.max() <= 10000


def test_stac_catalog_validates_offline(nightly_run: tuple[Settings, dict]) -> None:
    settings, _ = nightly_run
    docs = sorted((settings.output_dir / "stac").rglob("*.json"))
    kinds = {}
    for path in docs:
        doc = json.loads(path.read_text())
        validate_stac(doc, str(path))
        kinds[doc["type"]] = kinds.get(doc["type"], 0) + 1
        if doc["type"] == "Feature":
            asset = path.parent / doc["assets"]["data"]["href"]
            assert asset.exists() and asset.stat().st_size == doc["assets"]["data"]["file:size"]
    assert kinds == {"Catalog": 1, "Collection": 11, "Feature": 77}


def _stac_validator(path: Path) -> dict:
    """stac-validator's verdict on one document, every schema read from its local copy."""
    schema_map = {uri: str(file) for uri, file in schema_files().items()}
    validator = StacValidate(str(path), schema_map=schema_map)
    validator.run()
    return validator.message[-1]


def test_stac_validator_passes_every_published_document_offline(
    nightly_run: tuple[Settings, dict], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """stac-validator itself (not only the project's own check), with every download made to fail."""
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    settings, _ = nightly_run
    docs = sorted((settings.output_dir / "stac").rglob("*.json"))
    verdicts = {str(path): _stac_validator(path) for path in docs}
    invalid = {path: v.get("error_message") for path, v in verdicts.items() if not v["valid_stac"]}
    assert not invalid and len(verdicts) == 89
    item = next(path for path in docs if path.parent.name.isdigit())
    broken = json.loads(item.read_text())
    broken["properties"]["proj:code"] = 32643  # must be a string such as "EPSG:32643"
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    verdict = _stac_validator(tmp_path / "broken.json")
    assert not verdict["valid_stac"] and "proj:code" in verdict["error_message"]


def test_yearly_occurrence_agrees_with_the_truth(nightly_run: tuple[Settings, dict]) -> None:
    """2022 holds five dates (two frozen, one cloudy): occurrence is wet / clear observations."""
    settings, _ = nightly_run
    assert settings.demo is not None
    item_path = (
        settings.output_dir / "stac" / "occurrence" / "2022" / "occurrence-kapchagay-dam-2022-01-01.json"
    )
    item = json.loads(item_path.read_text())
    assert (
        item["properties"]["start_datetime"] == "2022-01-01T00:00:00Z"
        and len(item["properties"]["sensing:dates"]) == 5
    )
    with rasterio.open(item_path.parent / item["assets"]["data"]["href"]) as ds:
        occurrence = ds.read(1)
    dates = item["properties"]["sensing:dates"]
    truths, clears = [], []
    for date in dates:
        with rasterio.open(settings.demo.archive / "truth" / f"{date}_water.tif") as ds:
            truths.append(ds.read(1) == 1)
        layer = next((settings.output_dir / "layers" / "water").rglob(f"{date}/*/water.tif"))
        with rasterio.open(layer) as ds:
            clears.append(np.isin(ds.read(1), (0, 1)))
    wet, clear = np.sum([t & c for t, c in zip(truths, clears, strict=True)], axis=0), np.sum(clears, axis=0)
    expected = np.where(clear > 0, np.round(100 * wet / np.maximum(clear, 1)), 255)
    assert np.mean(occurrence == expected) > 0.98  # classification errors only at shorelines
    assert (occurrence == 255).sum() == (clear == 0).sum()
    extent_cog = next(
        (settings.output_dir / "layers" / "max-extent" / settings.aoi.id / "2022").rglob("*.tif")
    )
    with rasterio.open(extent_cog) as ds:
        extent = ds.read(1)
    assert ((extent == 1) == (occurrence > 0) & (occurrence != 255)).all()  # seen wet at least once
    layers = json.loads((settings.output_dir / "layers.json").read_text())["layers"]
    assert {(e["product"], e["date"]) for e in layers} >= {
        ("occurrence", "2022-01-01"),
        ("water-months", "2021-01-01"),
    }


def test_rerun_changes_no_published_product(nightly_run: tuple[Settings, dict]) -> None:
    from pipelines.flows import nightly

    settings, _ = nightly_run
    before = _snapshot(settings.output_dir)
    summary = nightly(config=str(settings.data_dir.parent / "config.yaml"))
    assert summary["scenes"] == {"processed": 0, "skipped": 10, "failed": 0}
    assert _snapshot(settings.output_dir) == before


def _water_pixel_lonlat(settings: Settings, date: str) -> tuple[float, float]:
    """Lon/lat of a pixel deep inside open water on ``date`` (5x5 water neighbourhood)."""
    assert settings.demo is not None
    with rasterio.open(settings.demo.archive / "truth" / f"{date}_water.tif") as ds:
        truth = ds.read(1)
        transform, crs = ds.transform, ds.crs
    water = truth == 1
    core = np.ones_like(water)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            core &= np.roll(np.roll(water, dy, 0), dx, 1)
    rows, cols = np.nonzero(core)
    row, col = rows[len(rows) // 2], cols[len(cols) // 2]
    x, y = transform * (col + 0.5, row + 0.5)
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)


def test_tile_of_a_water_pixel_decodes_to_the_water_colour(nightly_run: tuple[Settings, dict]) -> None:
    settings, _ = nightly_run
    client = TestClient(create_app(settings.output_dir))
    assert client.get("/healthz").json()["status"] == "ok"
    layers = client.get("/layers").json()["layers"]
    assert len(layers) == 77  # 40 scene layers, 6 yearly summaries, 1 change, 30 monthly composites
    entry = next(e for e in layers if e["product"] == "water" and e["date"] == "2021-08-01")
    tilejson = client.get(entry["tilejson"]).json()
    assert tilejson["bounds"][0] < 77.2 < tilejson["bounds"][2]
    lon, lat = _water_pixel_lonlat(settings, "2021-08-01")
    tms = morecantile.tms.get("WebMercatorQuad")
    tile = tms.tile(lon, lat, 12)
    url = tilejson["tiles"][0].format(z=tile.z, x=tile.x, y=tile.y)
    response = client.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))
    bounds = tms.xy_bounds(tile)
    mx, my = tms.xy(lon, lat)
    px = int((mx - bounds.left) / (bounds.right - bounds.left) * image.shape[1])
    py = int((bounds.top - my) / (bounds.top - bounds.bottom) * image.shape[0])
    assert tuple(image[py, px]) == WATER_CLASSES[1][1]


def test_index_tiles_and_legends(nightly_run: tuple[Settings, dict]) -> None:
    settings, _ = nightly_run
    client = TestClient(create_app(settings.output_dir))
    entry = next(e for e in client.get("/layers").json()["layers"] if e["product"] == "ndwi")
    response = centre_tile(client, entry)
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (256, 256)
    assert client.get(entry["legend"]).json()["range"] == [-1.0, 1.0]
    water = next(e for e in client.get("/layers").json()["layers"] if e["product"] == "water")
    labels = [c["label"] for c in client.get(water["legend"]).json()["classes"]]
    assert "water" in labels and "snow / ice" in labels
    assert client.get("/layers/water-nowhere/2021-08-01/WebMercatorQuad/tilejson.json").status_code == 404
    assert (
        client.get(f"/layers/{entry['id']}/{entry['date']}/tiles/WebMercatorQuad/3/0/0.png").status_code
        == 404
    )


def test_viewer_is_served_without_external_resources(nightly_run: tuple[Settings, dict]) -> None:
    settings, _ = nightly_run
    client = TestClient(create_app(settings.output_dir))
    page = client.get("/")
    assert page.status_code == 200 and "leaflet.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    for asset in ("/static/vendor/leaflet/leaflet.js", "/static/viewer.js", "/static/viewer.css"):
        assert client.get(asset).status_code == 200


def test_water_polygons_shorelines_and_the_registry_are_published(nightly_run: tuple[Settings, dict]) -> None:
    import geopandas as gpd
    import pyogrio

    settings, _ = nightly_run
    tables = settings.output_dir / "tables"
    assert (tables / "water_bodies.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads the Cyrillic
    bodies = pd.read_csv(tables / "water_bodies.csv", encoding="utf-8-sig").set_index("id")
    assert bodies.loc["kapchagay", "name_ru"] == "Капшагайское водохранилище, западная часть"
    assert bodies.loc["pond-north", "type"] == "pond" and bodies.loc["kapchagay", "nominal_km2"] > 100
    outlines = settings.output_dir / "vectors" / "water_bodies.gpkg"
    assert [layer for layer, _ in pyogrio.list_layers(outlines)] == ["water_bodies"]

    areas = pd.read_parquet(tables / "water_areas.parquet")
    ok = areas[areas.usable]
    assert len(ok) >= 8
    for row in ok.itertuples():
        item = json.loads(
            (
                settings.output_dir
                / "stac"
                / "water"
                / row.date[:4]
                / f"water-{settings.aoi.id}-{row.date}.json"
            ).read_text()
        )
        assets = item["assets"]
        assert {
            "vectors",
            "vectors-geojson",
            "vectors-parquet",
            "shoreline-geojson",
            "shoreline-parquet",
        } <= set(assets)
        item_dir = settings.output_dir / "stac" / "water" / row.date[:4]
        gpkg = (item_dir / assets["vectors"]["href"]).resolve()
        assert assets["vectors"]["type"] == "application/geopackage+sqlite3"
        assert sorted(layer for layer, _ in pyogrio.list_layers(gpkg)) == ["shoreline", "water"]
        polygons = gpd.read_file(gpkg, layer="water").set_index("water_body")
        # the polygons measure what the table measured (simplified by one pixel: within 2 %)
        assert polygons.loc[row.water_body, "water_km2"] == pytest.approx(row.water_km2, rel=0.02)
        shore = gpd.read_file((item_dir / assets["shoreline-geojson"]["href"]).resolve())
        assert shore.crs.to_epsg() == 4326 and shore.geom_type.isin(["LineString", "MultiLineString"]).all()
        lon_min, lat_min, lon_max, lat_max = shore.total_bounds
        assert 76 < lon_min < lon_max < 79 and 43 < lat_min < lat_max < 45


def test_outlines_derived_from_occurrence_cover_the_water_seen(
    nightly_run: tuple[Settings, dict], tmp_path: Path
) -> None:
    import geopandas as gpd
    from typer.testing import CliRunner

    from pipelines.cli import app
    from sensing.registry import load_water_bodies
    from sensing.waterbodies import read_water_bodies, to_crs

    settings, _ = nightly_run
    out = tmp_path / "derived.gpkg"
    result = CliRunner().invoke(
        app,
        [
            "waterbodies",
            "derive",
            "--config",
            str(settings.data_dir.parent / "config.yaml"),
            "--years",
            "2021,2022",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    derived = read_water_bodies(out)  # usable as `water_bodies` as it is
    assert [b.id for b in derived][:2] == ["wb-0001", "wb-0002"]
    nominal = {b.id: to_crs(b.geometry, settings.aoi.crs) for b in load_water_bodies(settings.water_bodies)}
    frame = gpd.read_file(out).to_crs(settings.aoi.crs)
    areas = pd.read_parquet(settings.output_dir / "tables" / "water_areas.parquet")
    for body_id, geometry in nominal.items():
        seen = areas[(areas.water_body == body_id) & areas.usable].water_km2
        inside = frame.intersection(geometry).area.sum() / 1e6
        # every pixel ever seen wet lies in the derived outlines, and nothing outside the nominal one counts
        assert seen.max() * 0.97 <= inside <= geometry.area / 1e6, body_id
    assert frame.area_km2.is_monotonic_decreasing and (frame.max_frequency > 0.10).all()


def test_gap_filled_areas_bound_the_truth_on_partly_seen_dates(nightly_run: tuple[Settings, dict]) -> None:
    settings, _ = nightly_run
    assert settings.demo is not None
    truth = pd.read_csv(settings.demo.archive / "truth" / "areas.csv", dtype={"date": str})
    table = pd.read_parquet(settings.output_dir / "tables" / "water_areas.parquet")
    merged = table.merge(truth, on=["water_body", "date"], suffixes=("", "_true"))
    seen = merged[(merged.valid_fraction == 1) & (merged.quality != "frozen")]
    assert (seen.filled_km2 == seen.water_km2).all()
    assert merged[merged.quality == "frozen"].filled_km2.isna().all()  # ice is not filled as water
    partly = merged[(merged.valid_fraction < 0.99) & (merged.valid_fraction > 0.3) & ~merged.frozen]
    assert len(partly) >= 4, merged[["water_body", "date", "valid_fraction", "quality"]]
    report = partly[["water_body", "date", "valid_fraction", "water_km2", "filled_km2", "filled_low_km2",
                     "filled_high_km2", "fill_level", "true_water_km2"]]  # fmt: skip
    # filling the hidden pixels brings the area closer to the truth than the seen part alone
    assert (
        (partly.filled_km2 - partly.true_water_km2).abs() < (partly.water_km2 - partly.true_water_km2).abs()
    ).all(), report
    assert ((partly.filled_km2 - partly.true_water_km2).abs() / partly.true_water_km2 < 0.10).all(), report
    assert (partly.filled_low_km2 <= partly.filled_km2).all() and (
        partly.filled_km2 <= partly.filled_high_km2
    ).all()
    assert (partly.filled_low_km2 <= partly.true_water_km2 * 1.02).all(), report
    assert (partly.true_water_km2 <= partly.filled_high_km2 * 1.02).all(), report
    hidden = merged[(merged.valid_fraction < 0.01) & ~merged.frozen]  # the pond under cloud: bounds only
    assert len(hidden) == 2 and (hidden.filled_low_km2 <= hidden.true_water_km2).all()
    assert (hidden.true_water_km2 <= hidden.filled_high_km2 * 1.02).all()


def test_levels_from_the_curve_agree_with_the_imported_gauge(nightly_run: tuple[Settings, dict]) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    settings, _ = nightly_run
    assert settings.demo is not None
    truth = settings.demo.archive / "truth" / "areas.csv"
    result = CliRunner().invoke(
        app,
        ["gauges", "import", str(truth), "--water-body", "kapchagay", "--level-column", "true_level_m",
         "--source", "Kapchagay dam post", "--config", str(settings.data_dir.parent / "config.yaml")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(settings.output_dir / "tables" / "water_areas.parquet")
    reservoir = table[(table.water_body == "kapchagay") & (table.quality != "frozen")]
    assert reservoir.gauge_level_m.notna().all() and reservoir.level_m.notna().all()
    error = (reservoir.level_m - reservoir.gauge_level_m).abs()
    assert error.max() < 0.5, reservoir[["date", "water_km2", "filled_km2", "level_m", "gauge_level_m"]]
    assert (
        reservoir.volume_mcm.diff().dropna() * reservoir.level_m.diff().dropna() >= 0
    ).all()  # volume follows level
    assert table[table.water_body == "pond-north"].level_m.isna().all()  # no curve, no level


def test_change_since_the_first_year_is_published_with_areas(nightly_run: tuple[Settings, dict]) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    settings, _ = nightly_run
    out = settings.output_dir
    item = json.loads(
        (
            out / "stac" / "water-change" / "2022" / f"water-change-{settings.aoi.id}-2022-01-01.json"
        ).read_text()
    )
    assert (
        item["properties"]["sensing:period_before"] == "2021"
        and item["properties"]["sensing:period_after"] == "2022"
    )
    validate_stac(item)
    cog = (out / "stac" / "water-change" / "2022" / item["assets"]["data"]["href"]).resolve()
    assert cog_validate(str(cog), strict=True)[0]
    layers = json.loads((out / "layers.json").read_text())["layers"]
    assert any(layer["product"] == "water-change" and layer["legend"] for layer in layers)

    areas = pd.read_parquet(out / "tables" / "water_change.parquet")
    reservoir = areas[areas.water_body == "kapchagay"].set_index("change_class").area_km2
    nominal = (
        pd.read_parquet(out / "tables" / "water_bodies.parquet").set_index("id").nominal_km2["kapchagay"]
    )
    assert reservoir.sum() == pytest.approx(nominal, rel=0.01)  # every pixel of the outline has a class
    assert reservoir["permanent"] > 150
    # the simulated reservoir falls 0.6 m a year and 2022 holds only its winter-spring low: loss > gain
    lost = (
        reservoir.get("lost permanent", 0)
        + reservoir.get("lost seasonal", 0)
        + reservoir.get("permanent to seasonal", 0)
    )
    gained = (
        reservoir.get("new permanent", 0)
        + reservoir.get("new seasonal", 0)
        + reservoir.get("seasonal to permanent", 0)
    )
    assert lost > gained

    result = CliRunner().invoke(
        app,
        [
            "change",
            "--before",
            "2021",
            "--after",
            "2022",
            "--config",
            str(settings.data_dir.parent / "config.yaml"),
        ],
    )
    assert result.exit_code == 0 and "permanent" in result.output, result.output
    result = CliRunner().invoke(
        app,
        [
            "change",
            "--before",
            "2022",
            "--after",
            "2021",
            "--config",
            str(settings.data_dir.parent / "config.yaml"),
        ],
    )
    assert result.exit_code == 2 and "overlap or are reversed" in result.output


def test_flood_event_is_new_water_only_and_published(nightly_run: tuple[Settings, dict]) -> None:
    import geopandas as gpd
    from typer.testing import CliRunner

    from pipelines.cli import app
    from sensing.flood import FloodRule, flood_from_classes, reference
    from sensing.publish.layout import OutputLayout
    from sensing.summaries import wet_clear_totals

    settings, _ = nightly_run
    out = settings.output_dir
    result = CliRunner().invoke(
        app, ["flood", "--start", "2022-03-01", "--end", "2022-06-30", "--name", "spring-2022",
              "--config", str(settings.data_dir.parent / "config.yaml")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = pd.read_parquet(out / "tables" / "floods.parquet").set_index("zone")
    total = rows.loc["aoi total", "flooded_km2"]
    assert total > 1 and total == pytest.approx(rows.drop("aoi total").flooded_km2.sum(), abs=1e-3)
    item = json.loads(
        (out / "stac" / "flood" / "2022" / f"flood-{settings.aoi.id}-2022-03-01.json").read_text()
    )
    validate_stac(item)
    folder = out / "stac" / "flood" / "2022"
    with rasterio.open((folder / item["assets"]["data"]["href"]).resolve()) as ds:
        flood = ds.read(1)
    event = []
    for day in item["properties"]["sensing:dates"]:
        water_item = json.loads(
            (out / "stac" / "water" / day[:4] / f"water-{settings.aoi.id}-{day}.json").read_text()
        )
        with rasterio.open(
            (out / "stac" / "water" / day[:4] / water_item["assets"]["data"]["href"]).resolve()
        ) as ds:
            event.append(ds.read(1))
    assert item["properties"]["sensing:dates"] == ["2022-03-08", "2022-04-14", "2022-05-20", "2022-06-26"]
    # Published window by window; the same rule on whole arrays (all years' counts, the event's
    # dates taken out again) gives the same layer.
    layout = OutputLayout(out)
    wet, clear, _, _ = wet_clear_totals(layout, "water", settings.aoi.id, None)
    stack = np.stack(event)
    whole = flood_from_classes(
        event,
        reference(
            wet - (stack == 1).sum(axis=0, dtype=np.uint16),
            clear - np.isin(stack, (0, 1)).sum(axis=0, dtype=np.uint16),
            FloodRule(),
        ),
    )
    assert flood.shape == (1000, 1000)  # the COG's 512 px blocks: four windows, two of them partial
    np.testing.assert_array_equal(flood, whole)
    assert (
        (np.stack(event)[:, flood == 1] == 1).any(axis=0).all()
    )  # every flooded pixel was water on an event date
    assert settings.demo is not None
    always_wet = np.ones(flood.shape, dtype=bool)
    for truth in sorted((settings.demo.archive / "truth").glob("*_water.tif")):
        with rasterio.open(truth) as ds:
            always_wet &= np.isin(ds.read(1), (1, 2))  # water or ice on every date of the archive
    assert always_wet.sum() > 100_000
    # the reservoir's permanent water is removed: at most specks (looks misclassified dry) are flood
    assert (always_wet & (flood == 1)).sum() < 0.005 * always_wet.sum()
    polygons = gpd.read_file((folder / item["assets"]["polygons"]["href"]).resolve()).to_crs(settings.aoi.crs)
    assert polygons.area.sum() / 1e6 == pytest.approx(total, rel=0.03)
    assert any(
        layer["product"] == "flood" for layer in json.loads((out / "layers.json").read_text())["layers"]
    )


def test_viewer_series_of_a_water_body(nightly_run: tuple[Settings, dict]) -> None:
    settings, _ = nightly_run
    client = TestClient(create_app(settings.output_dir))
    bodies = {b["id"]: b for b in client.get("/water-bodies").json()["water_bodies"]}
    assert bodies["kapchagay"]["name_kk"] == "Қапшағай су қоймасы, батыс бөлігі"
    doc = client.get("/water-bodies/kapchagay/series").json()
    observations = doc["observations"]
    assert len(observations) == 10 and observations[0]["date"] == "2021-08-01"
    clear = observations[0]
    assert clear["usable"] and clear["filled_km2"] == clear["water_km2"] and clear["level_m"] is not None
    assert any(not o["usable"] and o["quality"] == "frozen" for o in observations)
    assert client.get("/water-bodies/nowhere/series").status_code == 404
    assert client.get("/water-bodies/..%2F..%2Fetc/series").status_code == 404  # an id, never a path
    page = client.get("/").text
    assert 'id="series-panel"' in page and "Қазақша" in page
    assert "/water-bodies/" in client.get("/static/viewer.js").text


@pytest.mark.damages_catalog
def test_sensing_verify_passes_on_the_nightly_outputs_and_names_each_kind_of_damage(
    nightly_run: tuple[Settings, dict], tmp_path: Path
) -> None:
    settings, _ = nightly_run
    runner = CliRunner()
    original = write_test_config(tmp_path / "original", data_dir=str(settings.data_dir))
    clean = runner.invoke(app, ["verify", "--json", "--config", str(original)])
    assert clean.exit_code == 0, clean.output
    report = json.loads(clean.output)
    # at least the nightly's 77 COGs and 89 documents (other tests here publish on-demand layers too)
    assert report["findings"] == [] and report["cogs"] >= 77 and report["documents"] >= 89

    copy = write_test_config(tmp_path / "copy")
    outputs = tmp_path / "copy" / "data" / "outputs"
    shutil.copytree(settings.output_dir, outputs)
    cogs = sorted((outputs / "layers" / "ndwi").rglob("*.tif"))
    cogs[0].write_bytes(cogs[0].read_bytes()[:4000])  # truncated: its header still validates, its size not
    with rasterio.open(cogs[3]) as src:  # rewritten as a plain striped GeoTIFF: not a COG
        profile, pixels = src.profile | {"driver": "GTiff", "tiled": False}, src.read()
    profile.pop("blockxsize"), profile.pop("blockysize")
    with rasterio.open(cogs[3], "w", **profile) as dst:
        dst.write(pixels)
    cogs[1].unlink()  # lost
    stray = outputs / "layers" / "ndwi" / "kapchagay-dam" / "2030" / "2030-01-01" / "v9" / "ndwi.tif"
    stray.parent.mkdir(parents=True)
    shutil.copy(cogs[2], stray)
    (cogs[2].parent / ".ndwi.tif.parts").mkdir()
    item = next(p for p in (outputs / "stac" / "mndwi").rglob("*.json") if p.parent.name.isdigit())
    item.write_text(item.read_text().replace('"type": "Feature"', '"type": "Featur"'))
    damaged = runner.invoke(app, ["verify", "--json", "--config", str(copy)])
    assert damaged.exit_code == 1
    found = {(f["kind"], Path(f["path"]).name) for f in json.loads(damaged.output)["findings"]}
    assert {kind for kind, _ in found} == {
        "changed-asset",
        "invalid-cog",
        "missing-asset",
        "orphan",
        "partial",
        "invalid-stac",
    }
    assert ("invalid-stac", item.name) in found and ("partial", ".ndwi.tif.parts") in found
    assert ("invalid-cog", cogs[3].name) in found and ("missing-asset", cogs[1].name) in found
