"""Hostile and damaged input files (issue 9, "Files"): each bad scene fails with a reason naming its band and
file, or is marked unusable with a reason; other scenes go on. Inputs open with GDAL's GTiff and JP2OpenJPEG
drivers only, so a VRT saved under a band's name is never followed (see sensing.sources.inputs)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
import xarray as xr
from odc.geo.geobox import GeoBox
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject
from typer.testing import CliRunner

from pipelines.cli import app
from sensing.config import Settings, SourceConfig, load_settings
from sensing.errors import ConfigError, SceneError
from sensing.grid import aoi_geobox
from sensing.models import SceneRef
from sensing.publish.layout import OutputLayout
from sensing.publish.tables import read_water_areas
from sensing.publish.verify import verify_outputs
from sensing.registry import load_water_bodies
from sensing.scene_water import input_errors_named
from sensing.sources.local import Registration, register_scene
from sensing.sources.stac import StaticStacSource
from sensing.workflow import process_scene, publish_run
from tests.conftest import SHARED_DATA, write_test_config

SCENE = "S2A_43TGJ_20210801_0_L2A"
BANDS = ["green", "red", "nir", "swir16", "scl"]
OPTIONAL = ("scl",)
BARBELLINO = SHARED_DATA / "raster" / "s2_barbellino_sen2r" / "S2A2A_20190723_022_Barbellino_BOA_10.tif"
REFUSED = r"not a GeoTIFF or JPEG2000: refused \(inputs open with GDAL's GTiff and JP2OpenJPEG only\)"


def _scene_folder(demo_root: Path, scene: str = SCENE) -> Path:
    return next((demo_root / "data" / "demo-archive").rglob(f"{scene}/{scene}.json")).parent


@pytest.fixture()
def scene(demo_root: Path, tmp_path: Path) -> Path:
    """A private copy of one demo scene's folder (its STAC item and COGs); returns the folder."""
    folder = tmp_path / "archive" / SCENE
    shutil.copytree(_scene_folder(demo_root), folder)
    return folder


def _ref(folder: Path) -> SceneRef:
    item = json.loads((folder / f"{folder.name}.json").read_text())
    when = dt.datetime.fromisoformat(item["properties"]["datetime"].replace("Z", "+00:00"))
    return SceneRef(
        folder.name, when, str(folder / f"{folder.name}.json"), item["collection"], platform="sentinel-2a"
    )


def _load(demo_root: Path, folder: Path, bands: list[str] = BANDS) -> xr.Dataset:
    """Load (lazily, then compute) the scene on the AOI grid as the flows do, read errors named."""
    settings = load_settings(demo_root / "config.yaml")
    source, ref = StaticStacSource(settings.source), _ref(folder)
    lazy = source.load(ref, bands, aoi_geobox(settings.aoi), 512, optional=OPTIONAL)
    with input_errors_named(source, ref, bands):
        return lazy.compute()


def _intact(demo_root: Path, band_file: str) -> np.ndarray:
    with rasterio.open(_scene_folder(demo_root) / band_file) as ds:
        return ds.read(1)


def _write(path: Path, data: np.ndarray, **profile: object) -> None:
    path.unlink()
    with rasterio.open(path, "w", **profile) as out:
        out.write(data if data.ndim == 3 else data[np.newaxis])


def _vrt(target: str, width: int = 1000, height: int = 1000) -> str:
    """A GDAL VRT whose single band is band 1 of ``target`` (any file GDAL can open, or raw bytes)."""
    raw = not target.endswith(".tif")
    band = (
        f'<VRTRasterBand dataType="Byte" band="1" subClass="VRTRawRasterBand"><SourceFilename relativeToVRT="0">'
        f"{target}</SourceFilename><ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset>"
        f"<LineOffset>{width}</LineOffset></VRTRasterBand>"
        if raw
        else f'<VRTRasterBand dataType="UInt16" band="1"><NoDataValue>0</NoDataValue><SimpleSource><SourceFilename '
        f'relativeToVRT="0">{target}</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand>'
    )
    return (
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>EPSG:32643</SRS>'
        f"<GeoTransform>669000,30,0,4875000,0,-30</GeoTransform>{band}</VRTDataset>"
    )


# --- damaged files ------------------------------------------------------------------------------------------


def test_a_zero_byte_band_is_refused_naming_band_and_file(demo_root: Path, scene: Path) -> None:
    (scene / "B04.tif").write_bytes(b"")
    with pytest.raises(
        SceneError, match=rf"{SCENE}: bad input: band red \(.*B04\.tif\): an empty file \(0 bytes\)"
    ):
        _load(demo_root, scene)


@pytest.mark.parametrize("keep", [5000, 1 / 3], ids=["header-only", "a-third"])
def test_a_truncated_band_fails_naming_band_file_and_reason(
    demo_root: Path, scene: Path, keep: float
) -> None:
    path = scene / "B11.tif"
    data = path.read_bytes()
    path.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])
    with pytest.raises(SceneError) as caught:
        _load(demo_root, scene)
    message = str(caught.value)
    assert f"{SCENE}: unreadable input: band swir16 (" in message and "B11.tif" in message
    assert "pixel data unreadable (truncated or corrupt file)" in message and "Read error" in message


def test_a_corrupt_band_fails_naming_band_file_and_reason(demo_root: Path, scene: Path) -> None:
    path = scene / "B04.tif"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 20_000] = (
        np.random.default_rng(9).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    )
    path.write_bytes(bytes(data))
    with pytest.raises(SceneError, match=r"band red \(.*B04\.tif\): pixel data unreadable \(truncated or corrupt "
                       r"file\): .*(Decoding error|Read error)"):  # fmt: skip
        _load(demo_root, scene)


# --- content that is not what the name says ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "what"),
    [
        ("html", "an HTML page"),
        ("png", "a PNG image"),
        ("json", "a JSON document"),
    ],
)
def test_content_that_is_not_a_geotiff_is_refused_naming_what_it_is(
    demo_root: Path, scene: Path, content: str, what: str
) -> None:
    path = scene / "B04.tif"
    if content == "html":  # what a CDN or a proxy serves with status 200 when a download goes wrong
        path.write_text(
            "<!DOCTYPE html>\n<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
        )
    elif content == "json":
        path.write_text('{"error": "AccessDenied", "message": "token expired"}')
    else:  # a PNG with the band's pixels: GDAL's PNG driver would read it, without any georeferencing
        data = _intact(demo_root, "B04.tif")
        _write(path, data, driver="PNG", width=data.shape[1], height=data.shape[0], count=1, dtype="uint16")
        for sidecar in scene.glob("*.aux.xml"):
            sidecar.unlink()
    with pytest.raises(SceneError, match=rf"{SCENE}: bad input: band red \(.*B04\.tif\): {what}, {REFUSED}"):
        _load(demo_root, scene)


def test_a_geotiff_without_georeferencing_is_refused(demo_root: Path, scene: Path) -> None:
    data = _intact(demo_root, "B08.tif")
    _write(scene / "B08.tif", data, driver="GTiff", width=1000, height=1000, count=1, dtype="uint16")
    with pytest.raises(
        SceneError, match=r"bad input: band nir \(.*B08\.tif\): has no CRS \(not georeferenced\)"
    ):
        _load(demo_root, scene)


@pytest.mark.parametrize("target", ["/etc/passwd", "other-scene"])
def test_a_vrt_renamed_tif_is_never_followed(demo_root: Path, scene: Path, target: str) -> None:
    """A GDAL VRT saved as B04.tif, pointing at a system file or at another scene's B04 (a valid raster
    on the same grid, which GDAL would otherwise read as this scene's red band without a word)."""
    if target == "other-scene":
        target = str(_scene_folder(demo_root, "S2B_43TGJ_20210907_0_L2A") / "B04.tif")
    (scene / "B04.tif").write_text(_vrt(target))
    with pytest.raises(SceneError, match=rf"bad input: band red \(.*B04\.tif\): a GDAL VRT .*, {REFUSED}"):
        _load(demo_root, scene)


def test_jpeg2000_bands_still_load_under_the_allow_list(demo_root: Path, scene: Path) -> None:
    """Copernicus Data Space serves JPEG2000: a lossless .jp2 band loads to the same values as its COG."""
    item_path = scene / f"{SCENE}.json"
    item = json.loads(item_path.read_text())
    rasterio.shutil.copy(
        scene / "B03.tif", scene / "B03.jp2", driver="JP2OpenJPEG", QUALITY=100, REVERSIBLE="YES"
    )
    item["assets"]["B03"].update(href="./B03.jp2", type="image/jp2")
    item_path.write_text(json.dumps(item))
    jp2 = _load(demo_root, scene, ["green"])
    cog = _load(demo_root, _scene_folder(demo_root), ["green"])
    np.testing.assert_array_equal(jp2["green"].values, cog["green"].values)


# --- band count ----------------------------------------------------------------------------------------------


def test_a_three_band_file_where_one_band_is_expected_is_refused(demo_root: Path, scene: Path) -> None:
    """An RGB preview saved as B03.tif: odc-stac would read its band 1 as green without a word."""
    data = _intact(demo_root, "B03.tif")
    with rasterio.open(scene / "B03.tif") as ds:
        profile = {**ds.profile, "count": 3}
    _write(scene / "B03.tif", np.stack([data, data // 2, data // 3]), **profile)
    with pytest.raises(
        SceneError, match=r"band green \(.*B03\.tif\): has 3 bands where the catalog declares 1"
    ):
        _load(demo_root, scene)


@pytest.mark.skipif(not BARBELLINO.exists(), reason="../shared/data is not present")
def test_an_analysts_multiband_file_missing_bands_is_refused_naming_the_band(tmp_path: Path) -> None:
    """Registered with SWIR as band 10, then overwritten by a 4-band export (B01-B04)."""
    file = tmp_path / "barbellino.tif"
    shutil.copy(BARBELLINO, file)  # the shared file is read in place; this private copy gets damaged
    bands = {"green": 3, "red": 4, "nir": 8, "swir16": 10}
    reg = Registration({b: (file, i) for b, i in bands.items()}, dt.datetime(2019, 7, 23, 10, tzinfo=dt.UTC),
                       "sentinel-2a", scale=dict.fromkeys(bands, 1e-4), id="barbellino")  # fmt: skip
    register_scene(reg, tmp_path / "catalog")
    with rasterio.open(file) as ds:
        profile, data = {**ds.profile, "count": 4}, ds.read([1, 2, 3, 4])
        geobox_args = ((ds.height, ds.width), ds.transform, ds.crs)
    _write(file, data, **profile)
    source = StaticStacSource(
        SourceConfig(catalog=tmp_path / "catalog" / "catalog.json", bands={b: b for b in bands})
    )
    (ref,) = source.search((-180, -90, 180, 90), dt.date(2019, 7, 23), dt.date(2019, 7, 23))
    with pytest.raises(SceneError, match=r"barbellino: bad input: band green \(.*barbellino\.tif\): has 4 bands "
                       r"where the catalog declares 11"):  # fmt: skip
        lazy = source.load(ref, list(bands), GeoBox(*geobox_args), 256)
        with input_errors_named(source, ref, list(bands)):
            lazy.compute()


def test_registering_a_vrt_renamed_tif_is_refused(tmp_path: Path) -> None:
    """``sensing catalog add`` opens the analyst's file with the same allow-list."""
    fake = tmp_path / "scene.tif"
    fake.write_text(_vrt("/etc/passwd"))
    reg = Registration({"green": (fake, 1)}, dt.datetime(2021, 8, 1, tzinfo=dt.UTC), "sentinel-2a")
    with pytest.raises(ConfigError, match=rf"scene\.tif: a GDAL VRT .*, {REFUSED}"):
        register_scene(reg, tmp_path / "catalog")
    result = CliRunner().invoke(app, ["catalog", "add", str(fake), "--catalog", str(tmp_path / "c2"),
                                      "--band-map", "green=1", "--datetime", "2021-08-01"])  # fmt: skip
    assert result.exit_code != 0 and "a GDAL VRT" in result.output


# --- CRS and resolution between the bands of one scene -----------------------------------------------------


def _reproject_band(path: Path, crs: str) -> dict[str, object]:
    """Rewrite a band in another CRS (nearest); return its new projection metadata."""
    with rasterio.open(path) as ds:
        transform, width, height = calculate_default_transform(ds.crs, crs, ds.width, ds.height, *ds.bounds)
        out = np.zeros((height, width), ds.dtypes[0])
        reproject(ds.read(1), out, src_transform=ds.transform, src_crs=ds.crs, dst_transform=transform,
                  dst_crs=crs, resampling=Resampling.nearest, src_nodata=0, dst_nodata=0)  # fmt: skip
        profile = {**ds.profile, "crs": crs, "transform": transform, "width": width, "height": height}
    _write(path, out, **profile)
    return {"proj:code": crs, "proj:shape": [height, width], "proj:transform": list(transform)[:6]}


def test_a_band_in_another_crs_than_its_catalog_says_fails_naming_both(demo_root: Path, scene: Path) -> None:
    """B03 re-exported in the next UTM zone while the item still declares zone 43 for every band."""
    _reproject_band(scene / "B03.tif", "EPSG:32644")
    with pytest.raises(SceneError, match=r"band green \(.*B03\.tif\): is in EPSG:32644 but the catalog declares "
                       r"EPSG:32643"):  # fmt: skip
        _load(demo_root, scene)


def test_a_band_declared_in_another_crs_is_reprojected_onto_the_grid(demo_root: Path, scene: Path) -> None:
    """Mixed CRSs that the catalog declares (an analyst's files, each with its own proj:code) are warped
    from each file's own CRS: the band lands where the unmodified one does."""
    item_path = scene / f"{SCENE}.json"
    item = json.loads(item_path.read_text())
    item["assets"]["B03"].update(_reproject_band(scene / "B03.tif", "EPSG:32644"))
    item_path.write_text(json.dumps(item))
    moved = _load(demo_root, scene, ["green"])["green"].values
    intact = _load(demo_root, _scene_folder(demo_root), ["green"])["green"].values
    both = ~np.isnan(moved) & ~np.isnan(intact)
    assert both.mean() > 0.99  # only a pixel-wide rim of the tile is lost to the two warps
    assert np.mean(moved[both] == intact[both]) > 0.95  # nearest twice: a few pixels move by one
    assert abs(np.nanmean(moved) - np.nanmean(intact)) < 1e-3


def test_bands_of_different_resolutions_are_resampled_onto_the_grid(demo_root: Path, scene: Path) -> None:
    """B11 is at 60 m in the demo (as Sentinel-2's 20 m bands are coarser than 10 m), and B03 is replaced by a
    120 m file the item still describes at 30 m: both are resampled (nearest) onto the 30 m grid."""
    with rasterio.open(scene / "B03.tif") as ds:
        coarse = ds.read(1, out_shape=(250, 250), resampling=Resampling.nearest)
        profile = {**ds.profile, "width": 250, "height": 250, "transform": ds.transform * ds.transform.scale(4, 4),
                   "blockxsize": 128, "blockysize": 128}  # fmt: skip
    _write(scene / "B03.tif", coarse, **profile)
    loaded = _load(demo_root, scene, ["green", "swir16"])
    green, swir = loaded["green"].values, loaded["swir16"].values
    assert green.shape == swir.shape == (1000, 1000) and not np.isnan(green).any()
    np.testing.assert_allclose(green, np.repeat(np.repeat(coarse, 4, 0), 4, 1) * 1e-4, rtol=1e-6)
    np.testing.assert_allclose(swir[::2, ::2] / 1e-4, _intact(demo_root, "B11.tif"), rtol=1e-5)


# --- scenes with nothing to see ----------------------------------------------------------------------------


def _settings(tmp_path: Path) -> Settings:
    """Demo settings writing their outputs under ``tmp_path`` (scenes are given by reference, not searched)."""
    return load_settings(write_test_config(tmp_path / "run"))


def _blank(folder: Path, value: int, files: tuple[str, ...]) -> None:
    """Overwrite ``files`` of the scene with ``value`` everywhere (same grid and profile)."""
    for name in files:
        with rasterio.open(folder / name) as ds:
            profile, shape = ds.profile, (ds.height, ds.width)
        _write(folder / name, np.full(shape, value, dtype=profile["dtype"]), **profile)


def test_an_all_nodata_scene_fails_with_its_reason_and_publishes_nothing(
    demo_root: Path, scene: Path, tmp_path: Path
) -> None:
    _blank(scene, 0, ("B02.tif", "B03.tif", "B04.tif", "B08.tif", "B11.tif", "B12.tif", "SCL.tif"))
    settings = _settings(tmp_path)
    bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
    with pytest.raises(SceneError, match=rf"{SCENE}: no valid pixel over AOI kapchagay-dam"):
        process_scene(settings, StaticStacSource(settings.source), _ref(scene), bodies)
    layout = OutputLayout(settings.output_dir)
    assert not layout.item("water", settings.aoi.id, dt.date(2021, 8, 1)).exists()
    report = verify_outputs(layout.root)
    assert report.findings == [], report.findings  # no orphan layer left behind by the failed scene


def test_forcing_a_published_date_again_over_an_all_nodata_scene_keeps_what_was_published(
    demo_root: Path, scene: Path, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
    process_scene(settings, StaticStacSource(settings.source), _ref(scene), bodies)
    layers = sorted((settings.output_dir / "layers").rglob("*.tif"))
    before = {path: path.read_bytes() for path in layers}
    _blank(scene, 0, ("B02.tif", "B03.tif", "B04.tif", "B08.tif", "B11.tif", "B12.tif", "SCL.tif"))
    with pytest.raises(SceneError, match="no valid pixel"):
        process_scene(settings, StaticStacSource(settings.source), _ref(scene), bodies, force=True)
    assert len(before) >= 4 and all(path.read_bytes() == data for path, data in before.items())
    assert verify_outputs(settings.output_dir).findings == []


def test_an_all_cloud_scene_is_published_as_cloud_and_its_areas_are_unusable(
    demo_root: Path, scene: Path, tmp_path: Path
) -> None:
    _blank(scene, 9, ("SCL.tif",))  # Sen2Cor: cloud, high probability, over the whole tile
    settings = _settings(tmp_path)
    bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
    result = process_scene(settings, StaticStacSource(settings.source), _ref(scene), bodies)
    assert result.status == "processed" and result.areas
    for row in result.areas:
        assert not row.usable and row.quality == "cloudy" and row.valid_fraction == 0
        assert row.reason == "100% of the outline unobserved (100% cloud or shadow, 0% no data)"
    publish_run(settings, [result])
    layout = OutputLayout(settings.output_dir)
    item = json.loads(layout.item("water", settings.aoi.id, dt.date(2021, 8, 1)).read_text())
    assert item["properties"]["eo:cloud_cover"] == 100  # the layer says what was seen: cloud
    table = read_water_areas(layout.water_areas)
    assert len(table) == len(result.areas) and not table.usable.any() and set(table.quality) == {"cloudy"}
    assert verify_outputs(layout.root).findings == []


# --- one night over a damaged archive ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_night_over_damaged_scenes_fails_each_with_its_reason_and_publishes_the_rest(
    demo_copy: Path, prefect_api: None
) -> None:
    from pipelines.flows import reprocess

    config = demo_copy / "config.yaml"
    settings = load_settings(config)

    def folder(scene: str) -> Path:
        return _scene_folder(demo_copy, scene)

    (folder("S2B_43TGJ_20210907_0_L2A") / "B04.tif").write_bytes(b"")
    (folder("S2A_43TGJ_20211013_0_L2A") / "B03.tif").write_text(_vrt(str(folder(SCENE) / "B03.tif")))
    truncated = folder("S2B_43TGJ_20211119_0_L2A") / "B11.tif"
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 3])
    three_bands = folder("S2A_43TGJ_20211225_0_L2A") / "B08.tif"
    with rasterio.open(three_bands) as ds:
        profile, nir = {**ds.profile, "count": 3}, ds.read(1)
    _write(three_bands, np.stack([nir, nir, nir]), **profile)
    _blank(folder("S2B_43TGJ_20220131_0_L2A"), 0, ("B02.tif", "B03.tif", "B04.tif", "B08.tif", "B11.tif",
                                                  "B12.tif", "SCL.tif"))  # fmt: skip
    summary = reprocess(
        aoi="kapchagay-dam", start=dt.date(2021, 8, 1), end=dt.date(2022, 3, 8), config=str(config)
    )

    assert summary["scenes"] == {"processed": 2, "skipped": 0, "failed": 5}
    reasons = {f["scene"]: f["reason"] for f in summary["failed"]}
    expected = {
        "S2B_43TGJ_20210907_0_L2A": r"band red \(.*B04\.tif\): an empty file \(0 bytes\)",
        "S2A_43TGJ_20211013_0_L2A": r"band green \(.*B03\.tif\): a GDAL VRT",
        "S2B_43TGJ_20211119_0_L2A": r"band swir16 \(.*B11\.tif\): pixel data unreadable \(truncated or corrupt",
        "S2A_43TGJ_20211225_0_L2A": r"band nir \(.*B08\.tif\): has 3 bands where the catalog declares 1",
        "S2B_43TGJ_20220131_0_L2A": r"no valid pixel over AOI kapchagay-dam",
    }
    assert set(reasons) == set(expected)
    for scene, pattern in expected.items():
        assert re.search(rf"SceneError: {scene}: .*{pattern}", reasons[scene]), reasons[scene]

    layout = OutputLayout(settings.output_dir)
    index = json.loads(layout.layer_index.read_text())["layers"]
    assert {e["date"] for e in index if e["product"] == "water"} == {"2021-08-01", "2022-03-08"}
    (report,) = layout.runs.glob("*.json")
    assert {f["scene"] for f in json.loads(report.read_text())["failed"]} == set(expected)
    table = read_water_areas(layout.water_areas)
    kapchagay = table[table.water_body == "kapchagay"].set_index("date")
    assert kapchagay.loc["2021-08-01"].usable and kapchagay.loc["2022-03-08"].quality != "failed"
    for scene in expected:
        row = kapchagay.loc[f"{scene[10:14]}-{scene[14:16]}-{scene[16:18]}"]
        assert row.quality == "failed" and not row.usable and np.isnan(row.water_km2) and row.reason
    verified = CliRunner().invoke(app, ["verify", "--config", str(config)])
    assert verified.exit_code == 0, verified.output
