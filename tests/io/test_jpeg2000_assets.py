"""Copernicus Data Space serves Sentinel-2 as JPEG2000 with its own asset keys and processing:version:
the same scene as lossless JPEG2000 behind the STAC API loads to the same reflectance as the COGs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
import yaml

from sensing.config import SourceConfig, load_settings
from sensing.grid import aoi_geobox
from sensing.sources.stac import StacApiSource, StaticStacSource
from tests.servers import file_server, rustac_api

ROOT = Path(__file__).resolve().parents[2]
CDSE_KEYS = {"B03": "B03_10m", "B11": "B11_20m", "SCL": "SCL_20m"}


def test_cdse_style_jpeg2000_item_loads_like_the_cog(demo_root: Path, tmp_path: Path) -> None:
    settings = load_settings(demo_root / "config.yaml")
    static = StaticStacSource(settings.source)
    scene = static.search((76, 43, 79, 45), dt.date(2022, 4, 14), dt.date(2022, 4, 14))[0]
    item = json.loads(Path(scene.href).read_text())
    assets = {}
    for band, key in CDSE_KEYS.items():
        src = Path(scene.href).parent / item["assets"][band]["href"]
        rasterio.shutil.copy(
            src, tmp_path / f"{key}.jp2", driver="JP2OpenJPEG", QUALITY=100, REVERSIBLE="YES"
        )
        assets[key] = {**item["assets"][band], "href": f"{key}.jp2", "type": "image/jp2"}
    props = {k: v for k, v in item["properties"].items() if k != "s2:processing_baseline"}
    props.update({"processing:version": "04.00", "platform": "sentinel-2b", "processing:level": "L2A"})
    with file_server(tmp_path) as base:
        for asset in assets.values():
            asset["href"] = f"{base}/{asset['href']}"
        cdse_item = {
            **item,
            "properties": props,
            "assets": assets,
            "links": [],
            "collection": "sentinel-2-l2a",
        }
        (tmp_path / "items.json").write_text(
            json.dumps({"type": "FeatureCollection", "features": [cdse_item]})
        )
        collection = {"type": "Collection", "stac_version": "1.1.0", "id": "sentinel-2-l2a", "description": "x",
                      "license": "other", "links": [],
                      "extent": {"spatial": {"bbox": [item["bbox"]]}, "temporal": {"interval": [[None, None]]}}}  # fmt: skip
        (tmp_path / "collection.json").write_text(json.dumps(collection))
        with rustac_api(tmp_path / "collection.json", tmp_path / "items.json") as url:
            provider = yaml.safe_load((ROOT / "configs" / "sources" / "cdse-stac-s2-l2a.yaml").read_text())
            config = SourceConfig.model_validate({**provider, "url": url, "gdal_options": {}})
            source = StacApiSource(config)
            (cdse_scene,) = source.search((76, 43, 79, 45), dt.date(2022, 4, 14), dt.date(2022, 4, 14))
            geobox = aoi_geobox(settings.aoi)
            jp2 = source.load(cdse_scene, ["green", "swir16", "scl"], geobox, 512).compute()
    cog = static.load(scene, ["green", "swir16", "scl"], geobox, 512).compute()
    for band in ("green", "swir16", "scl"):
        np.testing.assert_array_equal(jp2[band].values, cog[band].values)
    assert float(np.nanmedian(jp2["green"].values)) < 0.5  # the +1000 DN offset was removed
