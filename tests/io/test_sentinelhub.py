"""sentinelhub (the real client library) against a local Sentinel Hub: search, tiled Process downloads,
cache, processing-unit budget, rate limits and credentials."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sentinelhub import SentinelHubDownloadClient

from sensing.config import Settings, SourceConfig, load_settings
from sensing.errors import ConfigError, FatalError, RetryableError
from sensing.grid import aoi_geobox
from sensing.models import SceneRef
from sensing.registry import load_water_bodies
from sensing.sources.sentinelhub import SentinelHubSource, evalscript, processing_units
from sensing.sources.stac import StaticStacSource
from sensing.workflow import process_scene, scenes_for_period
from tests.sentinelhub_server import SentinelHubServer
from tests.servers import serve_asgi

CLIENT_ID, SECRET = "sensing-test-client", "s3cr3t-never-in-files"
BBOX = (76.0, 43.0, 79.0, 45.0)
PERIOD = (dt.date(2021, 1, 1), dt.date(2023, 1, 1))


@pytest.fixture()
def sentinel_hub(
    demo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SentinelHubServer, Settings]]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain-HTTP OAuth to the loopback server only
    monkeypatch.setenv("SH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SH_CLIENT_SECRET", SECRET)
    # sentinelhub caches sessions by (client id, URL): a loopback port reused from an earlier test
    # would hand this test a token without the exchange it checks
    SentinelHubDownloadClient.clear_cache()
    server = SentinelHubServer(demo_copy / "data" / "demo-archive" / "catalog.json", CLIENT_ID, SECRET)
    with serve_asgi(server.app) as url:
        settings = load_settings(demo_copy / "config.yaml")
        # The default band map (B02 ... B12, SCL) is Sentinel Hub's band naming.
        config = SourceConfig(
            kind="sentinelhub", url=url, token_url=f"{url}/oauth/token", collection="sentinel-2-l2a",
            max_request_px=400, max_retries=3,
        )  # fmt: skip
        yield server, settings.model_copy(update={"source": config})


def _source(settings: Settings, **changes: object) -> SentinelHubSource:
    return SentinelHubSource(
        settings.source.model_copy(update=changes), settings.data_dir / "cache" / "sentinelhub"
    )


def test_evalscript_and_cost_model() -> None:
    script = evalscript(["B03", "SCL"])
    assert '"B03", "SCL", "dataMask"' in script and 'sampleType: "UINT16"' in script
    assert processing_units(512, 512, 3) == 1.0
    assert processing_units(2500, 2500, 6) == pytest.approx(2500**2 / 512**2 * 2)
    assert processing_units(10, 10, 1) == 0.005


def test_catalog_search_pages_and_filters(sentinel_hub: tuple[SentinelHubServer, Settings]) -> None:
    _, settings = sentinel_hub
    assert len(_source(settings).search(BBOX, *PERIOD)) == 10
    assert len(_source(settings, max_cloud_cover=10).search(BBOX, *PERIOD)) == 8


def test_tiled_download_equals_the_archive_and_is_cached(
    sentinel_hub: tuple[SentinelHubServer, Settings],
) -> None:
    server, settings = sentinel_hub
    source = _source(settings)
    geobox = aoi_geobox(settings.aoi)  # 1000 x 1000 px: 9 requests of at most 400 px a side
    scene = next(s for s in source.search(BBOX, *PERIOD) if s.date == dt.date(2022, 4, 14))
    bands = ["green", "swir16", "scl"]
    via_hub = source.load(scene, bands, geobox, 512).compute()
    assert server.process_calls == 9
    static = StaticStacSource(load_settings(settings.data_dir.parent / "config.yaml").source)
    disk_scene = next(s for s in static.search(BBOX, *PERIOD) if s.date == scene.date)
    from_disk = static.load(disk_scene, bands, geobox, 512).compute()
    for band in bands:
        hub, disk = via_hub[band].values, from_disk[band].values
        # Harmonised DN cannot go below 1: dark water's slightly negative reflectance arrives clamped.
        negative = disk < 1e-4
        np.testing.assert_allclose(hub[~negative], disk[~negative], atol=1e-6)
        assert np.allclose(hub[negative], 1e-4) and negative.mean() < 0.05
    source.load(scene, bands, geobox, 512).compute()
    assert server.process_calls == 9  # the second load comes from the cache
    cache = list((settings.data_dir / "cache" / "sentinelhub").glob("*.tif"))
    assert len(cache) == 9 and not list(cache[0].parent.glob(".*.tmp*"))
    ledger = (cache[0].parent / "processing_units.json").read_text()
    assert dt.datetime.now(dt.UTC).strftime("%Y-%m") in ledger


def test_a_failed_download_leaves_no_cache_file(sentinel_hub: tuple[SentinelHubServer, Settings]) -> None:
    server, settings = sentinel_hub
    source = _source(settings, max_request_px=2500)
    scene = source.search(BBOX, *PERIOD)[0]
    server.failures += [500] * 10
    with pytest.raises(RetryableError, match=scene.id):
        source.load(scene, ["green"], aoi_geobox(settings.aoi), 512)
    assert not list((settings.data_dir / "cache" / "sentinelhub").glob("*.tif"))


def test_retry_after_in_seconds_is_read_as_milliseconds(
    sentinel_hub: tuple[SentinelHubServer, Settings],
) -> None:
    """sentinelhub divides Retry-After by 1000: '2' (seconds, as servers mean it) waits 2 ms."""
    server, settings = sentinel_hub
    source = _source(settings, max_request_px=2500)
    scene = source.search(BBOX, *PERIOD)[0]
    server.rate_limits += [{"Retry-After": "2"}] * 2
    started = time.monotonic()
    source.load(scene, ["green"], aoi_geobox(settings.aoi), 512)
    assert time.monotonic() - started < 1.5 and server.process_calls == 3
    server.rate_limits += [{"Retry-After": "2"}] * 10
    with pytest.raises(RetryableError, match="rate limit"):
        _source(settings, max_request_px=2500).load(
            source.search(BBOX, *PERIOD)[1], ["green"], aoi_geobox(settings.aoi), 512
        )
    assert server.process_calls == 3 + 3  # bounded by max_retries, then Prefect's retry delays take over


def test_a_run_over_the_monthly_budget_is_refused(sentinel_hub: tuple[SentinelHubServer, Settings]) -> None:
    server, settings = sentinel_hub
    tight = settings.model_copy(
        update={"source": settings.source.model_copy(update={"monthly_pu_budget": 20.0})}
    )
    with pytest.raises(
        FatalError, match=r"needs about \d+\.\d PU for 10 scene\(s\).*monthly budget of 20\.0 PU"
    ):
        scenes_for_period(tight, _source(tight), *PERIOD)
    assert server.process_calls == 0
    assert len(scenes_for_period(tight, _source(tight), dt.date(2021, 8, 1), dt.date(2021, 8, 1))) == 1


def test_credentials_are_required_and_never_written_or_logged(
    sentinel_hub: tuple[SentinelHubServer, Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, settings = sentinel_hub
    caplog.set_level(logging.DEBUG)
    source = _source(settings)
    scene = source.search(BBOX, dt.date(2021, 8, 1), dt.date(2021, 8, 1))[0]
    result = process_scene(
        settings, source, scene, load_water_bodies(settings.water_bodies, settings.hydrography)
    )
    assert result.status == "processed"
    item = json.loads(next((settings.output_dir / "stac" / "water").rglob("water-*.json")).read_text())
    assert item["properties"]["sensing:cloud_mask"] == "scl"  # the optional SCL band came along
    for path in settings.data_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert "/oauth/token" in caplog.text  # the token exchange was logged at DEBUG...
    assert SECRET not in caplog.text  # ...without the secret
    monkeypatch.delenv("SH_CLIENT_SECRET")
    with pytest.raises(ConfigError, match=r"\['SH_CLIENT_SECRET'\]") as error:
        _source(settings).search(BBOX, *PERIOD)
    assert SECRET not in str(error.value)


@pytest.mark.parametrize("limit", [1, 3])
def test_requests_in_flight_never_exceed_the_configured_limit(
    sentinel_hub: tuple[SentinelHubServer, Settings], limit: int
) -> None:
    server, settings = sentinel_hub
    server.delay_s = 0.3
    geobox = aoi_geobox(settings.aoi)  # 9 requests per scene
    scenes = _source(settings).search(BBOX, *PERIOD)[:3]

    def load(scene: SceneRef) -> None:  # each run its own source, as separate runs would have
        _source(settings, max_concurrent_requests=limit).load(scene, ["green"], geobox, 512).compute()

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(load, scenes))
    assert server.process_calls == 27
    assert server.most_in_flight == limit
