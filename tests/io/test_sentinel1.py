"""Sentinel-1 backscatter end to end: a static catalog of RTC COGs (Planetary Computer's layout), the
same items through a STAC API (rustac) and through a local Sentinel Hub (S1GRD), and an analyst's dB
GeoTIFF registered with `sensing catalog add`; water from Otsu on speckle-filtered dB against truth."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml
from typer.testing import CliRunner

from pipelines.cli import app
from sensing.compute.encode import INT16_NODATA
from sensing.config import Settings, SourceConfig, load_settings
from sensing.flood import FloodRule, flood_from_backscatter, reference
from sensing.grid import aoi_geobox
from sensing.models import SceneRef
from sensing.products import BACKSCATTER_SCALE, flood_product
from sensing.publish.cog import validate_cog
from sensing.publish.layout import OutputLayout
from sensing.publish.stac_validation import validate_stac
from sensing.registry import load_water_bodies
from sensing.sources import open_source
from sensing.sources.sentinelhub import SentinelHubSource
from sensing.sources.stac import StacApiSource
from sensing.summaries import wet_clear_totals
from sensing.workflow import process_scene, scenes_for_period
from tests.conftest import ROOT, TEST_RESOLUTION, write_test_config
from tests.sentinelhub_server import SentinelHubServer
from tests.servers import file_server, publish_over_http, rustac_api, serve_asgi

BBOX = (76.0, 43.0, 79.0, 45.0)
PERIOD = (dt.date(2021, 1, 1), dt.date(2023, 1, 1))
RADAR = {"kind": "static-stac", "catalog": "demo-archive/catalog.json", "collection": "sentinel-1-rtc-demo",
         "bands": {"vv": "vv", "vh": "vh"}}  # fmt: skip
SUMMER = dt.date(2021, 8, 1)
"""A full-swath, ice-free date of the four-date archive."""


@pytest.fixture(scope="session")
def sar_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A four-date demo archive with a Sentinel-1 RTC pass on each optical date; config uses radar."""
    from sensing.demo.archive import write_archive

    folder = tmp_path_factory.mktemp("sar")
    demo = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())["demo"]
    demo.update(resolution=TEST_RESOLUTION, dates_per_year=4, sentinel1=True)
    settings = load_settings(write_test_config(folder, demo=demo, source=RADAR))
    assert settings.demo is not None
    write_archive(settings.aoi, settings.demo, load_water_bodies(settings.water_bodies, settings.hydrography))
    return folder


@pytest.fixture()
def sar_settings(sar_root: Path, tmp_path: Path) -> Settings:
    """The radar settings writing into a private data folder (the archive stays shared)."""
    settings = load_settings(sar_root / "config.yaml")
    source = settings.source.model_copy(
        update={"catalog": sar_root / "data" / "demo-archive" / "catalog.json"}
    )
    return settings.model_copy(update={"data_dir": tmp_path / "data", "source": source})


def _truth(root: Path, date: dt.date, body: str = "kapchagay") -> float:
    table = pd.read_csv(root / "data" / "demo-archive" / "truth" / "areas.csv")
    return float(
        table[(table.date == date.isoformat()) & (table.water_body == body)].true_open_water_km2.iloc[0]
    )


def _scene(settings: Settings, date: dt.date, source: object | None = None) -> SceneRef:
    source = source or open_source(settings.source, settings.data_dir)
    return next(s for s in scenes_for_period(settings, source, *PERIOD) if s.date == date)  # type: ignore[arg-type]


def test_radar_scenes_give_water_areas_close_to_truth_and_valid_layers(
    sar_root: Path, sar_settings: Settings
) -> None:
    settings = sar_settings
    source = open_source(settings.source, settings.data_dir)
    scenes = scenes_for_period(settings, source, *PERIOD)
    assert [s.platform for s in scenes] == ["SENTINEL-1A", "SENTINEL-1B", "SENTINEL-1A", "SENTINEL-1B"]
    scene = next(s for s in scenes if s.date == SUMMER)
    result = process_scene(
        settings, source, scene, load_water_bodies(settings.water_bodies, settings.hydrography)
    )
    assert result.status == "processed", result.reason
    assert [layer.product for layer in result.layers] == ["water-sar", "vv", "vh"]
    area = next(a for a in result.areas if a.water_body == "kapchagay")
    assert area.sensor == "sentinel-1" and area.method == "otsu" and -24 < area.threshold < -12
    assert area.water_km2 == pytest.approx(_truth(sar_root, SUMMER), rel=0.01)
    pond = next(a for a in result.areas if a.water_body == "pond-north")
    assert pond.water_km2 == pytest.approx(_truth(sar_root, SUMMER, "pond-north"), rel=0.05)

    root = settings.output_dir
    vv_layer = root / next(layer.href for layer in result.layers if layer.product == "vv")
    water_layer = root / next(layer.href for layer in result.layers if layer.product == "water-sar")
    for layer in (vv_layer, water_layer):
        validate_cog(layer)
    with rasterio.open(vv_layer) as vv, rasterio.open(water_layer) as water:
        db = vv.read(1).astype("float64") * vv.scales[0] + vv.offsets[0]
        classes = water.read(1)
        assert vv.descriptions[0] == "VV backscatter (dB)"
    # Speckle-filtered calm water sits near the simulated -21 dB, land well above the threshold.
    assert np.median(db[classes == 1]) == pytest.approx(-21.0, abs=1.5)
    assert np.median(db[classes == 0]) > area.threshold + 3
    item_path = next((root / "stac" / "water-sar").rglob("water-sar-*.json"))
    item = json.loads(item_path.read_text())
    validate_stac(item, str(item_path))
    assert item["properties"]["sensing:sar_units"] == "linear"
    assert item["properties"]["sensing:speckle_filter"] == "lee-5"
    assert item["properties"]["sensing:source_scenes"] == [scene.id]


def test_stac_api_radar_items_load_like_the_static_catalog(
    sar_root: Path, sar_settings: Settings, tmp_path: Path
) -> None:
    archive = sar_root / "data" / "demo-archive"
    geobox = aoi_geobox(sar_settings.aoi)
    with file_server(archive) as base:
        docs = publish_over_http(archive / "catalog.json", base, tmp_path / "api", "sentinel-1-rtc-demo")
        with rustac_api(*docs) as url:
            api = StacApiSource(SourceConfig(kind="stac-api", url=url, collection="sentinel-1-rtc-demo",
                                             bands={"vv": "vv", "vh": "vh"}))  # fmt: skip
            refs = api.search(BBOX, *PERIOD)
            assert [r.date for r in refs] == [s.date for s in scenes_for_period(sar_settings, api, *PERIOD)]
            over_http = api.load(
                next(r for r in refs if r.date == SUMMER), ["vv", "vh"], geobox, 512
            ).compute()
    static = open_source(sar_settings.source, sar_settings.data_dir)
    from_disk = static.load(_scene(sar_settings, SUMMER), ["vv", "vh"], geobox, 512).compute()
    for band in ("vv", "vh"):
        np.testing.assert_array_equal(over_http[band].values, from_disk[band].values)
    vv = from_disk["vv"].values
    assert over_http["vv"].dtype == np.float32 and np.nanmin(vv) > 0 and np.nanmax(vv) < 50  # linear power


@pytest.fixture()
def sentinel_hub_s1(
    sar_root: Path, sar_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SentinelHubServer, Settings]]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain-HTTP OAuth to the loopback server only
    monkeypatch.setenv("SH_CLIENT_ID", "sensing-test-client")
    monkeypatch.setenv("SH_CLIENT_SECRET", "s3cr3t")
    server = SentinelHubServer(
        sar_root / "data" / "demo-archive" / "catalog.json", "sensing-test-client", "s3cr3t"
    )
    with serve_asgi(server.app) as url:
        config = SourceConfig(kind="sentinelhub", url=url, token_url=f"{url}/oauth/token", collection="sentinel-1-grd",
                              bands={"vv": "VV", "vh": "VH"}, max_request_px=600)  # fmt: skip
        yield server, sar_settings.model_copy(update={"source": config})


def test_sentinel_hub_s1grd_orthorectified_backscatter_matches_the_archive(
    sentinel_hub_s1: tuple[SentinelHubServer, Settings], sar_settings: Settings
) -> None:
    server, settings = sentinel_hub_s1
    hub = SentinelHubSource(settings.source, settings.data_dir / "cache" / "sentinelhub")
    scenes = scenes_for_period(settings, hub, *PERIOD)
    assert len(scenes) == 4 and all(s.platform == "sentinel-1" for s in scenes)
    scene = next(s for s in scenes if s.date == SUMMER)
    geobox = aoi_geobox(settings.aoi)
    via_hub = hub.load(scene, ["vv", "vh"], geobox, 512).compute()
    assert server.process_calls == 4  # 1000 px a side in requests of at most 600
    request = server.requests[0]
    assert request["input"]["data"][0]["type"] == "sentinel-1-grd"
    assert request["input"]["data"][0]["processing"] == {
        "backCoeff": "GAMMA0_TERRAIN", "orthorectify": True, "demInstance": "COPERNICUS_30",
    }  # fmt: skip
    assert 'sampleType: "FLOAT32"' in request["evalscript"] and '"LINEAR_POWER"' in request["evalscript"]
    static = open_source(sar_settings.source, sar_settings.data_dir)
    from_disk = static.load(_scene(sar_settings, SUMMER), ["vv", "vh"], geobox, 512).compute()
    for band in ("vv", "vh"):
        np.testing.assert_allclose(via_hub[band].values, from_disk[band].values, rtol=1e-6)

    result = process_scene(
        settings, hub, scene, load_water_bodies(settings.water_bodies, settings.hydrography)
    )
    assert result.status == "processed", result.reason
    assert server.process_calls == 4  # processing reads the cached tiles


def _db_geotiff(sar_root: Path, folder: Path) -> Path:
    """The summer pass as an analyst's two-band VV/VH file in dB (as SNAP writes it), nodata -9999."""
    item_dir = next((sar_root / "data" / "demo-archive" / "sentinel-1-rtc-demo").glob("*20210801*"))
    db_file = folder / "S1A_20210801_sigma0_db.tif"
    with rasterio.open(item_dir / "vv.tif") as vv, rasterio.open(item_dir / "vh.tif") as vh:
        profile = {**vv.profile, "count": 2, "nodata": -9999.0, "driver": "GTiff"}
        with rasterio.open(db_file, "w", **profile) as out:
            for n, src in enumerate((vv, vh), start=1):
                linear = src.read(1)
                out.write(np.where(linear > 0, 10 * np.log10(np.where(linear > 0, linear, 1)), -9999.0), n)
    return db_file


def test_an_analysts_db_geotiff_is_recognised_and_classified(
    sar_root: Path, tmp_path: Path, demo_root: Path, prefect_api: None
) -> None:
    """A two-band VV/VH file in dB (as SNAP writes it) registered with `catalog add`, then reprocessed."""
    from pipelines.flows import reprocess

    db_file = _db_geotiff(sar_root, tmp_path)
    catalog = tmp_path / "catalog"
    added = CliRunner().invoke(app, ["catalog", "add", str(db_file), "--catalog", str(catalog), "--band-map", "vv=1,vh=2",
                                     "--datetime", "2021-08-01T00:53:00", "--platform", "sentinel-1a"])  # fmt: skip
    assert added.exit_code == 0, added.output
    summary = reprocess(aoi="kapchagay-dam", start=SUMMER, end=SUMMER, config=str(demo_root / "config.yaml"),
                        source=str(catalog))  # fmt: skip
    assert summary["scenes"] == {"processed": 1, "skipped": 0, "failed": 0}
    (area,) = [a for a in summary["areas"] if a["water_body"] == "kapchagay"]
    assert area["sensor"] == "sentinel-1"
    assert area["water_km2"] == pytest.approx(_truth(sar_root, SUMMER), rel=0.01)
    item = next((demo_root / "data" / "outputs" / "stac" / "water-sar").rglob("*2021-08-01.json"))
    assert json.loads(item.read_text())["properties"]["sensing:sar_units"] == "db"


def test_a_radar_source_cannot_publish_optical_products(tmp_path: Path) -> None:
    from sensing.errors import ConfigError

    path = write_test_config(tmp_path, source=RADAR, products=["water", "ndwi"])
    with pytest.raises(ConfigError, match=r"products: \['water', 'ndwi'\] cannot be made from a sar source"):
        load_settings(path)
    mixed = {**RADAR, "bands": {"vv": "vv", "green": "B03"}}
    with pytest.raises(ConfigError, match="cannot be mixed with optical bands"):
        load_settings(write_test_config(tmp_path, source=mixed))


def test_the_quick_look_classifies_a_radar_file(sar_root: Path, tmp_path: Path) -> None:
    db_file = _db_geotiff(sar_root, tmp_path)
    out = tmp_path / "water.tif"
    result = CliRunner().invoke(app, ["water", str(db_file), "--band-map", "vv=1,vh=2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    area = float(result.output.split("water area: ")[1].split()[0])
    # The whole 30 x 30 km tile: the reservoir (inside its outline) plus the Ili river below the dam.
    assert _truth(sar_root, SUMMER) < area < _truth(sar_root, SUMMER) * 1.03
    assert "(otsu)" in result.output
    validate_cog(out)


def test_radar_on_a_day_the_optical_look_saw_ice_is_not_used(sar_root: Path, sar_settings: Settings) -> None:
    """Radar cannot tell the frozen reservoir from open water; the optical look of that day can."""
    from sensing.publish.layout import OutputLayout
    from sensing.publish.tables import read_water_areas
    from sensing.workflow import publish_run

    frozen = dt.date(2022, 1, 31)
    bodies = load_water_bodies(sar_settings.water_bodies, sar_settings.hydrography)
    optical_source = sar_settings.source.model_dump(exclude={"bands"}) | {"collection": "sentinel-2-l2a-demo"}
    optical = sar_settings.model_copy(update={"source": SourceConfig.model_validate(optical_source)})
    for settings in (sar_settings, optical):
        source = open_source(settings.source, settings.data_dir)
        result = process_scene(settings, source, _scene(settings, frozen, source), bodies)
        publish_run(settings, [result])
    table = read_water_areas(OutputLayout(sar_settings.output_dir).water_areas).set_index(
        ["water_body", "sensor"]
    )
    radar, seen = table.loc[("kapchagay", "sentinel-1")], table.loc[("kapchagay", "sentinel-2")]
    assert seen.quality == "frozen"
    # radar sees nothing wrong (ice passes for dry land or for water, depending on the threshold)...
    assert radar.quality == "ok" and radar.ice_km2 == 0
    assert not radar.usable and radar.ice_from == f"sentinel-2 {frozen}"  # ...so the row is not used


def test_a_flood_from_the_radar_backscatter_drop_is_published(sar_root: Path, sar_settings: Settings) -> None:
    """The ratio method through publishing: the latest date against the dates before it."""
    product = flood_product("water-sar")
    from sensing.events import FloodEvent, publish_flood
    from sensing.workflow import publish_run

    settings = sar_settings
    source = open_source(settings.source, settings.data_dir)
    bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
    scenes = scenes_for_period(settings, source, *PERIOD)
    publish_run(settings, [process_scene(settings, source, scene, bodies) for scene in scenes])
    last = scenes[-1].date
    event = FloodEvent("radar-test", last, last, method="ratio", before_days=(last - scenes[0].date).days)
    rows = publish_flood(settings, "water-sar", event, bodies).set_index("zone")
    assert rows.loc["aoi total", "flooded_km2"] > 1
    layout = OutputLayout(settings.output_dir)
    item = json.loads(layout.item(product, settings.aoi.id, last).read_text())
    validate_stac(item)
    assert item["properties"]["sensing:flood_method"] == "ratio"
    with rasterio.open(
        layout.item(product, settings.aoi.id, last).parent / item["assets"]["data"]["href"]
    ) as ds:
        flood = ds.read(1)

    def published(product: str, day: dt.date) -> np.ndarray:
        path = layout.item(product, settings.aoi.id, day)
        with rasterio.open(path.parent / json.loads(path.read_text())["assets"]["data"]["href"]) as ds:
            return ds.read(1)

    def db(day: dt.date) -> np.ndarray:
        stored = published("vv", day)
        return np.where(stored == INT16_NODATA, np.nan, stored * BACKSCATTER_SCALE.scale).astype("float32")

    before = [db(s.date) for s in scenes[:-1]]
    wet, clear, _, _ = wet_clear_totals(layout, "water-sar", settings.aoi.id, None)
    event_classes = published("water-sar", last)
    normal = reference(wet - (event_classes == 1), clear - np.isin(event_classes, (0, 1)), FloodRule())
    whole = flood_from_backscatter(before, [db(last)], normal, FloodRule())
    np.testing.assert_array_equal(flood, whole)  # published window by window, same as whole arrays
    with rasterio.open(sar_root / "data" / "demo-archive" / "truth" / f"{last}_water.tif") as ds:
        truth = ds.read(1)
    assert np.mean(truth[flood == 1] == 1) > 0.95  # flooded pixels are water on the event's date
