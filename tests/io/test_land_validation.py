"""Validation of the land indices and season statistics on real labelled data: the Amazon Sentinel-2
L2A training polygons (water, forest, village, dry-out) and the Slovenia land-cover reference
(cultivated, forest, grassland) under the 68-date NDVI stack with its cloud mask. The figures asserted
here are the table of docs/land.md."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import rioxarray
import xarray as xr
from rasterio.features import rasterize

from sensing.compute.catalogue import catalogue_index
from sensing.compute.composites import percentile_composite
from sensing.compute.separability import jeffries_matusita
from tests.conftest import SHARED_DATA

AMAZON = SHARED_DATA / "raster" / "s2_l2a_amazon_rstoolbox"
SLOVENIA = SHARED_DATA / "raster" / "s2_l1c_slovenia_eolearn_2015_2017"
pytestmark = pytest.mark.skipif(not AMAZON.exists(), reason="../shared/data is not present")
AMAZON_BANDS = ("coastal", "blue", "green", "red", "rededge1", "rededge2", "rededge3", "nir", "nir08", "wv",
                "swir16", "swir22")  # fmt: skip


def test_amazon_training_classes_are_told_apart_by_the_indices_meant_for_them() -> None:
    with rasterio.open(AMAZON / "sen2_l2a_12band.tif") as ds:
        reflectance = (ds.read().astype("float32") - 1000) / 10000  # BOA_ADD_OFFSET not applied upstream
        transform, shape = ds.transform, (ds.height, ds.width)
    bands = {name: xr.DataArray(reflectance[i], dims=("y", "x")) for i, name in enumerate(AMAZON_BANDS)}
    polygons = gpd.read_file(AMAZON / "training_polygons.geojson")
    labels = rasterize(
        [(g, ["dryout", "forest", "village", "water"].index(c) + 1) for g, c in zip(polygons.geometry, polygons["class"], strict=True)],
        out_shape=shape, transform=transform,
    )  # fmt: skip
    names = {1: "dryout", 2: "forest", 3: "village", 4: "water"}

    def jm(index: str, first: str, second: str) -> float:
        values = catalogue_index(index, bands).values
        code = {v: k for k, v in names.items()}
        return jeffries_matusita(values[labels == code[first]], values[labels == code[second]])

    # vegetation: forest apart from everything by NDVI
    assert min(jm("NDVI", "forest", other) for other in ("water", "village", "dryout")) > 1.9
    # water: apart from forest and village by MNDWI, from dry-out by NDWI
    assert jm("MNDWI", "water", "forest") > 1.95 and jm("MNDWI", "water", "village") > 1.9
    assert jm("NDWI", "water", "dryout") > 1.85
    # bare ground: village and dry-out look alike to every vegetation index; the salinity (brightness)
    # index separates them best, and only moderately
    assert max(jm(i, "village", "dryout") for i in ("NDVI", "EVI", "SAVI", "BI")) < 0.35
    assert 1.0 < jm("SI_Khan", "village", "dryout") < 1.4


def _slovenia(name: str) -> xr.DataArray:
    times = pd.to_datetime(pd.read_csv(SLOVENIA / "dates.csv")["acquisition_utc"]).dt.tz_localize(None)
    stack = rioxarray.open_rasterio(SLOVENIA / name, chunks={"band": -1})
    return stack.rename(band="time").assign_coords(time=times.to_numpy())


def test_slovenia_season_statistics_set_cultivated_land_apart_but_not_forest_from_grassland() -> None:
    ndvi, clm = _slovenia("ndvi_68dates.tif"), _slovenia("cloud_mask_clm_68dates.tif")
    with rasterio.open(SLOVENIA / "lulc_reference.tif") as ds:
        cover = ds.read(1)
    summer = percentile_composite(xr.Dataset({"ndvi": ndvi}), clm == 0, "season", quantiles=(0.5,))
    median = summer["ndvi"].sel(time="2016-06-01", quantile=0.5).values  # JJA 2016
    cultivated, forest, grassland = (median[cover == c] for c in (1, 2, 3))
    assert (
        np.nanmedian(cultivated) < np.nanmedian(forest) - 0.1
        and np.nanmedian(cultivated) < np.nanmedian(grassland) - 0.1
    )
    # JM 1.28 and 0.88: apart, not cleanly (11 cultivated pixels on this chip)
    assert jeffries_matusita(cultivated, forest) > 1.2 and jeffries_matusita(cultivated, grassland) > 0.8
    assert jeffries_matusita(forest, grassland) < 0.15  # 0.10: not separable by the summer median
