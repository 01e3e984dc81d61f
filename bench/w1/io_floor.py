"""W1 contender (a), the I/O floor: read every input pixel, write the four outputs with no index math.

Usage: python bench/w1/io_floor.py --green B03.tif --red B04.tif --nir B08.tif --swir16 B11.tif --out DIR

Each band is read whole with rasterio (every pixel of every input, B11 at its own 20 m); the outputs
ndwi.tif, mndwi.tif, ndvi.tif (int16, scale 1e-4, nodata -32768, average overviews) and water.tif
(uint8, nodata 255, nearest overviews) are filled from a cast of B03 and written by GDAL's COG driver
with the product's encoding: DEFLATE with predictor 2, 512 px blocks, overviews down to one block.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import rasterio

OUTPUTS = {"ndwi": "int16", "mndwi": "int16", "ndvi": "int16", "water": "uint8"}


def main() -> None:
    parser = argparse.ArgumentParser()
    for band in ("green", "red", "nir", "swir16"):
        parser.add_argument(f"--{band}", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    checksum = 0
    for band in ("red", "nir", "swir16"):
        with rasterio.open(getattr(args, band)) as ds:
            checksum += int(ds.read(1)[::97, ::89].sum())  # read whole; a sparse sum keeps it used
    with rasterio.open(args.green) as ds:
        green, profile = ds.read(1), ds.profile
    for name, dtype in OUTPUTS.items():
        classes = dtype == "uint8"
        data = (green & 3).astype(dtype) if classes else green.astype(dtype)  # a cheap cast, no math
        cog = {
            "driver": "COG", "dtype": dtype, "count": 1, "width": profile["width"], "height": profile["height"],
            "crs": profile["crs"], "transform": profile["transform"], "nodata": 255 if classes else -32768,
            "compress": "DEFLATE", "predictor": 2, "blocksize": 512, "num_threads": "ALL_CPUS",
            "overview_resampling": "NEAREST" if classes else "AVERAGE",
        }  # fmt: skip
        with rasterio.open(args.out / f"{name}.tif", "w", **cog) as dst:
            dst.write(data, 1)
            if not classes:
                dst.scales, dst.offsets = (1e-4,), (0.0,)
    print(checksum)


if __name__ == "__main__":
    main()
