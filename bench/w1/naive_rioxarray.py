"""W1 contender (b): the straightforward script an analyst writes with rioxarray + Dask.

Usage: python bench/w1/naive_rioxarray.py --green B03.tif --red B04.tif --nir B08.tif --swir16 B11.tif --out DIR

Library defaults throughout: bands opened lazily (chunks=True, masked, so float32), reflectance from the
files' scale/offset, B11 brought to 10 m with rioxarray's reproject_match, float32 index arithmetic,
Otsu's threshold (scikit-image) on the computed MNDWI, and each product written with
``.rio.to_raster(driver="COG")``: NDWI, MNDWI, NDVI as int16 scaled 1e-4 and the water classes as uint8.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import rioxarray
import xarray as xr
from rasterio.enums import Resampling
from skimage.filters import threshold_otsu


def reflectance(path: Path, scale: float, offset: float) -> xr.DataArray:
    band = rioxarray.open_rasterio(path, chunks=True, masked=True).squeeze("band", drop=True)
    return band * scale + offset


def write_index(index: xr.DataArray, path: Path) -> None:
    stored = (index * 10000).round().fillna(-32768).astype("int16")
    stored = stored.rio.write_nodata(-32768)
    stored.rio.to_raster(path, driver="COG", compress="DEFLATE", predictor=2, blocksize=512)


def main() -> None:
    parser = argparse.ArgumentParser()
    for band in ("green", "red", "nir", "swir16"):
        parser.add_argument(f"--{band}", type=Path, required=True)
    parser.add_argument("--scale", type=float, default=1e-4, help="L2A reflectance = DN * scale + offset")
    parser.add_argument("--offset", type=float, default=0.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    green, red, nir = (
        reflectance(path, args.scale, args.offset) for path in (args.green, args.red, args.nir)
    )
    swir16 = reflectance(args.swir16, args.scale, args.offset)
    swir16 = swir16.rio.reproject_match(green, resampling=Resampling.bilinear)
    ndwi = (green - nir) / (green + nir)
    mndwi = (green - swir16) / (green + swir16)
    ndvi = (nir - red) / (nir + red)
    for name, index in {"ndwi": ndwi, "mndwi": mndwi, "ndvi": ndvi}.items():
        write_index(index, args.out / f"{name}.tif")
    values = mndwi.values
    threshold = threshold_otsu(values[np.isfinite(values)])
    water = xr.where(np.isfinite(mndwi), (mndwi > threshold).astype("uint8"), 255).astype("uint8")
    water = water.rio.write_nodata(255)
    water.rio.to_raster(args.out / "water.tif", driver="COG", compress="DEFLATE", predictor=2, blocksize=512)
    print(f"threshold {threshold:.4f}")


if __name__ == "__main__":
    main()
