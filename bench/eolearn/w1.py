"""W1 contender (eo-learn): one full Sentinel-2 tile, the way an analyst writes it with eo-learn.

Usage (from the eo-learn venv, see bench/eolearn/setup.sh):
    python bench/eolearn/w1.py --green B03.tif --red B04.tif --nir B08.tif --swir16 B11.tif --out DIR \
        [--scale 0.0001] [--offset -0.1]

One EOWorkflow of eo-learn tasks over one EOPatch (timeless features: a single scene):
ImportFromTiffTask for each band (B11 at 20 m), SpatialResizeTask (nearest, x2) to bring B11 to 10 m,
MergeFeatureTask into one band stack, a MapFeatureTask from DN to reflectance (DN * scale + offset, DN 0
is nodata -> NaN), NormalizedDifferenceIndexTask for NDWI (green, nir), MNDWI (green, swir16) and NDVI
(nir, red), a thresholding EOTask as in eo-learn's water-monitor example (Otsu of MNDWI over the valid
pixels; water = MNDWI > threshold; uint8 classes 0 dry, 1 water, 255 nodata), a MapFeatureTask to int16
scaled 1e-4 (nodata -32768, clipped to +-32767) and ExportToTiffTask for ndwi.tif, mndwi.tif, ndvi.tif and water.tif.

Scale and offset come from each GeoTIFF's own band scale/offset where set (not 1/0), else from the CLI.
Prints one JSON line at the end: threshold, water pixel count, seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from eolearn.core import (
    EOPatch,
    EOTask,
    EOWorkflow,
    FeatureType,
    MapFeatureTask,
    MergeFeatureTask,
    OutputTask,
    RemoveFeatureTask,
    linearly_connect_tasks,
)
from eolearn.features import NormalizedDifferenceIndexTask
from eolearn.features.feature_manipulation import SpatialResizeTask
from eolearn.features.utils import ResizeMethod, ResizeParam
from eolearn.io import ExportToTiffTask, ImportFromTiffTask
from skimage.filters import threshold_otsu

BANDS = ("green", "red", "nir", "swir16")  # order of the band stack
INDICES = {"NDWI": ("green", "nir"), "MNDWI": ("green", "swir16"), "NDVI": ("nir", "red")}
INDEX_SCALE = 1e-4
INDEX_NODATA = -32768
WATER_NODATA = 255

DATA = FeatureType.DATA_TIMELESS
MASK = FeatureType.MASK_TIMELESS


def band_scaling(path: Path, default_scale: float, default_offset: float) -> tuple[float, float]:
    """The file's own band scale/offset where set, else the defaults."""
    with rasterio.open(path) as src:
        scale, offset = float(src.scales[0]), float(src.offsets[0])
    if scale == 1.0 and offset == 0.0:
        return default_scale, default_offset
    return scale, offset


class ToReflectanceTask(MapFeatureTask):
    """uint16 DN stack -> float32 reflectance (DN * scale + offset per band); DN 0 (nodata) -> NaN."""

    def __init__(self, input_feature, output_feature, scales: list[float], offsets: list[float]):
        super().__init__(input_feature, output_feature)
        self.scales = np.asarray(scales, dtype=np.float32)
        self.offsets = np.asarray(offsets, dtype=np.float32)

    def map_method(self, dn: np.ndarray) -> np.ndarray:
        reflectance = dn.astype(np.float32) * self.scales + self.offsets
        reflectance[dn == 0] = np.nan
        return reflectance


class WaterThresholdTask(EOTask):
    """Otsu threshold of the index over its valid pixels (eo-learn water-monitor example's detector);
    classes uint8: 0 dry, 1 water, 255 nodata."""

    def __init__(self, index_feature, water_feature, threshold_feature):
        self.index_feature = self.parse_feature(index_feature)
        self.water_feature = self.parse_feature(water_feature)
        self.threshold_feature = self.parse_feature(threshold_feature)

    def execute(self, eopatch: EOPatch) -> EOPatch:
        index = eopatch[self.index_feature][..., 0]
        valid = np.isfinite(index)
        threshold = float(threshold_otsu(index[valid]))
        water = np.full(index.shape, WATER_NODATA, dtype=np.uint8)
        water[valid] = index[valid] > threshold
        eopatch[self.water_feature] = water[..., np.newaxis]
        eopatch[self.threshold_feature] = np.array([threshold])
        return eopatch


def to_scaled_int16(index: np.ndarray) -> np.ndarray:
    """value = round(index / 1e-4) as int16, NaN -> -32768; clipped to +-32767 (negative L2A reflectance over
    water can push an index past +-3.2767, which a bare cast would wrap around)."""
    stored = np.clip(np.round(index / INDEX_SCALE), -32767, 32767)
    return np.where(np.isfinite(stored), stored, INDEX_NODATA).astype(np.int16)


def build_workflow(paths: dict[str, Path], scalings: dict[str, tuple[float, float]], out: Path):
    imports = [ImportFromTiffTask((DATA, band), str(paths[band])) for band in BANDS]
    upsample = SpatialResizeTask(
        features=[(DATA, "swir16")],
        resize_type=ResizeParam.SCALE_FACTORS,
        height_param=2,
        width_param=2,
        resize_method=ResizeMethod.NEAREST,
    )
    stack = MergeFeatureTask({DATA: list(BANDS)}, (DATA, "BANDS_DN"))
    drop_bands = RemoveFeatureTask({DATA: list(BANDS)})
    reflectance = ToReflectanceTask(
        (DATA, "BANDS_DN"),
        (DATA, "BANDS"),
        scales=[scalings[b][0] for b in BANDS],
        offsets=[scalings[b][1] for b in BANDS],
    )
    ndis = [
        NormalizedDifferenceIndexTask((DATA, "BANDS"), (DATA, name), (BANDS.index(a), BANDS.index(b)))
        for name, (a, b) in INDICES.items()
    ]
    water = WaterThresholdTask((DATA, "MNDWI"), (MASK, "WATER"), (FeatureType.SCALAR_TIMELESS, "THRESHOLD"))
    scale = MapFeatureTask({DATA: list(INDICES)}, {DATA: [f"{n}_INT16" for n in INDICES]}, to_scaled_int16)
    exports = [
        ExportToTiffTask(
            (DATA, f"{n}_INT16"),
            str(out / f"{n.lower()}.tif"),
            no_data_value=INDEX_NODATA,
            compress="deflate",
        )
        for n in INDICES
    ]
    exports.append(
        ExportToTiffTask(
            (MASK, "WATER"), str(out / "water.tif"), no_data_value=WATER_NODATA, compress="deflate"
        )
    )
    output = OutputTask("result", features=[(FeatureType.SCALAR_TIMELESS, "THRESHOLD"), (MASK, "WATER")])
    nodes = linearly_connect_tasks(
        *imports, upsample, stack, drop_bands, reflectance, *ndis, water, scale, *exports, output
    )
    return EOWorkflow(nodes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for band in BANDS:
        parser.add_argument(f"--{band}", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scale", type=float, default=0.0001, help="DN scale where the file sets none")
    parser.add_argument(
        "--offset", type=float, default=-0.1, help="reflectance offset where the file sets none"
    )
    args = parser.parse_args()

    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    paths = {b: getattr(args, b).resolve() for b in BANDS}
    scalings = {b: band_scaling(paths[b], args.scale, args.offset) for b in BANDS}
    workflow = build_workflow(paths, scalings, args.out.resolve())
    results = workflow.execute()  # raises on a failed task
    patch = results.outputs["result"]
    threshold = float(patch[FeatureType.SCALAR_TIMELESS, "THRESHOLD"][0])
    water_pixels = int(np.count_nonzero(patch[MASK, "WATER"] == 1))
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {"threshold": round(threshold, 6), "water_pixels": water_pixels, "seconds": round(seconds, 3)}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
