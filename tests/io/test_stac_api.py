"""Contract tests: pystac-client + odc-stac against rustac's STAC API server, COGs over HTTP ranges."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from sensing.config import SourceConfig, load_settings
from sensing.grid import aoi_geobox
from sensing.registry import load_water_bodies
from sensing.sources.stac import StacApiSource, StaticStacSource
from sensing.workflow import process_scene

BBOX = (76.0, 43.0, 79.0, 45.0)
PERIOD = (dt.date(2021, 1, 1), dt.date(2023, 1, 1))


@pytest.fixture()
def stac_api(demo_stac_api: str) -> str:
    return demo_stac_api


def _api_source(url: str, **changes: object) -> StacApiSource:
    return StacApiSource(SourceConfig(kind="stac-api", url=url, collection="sentinel-2-l2a-demo", **changes))


def test_search_pages_through_every_item(stac_api: str) -> None:
    refs = _api_source(stac_api, page_size=3).search(BBOX, *PERIOD)
    assert len(refs) == 10
    assert [r.date for r in refs] == sorted(r.date for r in refs)
    assert all(r.href.startswith(stac_api) for r in refs)


def test_search_filters_dates_bbox_and_cloud_cover(stac_api: str) -> None:
    source = _api_source(stac_api)
    assert [r.date for r in source.search(BBOX, dt.date(2022, 1, 1), dt.date(2022, 3, 31))] == [
        dt.date(2022, 1, 31),
        dt.date(2022, 3, 8),
    ]
    assert source.search((10.0, 45.0, 11.0, 46.0), *PERIOD) == []
    clear = _api_source(stac_api, max_cloud_cover=10).search(BBOX, *PERIOD)
    assert len(clear) == 8 and all((r.cloud_cover or 0) <= 10 for r in clear)


def test_pixels_over_http_equal_pixels_from_disk(stac_api: str, demo_root: Path) -> None:
    settings = load_settings(demo_root / "config.yaml")
    api_scene = next(r for r in _api_source(stac_api).search(BBOX, *PERIOD) if r.date == dt.date(2022, 4, 14))
    disk_scene = next(
        r for r in StaticStacSource(settings.source).search(BBOX, *PERIOD) if r.date == api_scene.date
    )
    geobox = aoi_geobox(settings.aoi)
    bands = ["green", "swir16", "scl"]
    over_http = _api_source(stac_api).load(api_scene, bands, geobox, 512).compute()
    from_disk = StaticStacSource(settings.source).load(disk_scene, bands, geobox, 512).compute()
    for band in bands:
        np.testing.assert_array_equal(over_http[band].values, from_disk[band].values)
    assert 0.0 < float(np.nanmedian(over_http["green"].values)) < 0.5  # harmonised reflectance


def test_a_scene_from_the_api_is_processed_and_published(stac_api: str, demo_copy: Path) -> None:
    settings = load_settings(demo_copy / "config.yaml")
    api = settings.source.model_copy(
        update={"kind": "stac-api", "url": stac_api, "catalog": None, "collection": "sentinel-2-l2a-demo"}
    )
    settings = settings.model_copy(update={"source": api})
    source = _api_source(stac_api)
    scene = next(r for r in source.search(BBOX, *PERIOD) if r.date == dt.date(2021, 8, 1))
    result = process_scene(
        settings, source, scene, load_water_bodies(settings.water_bodies, settings.hydrography)
    )
    assert result.status == "processed"
    kapchagay = next(a for a in result.areas if a.water_body == "kapchagay")
    truth = (settings.data_dir / "demo-archive" / "truth" / "areas.csv").read_text().splitlines()
    true_km2 = next(float(r.split(",")[2]) for r in truth if r.startswith("2021-08-01,kapchagay"))
    assert abs(kapchagay.water_km2 - true_km2) / true_km2 < 0.05
    item = json.loads(next((settings.output_dir / "stac" / "water").rglob("*.json")).read_text())
    assert item["properties"]["sensing:source_scenes"] == [scene.id]
