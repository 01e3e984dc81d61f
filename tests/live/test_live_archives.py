"""Opt-in live tests against the real services: `pytest -m live` (needs internet; Sentinel Hub tests
also need SH_CLIENT_ID / SH_CLIENT_SECRET). The same code paths as the loopback contract tests."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from odc.geo.geobox import GeoBox

from sensing.config import SourceConfig
from sensing.sources import open_source

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]
KAPCHAGAY_LONLAT = (77.15, 43.85, 77.20, 43.90)
SMALL_GRID = GeoBox.from_bbox((672000, 4858000, 674000, 4860000), crs="EPSG:32643", resolution=10)


def _provider(name: str) -> SourceConfig:
    return SourceConfig.model_validate(
        yaml.safe_load((ROOT / "configs" / "sources" / f"{name}.yaml").read_text())
    )


def _check(name: str, tmp_path: Path) -> None:
    source = open_source(_provider(name), tmp_path)
    scenes = source.search(KAPCHAGAY_LONLAT, dt.date(2024, 7, 1), dt.date(2024, 7, 31))
    assert scenes, f"{name}: no scene over Kapchagay in July 2024"
    ds = source.load(scenes[0], ["green", "nir", "swir16"], SMALL_GRID, 200).compute()
    assert 0.0 <= float(np.nanmedian(ds["nir"].values)) <= 1.0


def test_earth_search_sentinel2(tmp_path: Path) -> None:
    _check("earth-search-s2-l2a", tmp_path)


@pytest.mark.skipif(not os.environ.get("SH_CLIENT_ID"), reason="SH_CLIENT_ID / SH_CLIENT_SECRET not set")
def test_copernicus_data_space_sentinel_hub(tmp_path: Path) -> None:
    _check("cdse-sentinelhub-s2-l2a", tmp_path)
