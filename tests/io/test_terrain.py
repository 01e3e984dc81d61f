"""Terrain vetoes on the demo archive with a DEM file: water raised above its reservoir's surface is
vetoed, the sun's position is recorded, the rest of the water is untouched."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box, mapping

from sensing.config import Settings, TerrainConfig, load_settings
from sensing.registry import load_water_bodies
from sensing.sources import open_source
from sensing.workflow import process_scene, scenes_for_period
from tests.servers import file_server, rustac_api

DAY = dt.date(2021, 8, 1)
PLATEAU_X = 690_000.0
"""East of this easting the DEM stands 50 m above the reservoir (a ramp 2 km wide leads up to it)."""


def _dem(path: Path) -> Path:
    """A 90 m DEM in UTM 43N: the reservoir's valley at 479 m, a plateau at 529 m in the east."""
    x = 668_000 + 90 * (np.arange(400) + 0.5)
    height = 479 + 50 * np.clip((x - (PLATEAU_X - 2000)) / 2000, 0, 1)
    dem = np.repeat(height[None, :], 400, axis=0).astype("float32")
    profile = {"driver": "GTiff", "width": 400, "height": 400, "count": 1, "dtype": "float32",
               "crs": "EPSG:32643", "transform": from_origin(668_000, 4_876_000, 90, 90), "nodata": -9999}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(dem, 1)
    return path


def _classes(settings: Settings) -> tuple[np.ndarray, rasterio.Affine, float, dict]:
    source = open_source(settings.source, settings.data_dir)
    scene = next(s for s in scenes_for_period(settings, source, DAY, DAY))
    bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
    result = process_scene(settings, source, scene, bodies, force=True)
    kapchagay = next(a.water_km2 for a in result.areas if a.water_body == "kapchagay")
    layer = next(layer for layer in result.layers if layer.product == "water")
    with rasterio.open(settings.output_dir / layer.href) as ds:
        classes, transform = ds.read(1), ds.transform
    item = json.loads(next((settings.output_dir / "stac" / "water").rglob(f"*{DAY}.json")).read_text())
    return classes, transform, kapchagay, item["properties"]


@contextlib.contextmanager
def _stac_dem(dem: Path, folder: Path) -> Iterator[str]:
    """The DEM as a one-item STAC collection (Copernicus DEM's layout) behind rustac's STAC API."""
    with file_server(dem.parent) as files:
        bbox = [76.9, 43.6, 78.4, 44.2]
        item = {
            "type": "Feature", "stac_version": "1.0.0", "id": "Copernicus_DSM_COG_10_N43_00_E077_00_DEM",
            "collection": "cop-dem-glo-30", "bbox": bbox, "geometry": mapping(box(*bbox)), "links": [],
            "properties": {"datetime": "2021-04-22T00:00:00Z"},
            "assets": {"data": {"href": f"{files}/{dem.name}", "type": "image/tiff; application=geotiff"}},
        }  # fmt: skip
        collection = {
            "type": "Collection", "stac_version": "1.0.0", "id": "cop-dem-glo-30", "description": "test DEM",
            "license": "proprietary", "links": [],
            "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [["2021-04-22T00:00:00Z", None]]}},
        }  # fmt: skip
        (folder / "collection.json").write_text(json.dumps(collection))
        (folder / "items.json").write_text(json.dumps({"type": "FeatureCollection", "features": [item]}))
        with rustac_api(folder / "collection.json", folder / "items.json") as api:
            yield api


@pytest.mark.parametrize("kind", ["file", "stac"])
def test_water_above_its_reservoirs_surface_is_vetoed(kind: str, demo_copy: Path, tmp_path: Path) -> None:
    plain = load_settings(demo_copy / "config.yaml")
    without, transform, area_without, _ = _classes(plain)
    dem = _dem(tmp_path / "dem.tif")
    with contextlib.ExitStack() as stack:
        api = ""
        if kind == "file":
            terrain = TerrainConfig(dem=dem)
        else:
            api = stack.enter_context(_stac_dem(dem, tmp_path))
            terrain = TerrainConfig(stac_url=api)
        with_dem = plain.model_copy(update={"terrain": terrain})
        assert with_dem.version_key() != plain.version_key()  # a new version beside the old one
        vetoed, _, area_with, properties = _classes(with_dem)
    eastings = transform.c + transform.a * (np.arange(without.shape[1]) + 0.5)
    plateau, valley = eastings > PLATEAU_X, eastings < PLATEAU_X - 2000
    assert (without[:, plateau] == 1).sum() > 1000  # the simulated reservoir reaches the plateau...
    assert (vetoed[:, plateau] == 1).sum() == 0  # ...where the DEM puts it 50 m above its surface
    np.testing.assert_array_equal(vetoed[:, valley], without[:, valley])  # the valley's water is untouched
    assert area_with < area_without
    recorded = properties["sensing:terrain"]
    assert (
        recorded["dem"]
        == with_dem.terrain.dem_name
        == ("dem.tif" if kind == "file" else f"cop-dem-glo-30 at {api}")
    )
    assert 55 < recorded["sun_elevation"] < 62 and recorded["max_height_above_m"] == 15
