"""Analysts' own files: `sensing catalog add`, loading with the right scaling, a reprocess on them."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from odc.geo.geobox import GeoBox
from typer.testing import CliRunner

from pipelines.cli import app
from sensing.config import SourceConfig
from sensing.sources.local import COMMON_BANDS
from sensing.sources.stac import StaticStacSource
from sensing.waterbodies import to_lonlat

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "raster"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is not present")
runner = CliRunner()
BARBELLINO = DATA / "s2_barbellino_sen2r" / "S2A2A_20190723_022_Barbellino_BOA_10.tif"


def _add(*args: str) -> None:
    result = runner.invoke(app, ["catalog", "add", *args])
    assert result.exit_code == 0, result.output


def _load(catalog: Path, path: Path, bands: list[str]) -> dict[str, np.ndarray]:
    source = StaticStacSource(
        SourceConfig(catalog=catalog / "catalog.json", bands={b: b for b in COMMON_BANDS})
    )
    scene = source.search((-180, -90, 180, 90), dt.date(1980, 1, 1), dt.date(2030, 1, 1))[0]
    with rasterio.open(path) as ds:
        geobox = GeoBox((ds.height, ds.width), ds.transform, ds.crs)
    loaded = source.load(scene, bands, geobox, 256).compute()
    return {b: loaded[b].values for b in bands}


def test_multiband_sentinel2_boa_is_scaled_and_masked(tmp_path: Path) -> None:
    _add(str(BARBELLINO), "--catalog", str(tmp_path), "--band-map", "green=3,red=4,nir=8,swir16=10",
         "--scale", "0.0001", "--nodata", "65535", "--datetime", "2019-07-23T10:20:00", "--platform", "sentinel-2a")  # fmt: skip
    bands = _load(tmp_path, BARBELLINO, ["green", "nir", "swir16"])
    with rasterio.open(BARBELLINO) as ds:
        dn = ds.read(3)
    valid = dn != 65535
    np.testing.assert_allclose(bands["green"][valid], dn[valid] * 1e-4, rtol=1e-6)
    assert np.isnan(bands["green"][~valid]).all()
    assert np.nanmax(bands["nir"]) < 1.0 and np.nanmin(bands["green"]) >= 0
    with rasterio.open(BARBELLINO.with_name("S2A2A_20190723_022_Barbellino_SCL_10.tif")) as ds:
        scl = ds.read(1, out_shape=dn.shape, resampling=rasterio.enums.Resampling.nearest)
    mndwi = (bands["green"] - bands["swir16"]) / (bands["green"] + bands["swir16"])
    assert np.nanmean(mndwi[scl == 6] > 0) > 0.9  # Sen2Cor's water is water for us too


def test_landsat8_surface_reflectance_file(tmp_path: Path) -> None:
    path = DATA / "landsat8_sr_porto_velho_20190727" / "LC08_232066_20190727.tif"
    _add(str(path), "--catalog", str(tmp_path), "--band-map", "green=2,red=3,nir=4,swir16=5,swir22=6",
         "--scale", "0.0001", "--nodata", "-9999", "--datetime", "2019-07-27", "--platform", "landsat-8")  # fmt: skip
    bands = _load(tmp_path, path, ["green", "nir"])
    assert np.nanpercentile(bands["green"], 1) >= 0.0 and np.nanpercentile(bands["nir"], 99) <= 1.0
    item = json.loads(next(tmp_path.rglob("LC08_232066_20190727.json")).read_text())
    assert item["properties"]["platform"] == "landsat-8"
    assert item["assets"]["image"]["raster:bands"][1]["scale"] == 0.0001


def test_landsat8_l1_mtl_gives_toa_reflectance_and_fill_as_nodata(tmp_path: Path) -> None:
    folder = DATA / "landsat8_l1_south_carolina_20170813_900m"
    mtl = next(folder.glob("*_MTL.txt"))
    _add(str(mtl), "--catalog", str(tmp_path))
    b3 = next(folder.glob("*_B3.TIF"))
    bands = _load(tmp_path, b3, ["green", "swir16"])
    with rasterio.open(b3) as ds:
        dn = ds.read(1).astype("float64")
    expected = (2e-5 * dn - 0.1) / math.sin(math.radians(62.17310472))
    filled = dn == 0
    assert filled.mean() > 0.2 and np.isnan(bands["green"][filled]).all()  # the tilted-scene collar
    np.testing.assert_allclose(bands["green"][~filled], expected[~filled], rtol=1e-5)
    assert 0.0 < np.nanmedian(bands["green"]) < 0.5


def test_catalog_add_errors_name_the_option(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["catalog", "add", str(BARBELLINO), "--catalog", str(tmp_path), "--band-map", "green=3"]
    )
    assert result.exit_code == 2 and "--datetime" in result.output
    result = runner.invoke(app, ["catalog", "add", str(BARBELLINO), "--catalog", str(tmp_path), "--band-map",
                                "green=3", "--datetime", "2019-07-23", "--scale", "nir=0.1"])  # fmt: skip
    assert result.exit_code == 2 and "--scale" in result.output and "nir" in result.output
    result = runner.invoke(app, ["catalog", "add", str(BARBELLINO), "--catalog", str(tmp_path), "--band-map",
                                "green=30", "--datetime", "2019-07-23"])  # fmt: skip
    assert result.exit_code == 2 and "11 band(s)" in result.output


@pytest.mark.slow
def test_reprocess_an_analysts_scene_over_a_geojson_aoi(
    tmp_path: Path, demo_root: Path, prefect_api: None
) -> None:
    from pipelines.flows import reprocess

    catalog = tmp_path / "catalog"
    _add(str(BARBELLINO), "--catalog", str(catalog), "--band-map", "green=3,red=4,nir=8,swir16=10",
         "--scale", "0.0001", "--nodata", "65535", "--datetime", "2019-07-23T10:20:00", "--platform", "sentinel-2a")  # fmt: skip
    with rasterio.open(BARBELLINO) as ds:
        from shapely.geometry import box, mapping

        outline = to_lonlat(box(*ds.bounds), str(ds.crs))
    aoi = tmp_path / "barbellino.geojson"
    aoi.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": mapping(outline)}))
    config = demo_root / "config.yaml"
    summary = reprocess(aoi=str(aoi), start=dt.date(2019, 7, 1), end=dt.date(2019, 7, 31),
                        config=str(config), source=str(catalog), products=["water", "mndwi"])  # fmt: skip
    assert summary["scenes"] == {"processed": 1, "skipped": 0, "failed": 0}
    water = next((demo_root / "data" / "outputs" / "layers" / "water" / "barbellino").rglob("water.tif"))
    with rasterio.open(water) as ds:
        classes = ds.read(1)
        assert ds.crs.to_epsg() == 32632
    assert 0.1 < np.mean(classes == 1) < 0.5  # Sen2Cor: 26 % water; our grid here is 30 m


def test_landsat5_tm_radiance_mtl_gives_toa_reflectance_that_finds_the_reservoir(tmp_path: Path) -> None:
    """A pre-collection MTL has radiance coefficients only: TOA via ESUN and Earth-Sun distance."""
    from rasterio.features import geometry_mask
    from shapely.geometry import shape as sh

    from sensing.waterbodies import to_crs

    folder = DATA / "landsat5_tm_tucurui_19880814"
    _add(str(folder / "LT52240631988227CUB02_MTL.txt"), "--catalog", str(tmp_path))
    b2 = folder / "LT52240631988227CUB02_B2.TIF"
    bands = _load(tmp_path, b2, ["green", "nir", "swir16"])
    with rasterio.open(b2) as ds:
        dn, transform, shape = ds.read(1).astype("float64"), ds.transform, (ds.height, ds.width)
    # Band 2: L = 1.322 DN - 4.1622; rho = pi L d^2 / (1796 sin 49.756 deg), d on 14 August 1988.
    d = 1 - 0.01672 * math.cos(math.radians(0.9856 * (227 - 4)))
    expected = math.pi * (1.322 * dn - 4.1622) * d**2 / (1796 * math.sin(math.radians(49.75588889)))
    np.testing.assert_allclose(bands["green"], expected, rtol=1e-5)
    assert 0.0 < np.nanmedian(bands["nir"]) < 0.6
    polygons = json.loads((folder / "training_polygons.geojson").read_text())["features"]
    mndwi = (bands["green"] - bands["swir16"]) / (bands["green"] + bands["swir16"])

    def water_share(label: str) -> float:  # the polygons are lon/lat, the scene UTM 22N
        geoms = [
            to_crs(sh(f["geometry"]), "EPSG:32622") for f in polygons if f["properties"]["class"] == label
        ]
        inside = ~geometry_mask(geoms, out_shape=shape, transform=transform)
        return float((mndwi[inside] > 0).mean())

    assert water_share("water") > 0.95 and water_share("forest") < 0.02


def test_barbellino_pair_with_its_scl_files_loads_with_scl_masks(tmp_path: Path) -> None:
    """Two dates, each a 10 m BOA stack plus a 20 m SCL file: one scene per date, masked by its SCL."""
    from sensing.compute.masks import scene_masks

    folder = DATA / "s2_barbellino_sen2r"
    for date, when in (("20170703", "2017-07-03T10:20:00"), ("20190723", "2019-07-23T10:20:00")):
        files = [str(folder / f"S2A2A_{date}_022_Barbellino_{kind}_10.tif") for kind in ("BOA", "SCL")]
        _add(*files, "--catalog", str(tmp_path), "--band-map",
             "green=_BOA_10:3,red=_BOA_10:4,nir=_BOA_10:8,swir16=_BOA_10:10,scl=_SCL_10",
             "--scale", "green=0.0001,red=0.0001,nir=0.0001,swir16=0.0001",
             "--nodata", "green=65535,red=65535,nir=65535,swir16=65535",
             "--datetime", when, "--platform", "sentinel-2a")  # fmt: skip
    source = StaticStacSource(
        SourceConfig(catalog=tmp_path / "catalog.json", bands={b: b for b in COMMON_BANDS})
    )
    with rasterio.open(BARBELLINO) as ds:
        geobox = GeoBox((ds.height, ds.width), ds.transform, ds.crs)
    scenes = source.search((-180, -90, 180, 90), dt.date(2017, 1, 1), dt.date(2020, 1, 1))
    assert [s.date.year for s in scenes] == [2017, 2019]
    stats = {}
    for scene in scenes:
        ds = source.load(scene, ["green", "swir16", "scl"], geobox, 64).compute()
        masks, kind = scene_masks(ds)
        assert kind == "scl" and ds["scl"].dtype == np.uint8
        assert np.nanmin(ds["green"].values) >= 0 and np.nanmax(ds["green"].values) < 1.5
        mndwi = (ds["green"] - ds["swir16"]) / (ds["green"] + ds["swir16"])
        water = ds["scl"].values == 6
        stats[scene.date.year] = (
            float(masks["cloud"].mean()),
            int(water.sum()),
            float((mndwi.values[water] > 0).mean()),
        )
    assert stats[2017][0] > stats[2019][0]  # 2017 is the partly cloudy date
    assert stats[2019][1] > stats[2017][1]  # more open water visible in 2019
    assert min(stats[2017][2], stats[2019][2]) > 0.9
