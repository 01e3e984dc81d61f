"""Faults between the STAC API source and its servers: bounded retries, then a classified error."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensing.config import SourceConfig, load_settings
from sensing.errors import FatalError, RetryableError, SceneError
from sensing.grid import aoi_geobox
from sensing.registry import load_water_bodies
from sensing.sources.stac import StacApiSource, StaticStacSource
from sensing.workflow import process_scene
from tests.servers import FaultProxy, fault_proxy, file_server, publish_over_http, rustac_api

BBOX = (76.0, 43.0, 79.0, 45.0)
PERIOD = (dt.date(2021, 1, 1), dt.date(2023, 1, 1))


@pytest.fixture()
def proxy(demo_stac_api: str) -> Iterator[FaultProxy]:
    with fault_proxy(demo_stac_api) as running:
        yield running


def _search(proxy: FaultProxy, **changes: object) -> list:
    url = f"http://127.0.0.1:{proxy.port}"
    config = SourceConfig(kind="stac-api", url=url, collection="sentinel-2-l2a-demo", page_size=4, **changes)
    return StacApiSource(config).search(BBOX, *PERIOD)


def test_429_with_retry_after_is_waited_out(proxy: FaultProxy) -> None:
    proxy.inject("/search", ("status", 429, {"Retry-After": "1"}))
    started = time.monotonic()
    assert len(_search(proxy)) == 10
    assert time.monotonic() - started >= 1.0


def test_429_without_retry_after_and_5xx_are_retried(proxy: FaultProxy) -> None:
    proxy.inject("/search", ("status", 429), ("status", 502), ("status", 503))
    assert len(_search(proxy)) == 10
    assert sum("/search" in r for r in proxy.requests) >= 4


def test_persistent_500_gives_a_retryable_error_after_bounded_attempts(proxy: FaultProxy) -> None:
    proxy.inject("/search", *[("status", 500)] * 10)
    started = time.monotonic()
    with pytest.raises(RetryableError, match=r"127\.0\.0\.1"):
        _search(proxy)
    assert sum("/search" in r for r in proxy.requests) == 4  # the first try and 3 retries
    assert time.monotonic() - started < 20


def test_a_stalled_server_times_out_and_is_retried(proxy: FaultProxy) -> None:
    proxy.inject("/search", ("stall", 3))
    started = time.monotonic()
    assert len(_search(proxy, timeout_s=1)) == 10
    assert time.monotonic() - started < 10


def test_a_connection_reset_mid_body_is_a_retryable_error(proxy: FaultProxy) -> None:
    proxy.inject("/search", ("reset",))
    with pytest.raises(RetryableError):
        _search(proxy)


def test_a_second_page_fault_is_retried(proxy: FaultProxy) -> None:
    proxy.inject("token", ("status", 503))  # rustac's next links carry a paging token
    assert len(_search(proxy)) == 10


def test_a_page_linking_back_to_itself_is_fatal(proxy: FaultProxy) -> None:
    proxy.inject("/search", *[("self_next",)] * 5)
    with pytest.raises(FatalError, match="links back"):
        _search(proxy)
    assert sum("/search" in r for r in proxy.requests) <= 3


def test_a_truncated_cog_over_http_fails_its_scene_naming_the_band(demo_copy: Path, tmp_path: Path) -> None:
    settings = load_settings(demo_copy / "config.yaml")
    archive = demo_copy / "data" / "demo-archive"
    broken = next(archive.rglob("S2A_43TGJ_20210801_0_L2A/B11.tif"))
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 3])
    with (
        file_server(archive) as base,
        rustac_api(*publish_over_http(archive / "catalog.json", base, tmp_path)) as url,
    ):
        config = SourceConfig(kind="stac-api", url=url, collection="sentinel-2-l2a-demo")
        settings = settings.model_copy(update={"source": config})
        source = StacApiSource(config)
        scenes = {s.date: s for s in source.search(BBOX, *PERIOD)}
        bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
        with pytest.raises(SceneError, match=r"S2A_43TGJ_20210801_0_L2A.*swir16.*B11\.tif"):
            process_scene(settings, source, scenes[dt.date(2021, 8, 1)], bodies)
        assert not (settings.output_dir / "stac").exists()  # nothing published for the broken scene
        assert process_scene(settings, source, scenes[dt.date(2021, 10, 13)], bodies).status == "processed"


def test_a_missing_asset_is_named_and_a_missing_scl_is_optional(demo_copy: Path) -> None:
    settings = load_settings(demo_copy / "config.yaml")
    item_path = next((demo_copy / "data" / "demo-archive").rglob("S2A_43TGJ_20210801_0_L2A.json"))
    doc = json.loads(item_path.read_text())
    del doc["assets"]["SCL"], doc["assets"]["B11"]
    item_path.write_text(json.dumps(doc))
    source = StaticStacSource(settings.source)
    scene = source.search(BBOX, dt.date(2021, 8, 1), dt.date(2021, 8, 1))[0]
    geobox = aoi_geobox(settings.aoi)
    assert list(source.load(scene, ["green", "scl"], geobox, 512, optional=("scl",)).data_vars) == ["green"]
    with pytest.raises(SceneError, match=r"S2A_43TGJ_20210801_0_L2A.*no asset or band \['B11'\]"):
        source.load(scene, ["green", "swir16"], geobox, 512)
