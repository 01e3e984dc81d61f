"""Catalogue indices on real pixels: the project's published indices agree with spyndex, the five full
Slovenia scenes reproduce eo-learn's 68-date NDVI stack exactly through ``sensing index``, and AWEInsh
follows its paper where the catalogue does not."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import rasterio
import spyndex
import xarray as xr
from rio_cogeo.cogeo import cog_validate
from typer.testing import CliRunner

from pipelines.cli import app
from sensing.compute.catalogue import catalogue_index
from sensing.compute.indices import INDICES, compute_index
from tests.conftest import SHARED_DATA

SLOVENIA = SHARED_DATA / "raster" / "s2_l1c_slovenia_eolearn_2015_2017"
BAND_MAP = "blue=2,green=3,red=4,rededge1=5,rededge2=6,rededge3=7,nir=8,nir08=9,swir16=12,swir22=13"
pytestmark = pytest.mark.skipif(not SLOVENIA.exists(), reason="../shared/data is not present")


def _reflectance(scene: Path) -> xr.Dataset:
    with rasterio.open(scene) as ds:
        pixels = ds.read().astype("float32")
    names = {name: int(i) - 1 for name, i in (pair.split("=") for pair in BAND_MAP.split(","))}
    return xr.Dataset({name: (("y", "x"), pixels[i]) for name, i in names.items()})


def test_the_published_indices_equal_the_catalogue_on_real_pixels() -> None:
    bands = _reflectance(SLOVENIA / "s2_l1c_slovenia_20150711_13band.tif")
    symbols = {"blue": "B", "green": "G", "red": "R", "nir": "N", "swir16": "S1", "swir22": "S2"}
    for name in ("ndwi", "mndwi", "ndvi", "evi", "nbr", "ndmi", "bi"):  # every published catalogue index
        ours = compute_index(name, bands).values
        params = {symbols[b]: bands[b].values for b in INDICES[name][0]}
        constants = [c for c in spyndex.indices[name.upper()].bands if c in spyndex.constants]
        params |= {c: spyndex.constants[c].default for c in constants}  # EVI's g, C1, C2, L
        theirs = spyndex.computeIndex(index=name.upper(), params=params)
        np.testing.assert_allclose(ours, theirs, atol=1e-6, err_msg=name)  # float32 rounding
        np.testing.assert_allclose(catalogue_index(name, bands).values, theirs, atol=1e-6, err_msg=name)


def test_awei_nsh_follows_its_paper_not_the_catalogues_dropped_bracket() -> None:
    bands = _reflectance(SLOVENIA / "s2_l1c_slovenia_20150711_13band.tif")
    g, s1, n, s2 = (bands[b].values for b in ("green", "swir16", "nir", "swir22"))
    ours = catalogue_index("AWEInsh", bands).values
    np.testing.assert_allclose(ours, 4 * (g - s1) - (0.25 * n + 2.75 * s2), atol=1e-5)
    catalogue = spyndex.computeIndex(index="AWEInsh", params={"G": g, "S1": s1, "N": n, "S2": s2})
    np.testing.assert_allclose(catalogue - ours, 5.5 * s2, atol=1e-5)


def test_sensing_index_reproduces_the_ndvi_stack_of_the_five_full_scenes(tmp_path: Path) -> None:
    with (SLOVENIA / "dates.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["is_reference_scene"] == "1"]
    assert len(rows) == 5
    with rasterio.open(SLOVENIA / "ndvi_68dates.tif") as stack:
        for row in rows:
            day = row["acquisition_utc"][:10].replace("-", "")
            out = tmp_path / day
            done = CliRunner().invoke(app, [
                "index", str(SLOVENIA / f"s2_l1c_slovenia_{day}_13band.tif"), "--band-map", BAND_MAP,
                "--scale", "1", "--index", "NDVI,EVI,NBR", "--out", str(out),
            ])  # fmt: skip
            assert done.exit_code == 0, done.output
            with rasterio.open(out / "NDVI.tif") as ndvi:
                np.testing.assert_array_equal(ndvi.read(1), stack.read(int(row["band_index_1based"])))
            for name in ("NDVI", "EVI", "NBR"):
                assert cog_validate(str(out / f"{name}.tif"), strict=True)[0], name


def test_unknown_indices_and_missing_bands_are_named(tmp_path: Path) -> None:
    scene = str(SLOVENIA / "s2_l1c_slovenia_20150711_13band.tif")
    unknown = CliRunner().invoke(
        app, ["index", scene, "--band-map", BAND_MAP, "--index", "NDVII", "--out", str(tmp_path)]
    )
    assert unknown.exit_code == 2 and "'NDVII'" in unknown.output and "NDVI" in unknown.output
    missing = CliRunner().invoke(
        app,
        ["index", scene, "--band-map", "green=3,red=4,nir=8", "--index", "NDVI,EVI", "--out", str(tmp_path)],
    )
    assert missing.exit_code == 2 and "EVI needs band(s) ['blue']" in missing.output
    assert not list(tmp_path.glob("*.tif"))  # checked before any pixel is read


def test_the_salinity_index_is_khans_and_named_apart_from_the_catalogues_shadow_index() -> None:
    bands = _reflectance(SLOVENIA / "s2_l1c_slovenia_20150711_13band.tif")
    salinity = catalogue_index("si_khan", bands)
    assert salinity.name == "SI_Khan"
    np.testing.assert_allclose(
        salinity.values, np.sqrt(bands["blue"].values * bands["red"].values), rtol=1e-6
    )
    shadow = catalogue_index("SI", bands).values  # the catalogue's Shadow Index, untouched
    b, g, r = (bands[k].values for k in ("blue", "green", "red"))
    np.testing.assert_allclose(shadow, ((1 - b) * (1 - g) * (1 - r)) ** (1 / 3), rtol=1e-5)
