"""An AOI seen by two UTM zones: the same pass delivered as a zone-43 and a zone-44 item is one scene,
both reprojected onto the AOI's own grid, with no seam."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyproj
import rasterio
from shapely.geometry import box
from shapely.ops import transform

from sensing.config import AoiConfig, SourceConfig, load_settings
from sensing.demo.archive import COLLECTION, write_archive
from sensing.registry import load_water_bodies
from sensing.sources.stac import StaticStacSource
from sensing.workflow import process_scene


def _zone_archive(
    settings: object, folder: Path, crs: str, bounds_43: tuple[float, float, float, float]
) -> Path:
    to_zone = pyproj.Transformer.from_crs("EPSG:32643", crs, always_xy=True).transform
    bounds = transform(to_zone, box(*bounds_43)).bounds
    aoi = AoiConfig(id="half", name="half", crs=crs, bounds=bounds, resolution=30)
    demo = settings.demo.model_copy(update={"archive": folder, "dates_per_year": 3})  # type: ignore[attr-defined]
    return write_archive(aoi, demo, load_water_bodies(settings.water_bodies, settings.hydrography))  # type: ignore[attr-defined]


def test_one_pass_across_two_zones_is_one_seamless_scene(demo_root: Path, tmp_path: Path) -> None:
    settings = load_settings(demo_root / "config.yaml")
    west = _zone_archive(settings, tmp_path / "zone43", "EPSG:32643", (669000, 4845000, 685000, 4875000))
    east = _zone_archive(settings, tmp_path / "zone44", "EPSG:32644", (683000, 4845000, 699000, 4875000))
    root = tmp_path / "catalog.json"
    links = [{"rel": "child", "href": str(p), "type": "application/json"} for p in (west, east)]
    root.write_text(json.dumps({"type": "Catalog", "stac_version": "1.1.0", "id": "two-zones",
                                "description": "zones 43 and 44", "links": links}))  # fmt: skip
    source = StaticStacSource(SourceConfig(catalog=root, collection=COLLECTION))
    scenes = source.search((76.0, 43.0, 79.0, 45.0), dt.date(2021, 8, 1), dt.date(2021, 8, 1))
    assert len(scenes) == 1
    scene = scenes[0]
    assert sorted(i.split("_")[1] for i, _ in scene.items) == ["43TGJ", "44TKN"]

    outputs = settings.model_copy(update={"data_dir": tmp_path / "data", "source": source.config})
    result = process_scene(
        outputs, source, scene, load_water_bodies(settings.water_bodies, settings.hydrography)
    )
    truth = (demo_root / "data" / "demo-archive" / "truth" / "areas.csv").read_text().splitlines()
    expected = next(float(r.split(",")[2]) for r in truth if r.startswith("2021-08-01,kapchagay"))
    measured = next(a for a in result.areas if a.water_body == "kapchagay")
    assert measured.valid_fraction == 1.0
    assert abs(measured.water_km2 - expected) / expected < 0.05
    water = next((tmp_path / "data" / "outputs" / "layers" / "water").rglob("water.tif"))
    with rasterio.open(water) as ds:
        classes = ds.read(1)
    seam = (684000 - 669000) // 30  # the column where the two halves meet
    assert not (classes[:, seam - 20 : seam + 20] == 255).any()  # no gap along the zone boundary
    assert np.mean(classes == 255) < 1e-4  # (a few corner pixels lie outside the rotated zone-44 grid)
    item = json.loads(next((tmp_path / "data" / "outputs" / "stac" / "water").rglob("*.json")).read_text())
    assert len(item["properties"]["sensing:source_scenes"]) == 2
