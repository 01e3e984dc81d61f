"""Our index and harmonisation code on real Sentinel-2 pixels from ../shared/data (read in place)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.features import geometry_mask

from sensing.compute.indices import compute_index
from sensing.sources.sentinel2 import l2a_offset

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "raster"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is not present")


def _bands(
    path: Path, mapping: dict[str, int], scale: float, offset: float, nodata: float | None
) -> xr.Dataset:
    with rasterio.open(path) as ds:
        data = {}
        for name, index in mapping.items():
            band = ds.read(index).astype("float64")
            if nodata is not None:
                band[band == nodata] = np.nan
            data[name] = xr.DataArray(band * scale + offset, dims=("y", "x"))
    return xr.Dataset(data)


def test_ndvi_agrees_with_sen2r_on_barbellino() -> None:
    """sen2r's own NDVI of the same BOA scene is an independent reference (int16 x 10000)."""
    folder = DATA / "s2_barbellino_sen2r"
    boa = _bands(folder / "S2A2A_20190723_022_Barbellino_BOA_10.tif", {"red": 4, "nir": 8}, 1e-4, 0.0, 65535)
    ours = compute_index("ndvi", boa).values
    with rasterio.open(folder / "S2A2A_20190723_022_Barbellino_NDVI_10.tif") as ds:
        reference = ds.read(1, masked=True).astype("float64") / 10000
    valid = ~reference.mask & np.isfinite(ours)
    assert valid.sum() > 900
    assert np.abs(ours[valid] - reference.data[valid]).max() <= 1.5e-4


def test_baseline_offset_recovers_water_on_amazon_l2a() -> None:
    """Values keep the +1000 DN of baseline >= 04.00: harmonised MNDWI marks the labelled water."""
    folder = DATA / "s2_l2a_amazon_rstoolbox"
    scale, offset = l2a_offset({"s2:processing_baseline": "04.00"}, dt.date(2023, 1, 1))
    bands = _bands(folder / "sen2_l2a_12band.tif", {"green": 3, "swir16": 11}, scale, offset, None)
    mndwi = compute_index("mndwi", bands).values
    polygons = json.loads((folder / "training_polygons.geojson").read_text())["features"]
    with rasterio.open(folder / "sen2_l2a_12band.tif") as ds:
        transform, shape = ds.transform, (ds.height, ds.width)

    def share_of_water(label: str) -> float:
        geoms = [f["geometry"] for f in polygons if f["properties"]["class"] == label]
        inside = ~geometry_mask(geoms, out_shape=shape, transform=transform)
        return float((mndwi[inside] > 0).mean())

    assert share_of_water("water") > 0.85
    assert share_of_water("forest") < 0.02
    # Without the offset water's MNDWI collapses towards land's: the classic baseline-04 bug.
    raw = compute_index(
        "mndwi", _bands(folder / "sen2_l2a_12band.tif", {"green": 3, "swir16": 11}, 1e-4, 0.0, None)
    )
    geoms = [f["geometry"] for f in polygons if f["properties"]["class"] == "water"]
    inside = ~geometry_mask(geoms, out_shape=shape, transform=transform)
    assert np.median(raw.values[inside]) < np.median(mndwi[inside]) - 0.2
