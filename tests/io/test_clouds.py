"""s2cloudless on real Sentinel-2 L1C (the eo-learn Slovenia scenes): cloudy dates found, clear dates
kept, chunk seams invisible."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import rasterio
import xarray as xr
from odc.geo.geobox import GeoBox
from typer.testing import CliRunner

from pipelines.cli import app
from sensing.compute.clouds import S2CLOUDLESS_BANDS, s2cloudless_mask
from sensing.compute.masks import scene_masks
from sensing.config import SourceConfig
from sensing.sources.local import COMMON_BANDS
from sensing.sources.stac import StaticStacSource

FOLDER = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "raster" / "s2_l1c_slovenia_eolearn_2015_2017"
)
pytestmark = pytest.mark.skipif(not FOLDER.exists(), reason="../shared/data is not present")
BAND_INDEX = dict(
    zip(S2CLOUDLESS_BANDS, (1, 2, 4, 5, 8, 9, 10, 11, 12, 13), strict=True)
)  # B01 B02 B04 ... B12


def _scene(date: str) -> Path:
    return FOLDER / f"s2_l1c_slovenia_{date}_13band.tif"


def _dataset(array: np.ndarray, chunk: int) -> xr.Dataset:
    return xr.Dataset(
        {b: (("y", "x"), da.from_array(array[i - 1], chunks=chunk)) for b, i in BAND_INDEX.items()}
    )


def test_chunked_mask_equals_unchunked_on_a_half_cloudy_scene() -> None:
    with rasterio.open(_scene("20150711")) as clear, rasterio.open(_scene("20150731")) as cloudy:
        half = clear.read().astype("float32")
        half[:, :, 50:] = cloudy.read()[:, :, 50:].astype("float32")
    whole = s2cloudless_mask(_dataset(half, -1)).values
    assert 0.3 < whole.mean() < 0.7
    for chunk in (17, 32, 64):
        np.testing.assert_array_equal(s2cloudless_mask(_dataset(half, chunk)).values, whole)


def test_l1c_scenes_registered_by_analysts_get_s2cloudless_masks(tmp_path: Path) -> None:
    band_map = ",".join(f"{b}={i}" for b, i in {**BAND_INDEX, "green": 3}.items())
    for date in ("20150711", "20150731", "20150820", "20150830", "20150909"):
        result = CliRunner().invoke(app, ["catalog", "add", str(_scene(date)), "--catalog", str(tmp_path),
                                          "--band-map", band_map, "--datetime", date, "--platform", "sentinel-2a"])  # fmt: skip
        assert result.exit_code == 0, result.output
    source = StaticStacSource(
        SourceConfig(catalog=tmp_path / "catalog.json", bands={b: b for b in COMMON_BANDS})
    )
    with rasterio.open(_scene("20150711")) as ds:
        geobox = GeoBox((ds.height, ds.width), ds.transform, ds.crs)
    cloud = {}
    for scene in source.search((-180, -90, 180, 90), dt.date(2015, 1, 1), dt.date(2016, 1, 1)):
        ds = source.load(scene, ["green", *S2CLOUDLESS_BANDS, "scl"], geobox, 64, optional=("scl",))
        masks, kind = scene_masks(ds)
        assert kind == "s2cloudless"
        cloud[scene.date.isoformat()] = float(masks["cloud"].mean())
    # eo-learn's CLM (s2cloudless run by Sentinel Hub) calls 07-31 and 08-20 fully cloudy, the others clear.
    assert cloud["2015-07-31"] > 0.9 and cloud["2015-08-20"] > 0.9
    assert max(cloud["2015-07-11"], cloud["2015-08-30"], cloud["2015-09-09"]) < 0.05


PORTO = FOLDER.parents[1] / "tables" / "landsat8_sr_samples_porto_water_vegetation_urban.csv"


def test_spectral_tests_leave_real_water_vegetation_and_urban_pixels_clear() -> None:
    import pandas as pd

    from sensing.compute.clouds import spectral_cloud_masks

    table = pd.read_csv(PORTO)
    names = {
        "blue": "SR_B2",
        "green": "SR_B3",
        "red": "SR_B4",
        "nir": "SR_B5",
        "swir16": "SR_B6",
        "swir22": "SR_B7",
    }
    ds = xr.Dataset({b: ("sample", table[c].to_numpy("float32")) for b, c in names.items()})
    cloud, shadow = spectral_cloud_masks(ds)
    assert not cloud.values.any()
    assert not shadow.values[table["class"] == "Water"].any()


def test_spectral_tests_find_the_clouds_that_scl_flags(demo_root: Path) -> None:
    from sensing.compute.clouds import SPECTRAL_TEST_BANDS, spectral_cloud_masks
    from sensing.config import load_settings
    from sensing.grid import aoi_geobox

    settings = load_settings(demo_root / "config.yaml")
    source = StaticStacSource(settings.source)
    scene = source.search((76, 43, 79, 45), dt.date(2022, 5, 20), dt.date(2022, 5, 20))[0]
    ds = source.load(scene, [*SPECTRAL_TEST_BANDS, "scl"], aoi_geobox(settings.aoi), 512).compute()
    cloud, _ = spectral_cloud_masks(ds)
    scl = ds["scl"].values
    thick = np.isin(scl, (8, 9))
    assert thick.mean() > 0.3
    assert cloud.values[thick].mean() > 0.8  # the clouds SCL calls medium or high probability
    clear = np.isin(scl, (4, 5, 6))
    assert cloud.values[clear].mean() < 0.05  # salt crust is the main false alarm (no thermal band)
