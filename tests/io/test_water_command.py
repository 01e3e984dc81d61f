"""`sensing water`, the one-scene quick look, on the real scenes of ../shared/data against their labels."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.features import geometry_mask
from shapely.geometry import shape
from typer.testing import CliRunner

from pipelines.cli import app
from sensing.publish.cog import validate_cog
from sensing.waterbodies import to_crs

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "raster"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is not present")
runner = CliRunner()
S2_SIX = "blue=2,green=3,red=4,nir=8,swir16=12,swir22=13"
"""The six reflective bands of the 13-band Slovenia L1C stacks."""


def _water(*args: str) -> tuple[np.ndarray, dict[str, float], rasterio.Affine, str]:
    """Run `sensing water`; return the class raster, the printed figures, its transform and CRS."""
    result = runner.invoke(app, ["water", *args])
    assert result.exit_code == 0, result.output
    out = Path(args[args.index("--out") + 1])
    validate_cog(out)
    figures = {
        key: float(value)
        for key, value in re.findall(
            r"^(water area|snow/ice area|threshold): (-?[\d.]+)", result.output, re.M
        )
    }
    figures["observed"] = float(re.search(r"observed: ([\d.]+)%", result.output).group(1))  # type: ignore[union-attr]
    with rasterio.open(out) as ds:
        return ds.read(1), figures, ds.transform, str(ds.crs)


def _rates(classes: np.ndarray, transform: rasterio.Affine, crs: str, labels: Path) -> dict[str, float]:
    """Fraction of each labelled class's pixels classified water."""
    features = json.loads(labels.read_text())["features"]
    rates: dict[str, list[int]] = {}
    for feature in features:
        inside = ~geometry_mask([to_crs(shape(feature["geometry"]), crs)], classes.shape, transform)
        counts = rates.setdefault(str(feature["properties"]["class"]), [0, 0])
        counts[0] += int((classes[inside] == 1).sum())
        counts[1] += int(inside.sum())
    return {name: wet / total for name, (wet, total) in rates.items() if total}


@pytest.mark.parametrize("date", ["20150711", "20150731", "20150820", "20150830", "20150909"])
def test_a_scene_without_water_gets_almost_none(date: str, tmp_path: Path) -> None:
    """Slovenia has no water body: global Otsu would split forest from fields and call one water."""
    scene = DATA / "s2_l1c_slovenia_eolearn_2015_2017" / f"s2_l1c_slovenia_{date}_13band.tif"
    classes, figures, _, _ = _water(str(scene), "--band-map", S2_SIX, "--out", str(tmp_path / "w.tif"))
    observed = (classes != 255) & (classes != 3)
    assert (classes[observed] == 1).mean() < 0.02 if observed.any() else figures["water area"] == 0


def test_landsat5_tm_from_its_mtl_finds_the_labelled_reservoir(tmp_path: Path) -> None:
    folder = DATA / "landsat5_tm_tucurui_19880814"
    classes, figures, transform, crs = _water(
        str(folder / "LT52240631988227CUB02_MTL.txt"), "--out", str(tmp_path / "w.tif")
    )
    rates = _rates(classes, transform, crs, folder / "training_polygons.geojson")
    assert rates["water"] > 0.95
    assert rates["forest"] < 0.01 and rates["cleared"] < 0.02 and rates["fallen_dry"] < 0.05
    assert 0.10 < figures["water area"] / (classes.size * 900 / 1e6) < 0.25  # the README's ~17 %


def test_sentinel2_l2a_in_a_geographic_grid_is_measured_in_km2(tmp_path: Path) -> None:
    """The Amazon chip is EPSG:4326 (about 10 m pixels) with the baseline-04 offset not applied."""
    folder = DATA / "s2_l2a_amazon_rstoolbox"
    classes, figures, transform, crs = _water(
        str(folder / "sen2_l2a_12band.tif"), "--band-map", "blue=2,green=3,red=4,nir=8,swir16=11,swir22=12",
        "--scale", "0.0001", "--offset", "-0.1", "--out", str(tmp_path / "w.tif"),
    )  # fmt: skip
    rates = _rates(classes, transform, crs, folder / "training_polygons.geojson")
    assert rates["water"] > 0.9 and rates["forest"] < 0.01 and rates["village"] < 0.02
    assert 0.05 < rates["dryout"] < 0.6  # drying lake beds: ambiguous, reported as they are
    # Pixel area at 1.47 S: (8.983e-5 deg)^2 in m on the WGS84 ellipsoid, about 99.5 m2.
    expected = (classes == 1).sum() * 99.5 / 1e6
    assert figures["water area"] == pytest.approx(expected, rel=0.01)


def test_landsat8_sr_labelled_points(tmp_path: Path) -> None:
    folder = DATA / "landsat8_sr_porto_velho_20190727"
    classes, _, transform, crs = _water(
        str(folder / "LC08_232066_20190727.tif"), "--band-map", "blue=1,green=2,red=3,nir=4,swir16=5,swir22=6",
        "--scale", "0.0001", "--nodata", "-9999", "--sensor", "landsat", "--out", str(tmp_path / "w.tif"),
    )  # fmt: skip
    points = json.loads((folder / "labelled_points_endmembers.geojson").read_text())["features"]
    inverse = ~transform
    for point in points:
        x, y = to_crs(shape(point["geometry"]), crs).coords[0]
        col, row = (int(v) for v in inverse * (x, y))
        assert (classes[row, col] == 1) == (point["properties"]["class"] == 0), point["properties"]


def test_bad_options_are_named(tmp_path: Path) -> None:
    scene = DATA / "s2_l1c_slovenia_eolearn_2015_2017" / "s2_l1c_slovenia_20150711_13band.tif"
    out = str(tmp_path / "w.tif")
    cases = [
        (["--band-map", "green=3,nir=8,swir16=12,red=4", "--method", "magic"], "--method"),
        (["--band-map", "green=3,nir=8,swir16=12,red=4", "--sensor", "modis"], "--sensor: 'modis'"),
        (["--band-map", "green=3,nir=8,swir16=12,purple=4"], "unknown band(s) ['purple']"),
        (["--band-map", "green=3,nir=8,swir16=12,red=40"], "has 13 band(s), fewer than asked"),
        (
            ["--band-map", "green=3,nir=8,swir16=12,red=4", "--index", "awei_sh"],
            "band(s) ['blue', 'swir22'] are needed (index awei_sh)",
        ),
    ]
    for options, message in cases:
        result = runner.invoke(app, ["water", str(scene), *options, "--out", out])
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split()), result.output
    assert not Path(out).exists()


@pytest.mark.parametrize("date", ["20170703", "20190723"])
def test_sentinel2_boa_agrees_with_sen2cor_water(date: str, tmp_path: Path) -> None:
    """Barbellino (an Alpine reservoir, sen2r BOA stacks of 11 bands): Sen2Cor's SCL water class."""
    folder = DATA / "s2_barbellino_sen2r"
    scene = folder / f"S2A2A_{date}_022_Barbellino_BOA_10.tif"
    classes, _, _, _ = _water(
        str(scene), "--band-map", "blue=2,green=3,red=4,nir=8,swir16=10,swir22=11", "--scale", "0.0001",
        "--nodata", "65535", "--out", str(tmp_path / "w.tif"),
    )  # fmt: skip
    with rasterio.open(folder / f"S2A2A_{date}_022_Barbellino_SCL_10.tif") as ds:
        scl = ds.read(1, out_shape=classes.shape, resampling=rasterio.enums.Resampling.nearest)
    assert (scl == 6).sum() >= 20
    assert (classes[scl == 6] == 1).mean() > 0.8  # Sen2Cor's water is water
    assert (classes[np.isin(scl, (4, 5))] == 1).mean() < 0.05  # its vegetation and bare soil are not
