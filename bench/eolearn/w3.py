"""W3 contender (eo-learn): one water body through time, the eo-learn water-monitoring way.

Usage (from the eo-learn venv, see bench/eolearn/setup.sh):
    python bench/eolearn/w3.py --archive DIR --water-bodies configs/water_bodies/demo.yaml --body kapchagay \
        [--index mndwi|ndwi] --out areas.csv [--workers 1]

The method of eo-learn's water-monitor example (examples/water-monitor/WaterMonitorWorkflow.ipynb), written
as EOTasks in one EOWorkflow run by an EOExecutor over the archive's items (one EOPatch per date):

* the static STAC archive's items are read from ``catalog.json`` -> collection -> items; each date's bands
  are imported with ImportFromTiffTask into an EOPatch whose bbox is the water body's outline bbox buffered
  by 500 m (snapped to the 20 m grid so that 10 m and 20 m windows align), in the archive's CRS;
* SpatialResizeTask (nearest, x2) brings the 20 m bands (B11, SCL) to 10 m; a DN-to-reflectance EOTask
  uses each item's ``raster:bands`` scale/offset (they change with processing baseline 04.00);
* NormalizedDifferenceIndexTask computes the index (MNDWI = green/swir16 by default, or NDWI = green/nir);
* the valid mask from SCL (invalid: 0 nodata, 1 saturated, 3 cloud shadow, 8/9 cloud, 10 cirrus and 11 snow,
  snow counting as not-water), the example's cloud/validity mask step;
* VectorToRasterTask burns the nominal outline, dilated (``buffer``) by --outline-buffer-m, as the example's
  NOMINAL_WATER;
* Canny edges of the index (skimage.feature.canny), dilated with MorphologicalFilterTask;
* the water detector: Otsu (skimage.filters.threshold_otsu) over the valid pixels near edges inside the
  dilated outline, falling back to Otsu over the dilated outline's valid pixels; water = index > threshold
  inside the dilated outline; area = water pixels x pixel area.

Writes a CSV with columns date, item_id, threshold, water_km2, valid_fraction and prints total seconds.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
import yaml
from eolearn.core import (
    CreateEOPatchTask,
    EOExecutor,
    EOPatch,
    EOTask,
    EOWorkflow,
    FeatureType,
    MergeFeatureTask,
    OutputTask,
    ZipFeatureTask,
    linearly_connect_tasks,
)
from eolearn.features import NormalizedDifferenceIndexTask
from eolearn.features.feature_manipulation import SpatialResizeTask
from eolearn.features.utils import ResizeMethod, ResizeParam
from eolearn.geometry import (
    MorphologicalFilterTask,
    MorphologicalOperations,
    MorphologicalStructFactory,
    VectorToRasterTask,
)
from eolearn.io import ImportFromTiffTask
from sentinelhub import CRS, BBox
from shapely.geometry import box
from skimage.feature import canny
from skimage.filters import threshold_otsu

COLLECTION = "sentinel-2-l2a-demo"
INDEX_BANDS = {"mndwi": ("B03", "B11"), "ndwi": ("B03", "B08")}  # (a, b) of (a - b) / (a + b)
COARSE = {"B11", "B12", "SCL"}  # 20 m assets
INVALID_SCL = (0, 1, 3, 8, 9, 10, 11)  # nodata, saturated, cloud shadow, cloud medium/high, cirrus, snow
BBOX_BUFFER_M = 500.0
MIN_EDGE_SAMPLES = 100  # fewer valid pixels near edges inside the outline: Otsu over the outline instead

DATA, MASK = FeatureType.DATA, FeatureType.MASK
SCALAR = FeatureType.SCALAR


# --- inputs: the water body's outline and the archive's items -------------------------------------------------


def read_outline(registry: Path, body_id: str) -> shapely.Geometry:
    """The body's nominal outline (EPSG:4326): the union of the hydrography features matching
    ``outline.match`` (every feature when no match is given) clipped to the entry's bbox."""
    doc = yaml.safe_load(registry.read_text(encoding="utf-8"))
    entries = {e["id"]: e for e in doc["water_bodies"]}
    if body_id not in entries:
        raise SystemExit(f"{registry}: no water body {body_id!r} (have {sorted(entries)})")
    entry = entries[body_id]
    outline_cfg = entry.get("outline") or {}
    source = registry.parent / (outline_cfg.get("file") or doc["hydrography"])
    frame = gpd.read_file(source).to_crs("EPSG:4326")
    for column, value in (outline_cfg.get("match") or {}).items():
        frame = frame[frame[column].astype(str) == str(value)]
    clip = box(*entry["bbox"])
    geometries = [shapely.make_valid(g) for g in frame.geometry if g is not None and g.intersects(clip)]
    if not geometries:
        raise SystemExit(f"{registry}: {body_id}: no outline feature inside bbox {entry['bbox']}")
    outline = shapely.union_all(geometries).intersection(clip)
    polygons = [p for p in shapely.get_parts(outline) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(polygons)


def read_items(archive: Path) -> list[dict]:
    """The Sentinel-2 items of the static catalog (catalog -> collection -> items), by date."""
    catalog_path = archive / "catalog.json"
    catalog = json.loads(catalog_path.read_text())
    items = []
    for child in (link for link in catalog["links"] if link["rel"] == "child"):
        collection_path = (catalog_path.parent / child["href"]).resolve()
        collection = json.loads(collection_path.read_text())
        if collection["id"] != COLLECTION:
            continue
        for link in (link for link in collection["links"] if link["rel"] == "item"):
            item_path = (collection_path.parent / link["href"]).resolve()
            item = json.loads(item_path.read_text())
            item["_dir"] = item_path.parent
            items.append(item)
    if not items:
        raise SystemExit(f"{archive}: no {COLLECTION} items")
    return sorted(items, key=lambda i: i["properties"]["datetime"])


def asset_path(item: dict, band: str) -> Path:
    return (item["_dir"] / item["assets"][band]["href"]).resolve()


def asset_scaling(item: dict, band: str) -> tuple[float, float]:
    raster = item["assets"][band].get("raster:bands", [{}])[0]
    return float(raster.get("scale", 1.0)), float(raster.get("offset", 0.0))


def item_datetime(item: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(item["properties"]["datetime"].replace("Z", "+00:00")).replace(
        tzinfo=None
    )


def patch_bbox(outline_utm: shapely.Geometry, fine_tif: Path, buffer_m: float) -> tuple[BBox, float]:
    """The outline's bbox buffered by ``buffer_m``, snapped outwards to the 20 m grid and clipped to the image,
    as a sentinelhub BBox in the image CRS; and the 10 m pixel size."""
    with rasterio.open(fine_tif) as src:
        res = src.transform.a
        west, south, east, north = src.bounds
        epsg = src.crs.to_epsg()
    step = 2 * res
    minx, miny, maxx, maxy = outline_utm.buffer(buffer_m).bounds
    minx = max(west, west + math.floor((minx - west) / step) * step)
    maxx = min(east, west + math.ceil((maxx - west) / step) * step)
    maxy = min(north, north - math.floor((north - maxy) / step) * step)
    miny = max(south, north - math.ceil((north - miny) / step) * step)
    if minx >= maxx or miny >= maxy:
        raise SystemExit(
            f"the outline's bbox (+{buffer_m:g} m) misses the archive's grid {(west, south, east, north)}"
        )
    return BBox((minx, miny, maxx, maxy), crs=CRS(epsg)), res


# --- EOTasks ------------------------------------------------------------------------------------------------------


class ToReflectanceTask(EOTask):
    """DN -> reflectance (DN * scale + offset, per date from the item's raster:bands); DN 0 -> NaN."""

    def __init__(self, input_feature, output_feature):
        self.input_feature = self.parse_feature(input_feature)
        self.output_feature = self.parse_feature(output_feature)

    def execute(self, eopatch: EOPatch, *, scale: float, offset: float) -> EOPatch:
        dn = eopatch[self.input_feature]
        reflectance = dn.astype(np.float32) * np.float32(scale) + np.float32(offset)
        reflectance[dn == 0] = np.nan
        eopatch[self.output_feature] = reflectance
        return eopatch


def valid_mask(scl: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Valid pixels: SCL not nodata/saturated/shadow/cloud/cirrus/snow, and a finite index."""
    return ~np.isin(scl, INVALID_SCL) & np.isfinite(index)


class CannyEdgesTask(EOTask):
    """Canny edges (skimage.feature.canny) of the index over the valid pixels, per date."""

    def __init__(self, index_feature, valid_feature, edges_feature, sigma: float):
        self.index_feature = self.parse_feature(index_feature)
        self.valid_feature = self.parse_feature(valid_feature)
        self.edges_feature = self.parse_feature(edges_feature)
        self.sigma = sigma

    def execute(self, eopatch: EOPatch) -> EOPatch:
        index, valid = eopatch[self.index_feature][..., 0], eopatch[self.valid_feature][..., 0]
        edges = np.zeros(index.shape, dtype=bool)
        for t in range(index.shape[0]):
            filled = np.where(valid[t], index[t], 0.0).astype(np.float64)
            edges[t] = canny(filled, sigma=self.sigma, mask=valid[t])
        eopatch[self.edges_feature] = edges[..., np.newaxis]
        return eopatch


class WaterDetectionTask(EOTask):
    """The water-monitor example's detector, edge-based: per date, Otsu over valid pixels near edges inside the
    dilated nominal outline (fallback: over the outline's valid pixels); water = index > threshold inside it."""

    def __init__(self, index_feature, valid_feature, near_edges_feature, nominal_feature, pixel_km2: float):
        self.index_feature = self.parse_feature(index_feature)
        self.valid_feature = self.parse_feature(valid_feature)
        self.near_edges_feature = self.parse_feature(near_edges_feature)
        self.nominal_feature = self.parse_feature(nominal_feature)
        self.pixel_km2 = pixel_km2

    def execute(self, eopatch: EOPatch) -> EOPatch:
        index = eopatch[self.index_feature][..., 0]
        valid = eopatch[self.valid_feature][..., 0]
        near_edges = eopatch[self.near_edges_feature][..., 0]
        nominal = eopatch[self.nominal_feature][..., 0].astype(bool)
        thresholds, areas, valid_fractions, water_masks = [], [], [], []
        for t in range(index.shape[0]):
            inside = valid[t] & nominal
            samples = index[t][inside & near_edges[t]]
            if samples.size < MIN_EDGE_SAMPLES:
                samples = index[t][inside]
            threshold = float(threshold_otsu(samples)) if np.unique(samples).size > 1 else float("nan")
            water = inside & (index[t] > threshold)
            thresholds.append(threshold)
            areas.append(np.count_nonzero(water) * self.pixel_km2)
            valid_fractions.append(np.count_nonzero(inside) / max(np.count_nonzero(nominal), 1))
            water_masks.append(water)
        eopatch[MASK, "WATER_MASK"] = np.asarray(water_masks)[..., np.newaxis]
        eopatch[SCALAR, "THRESHOLD"] = np.asarray(thresholds)[:, np.newaxis]
        eopatch[SCALAR, "WATER_KM2"] = np.asarray(areas)[:, np.newaxis]
        eopatch[SCALAR, "VALID_FRACTION"] = np.asarray(valid_fractions)[:, np.newaxis]
        return eopatch


# --- workflow -----------------------------------------------------------------------------------------------------


def build_workflow(collection_dir: Path, index: str, outline: gpd.GeoDataFrame, args, pixel_km2: float):
    band_a, band_b = INDEX_BANDS[index]
    bands = [band_a, band_b]
    create = CreateEOPatchTask()
    imports = [ImportFromTiffTask((DATA, b), str(collection_dir)) for b in bands]
    import_scl = ImportFromTiffTask((MASK, "SCL"), str(collection_dir))
    upsample = SpatialResizeTask(
        features=[(DATA, b) for b in bands if b in COARSE] + [(MASK, "SCL")],
        resize_type=ResizeParam.SCALE_FACTORS,
        height_param=2,
        width_param=2,
        resize_method=ResizeMethod.NEAREST,
    )
    stack = MergeFeatureTask({DATA: bands}, (DATA, "BANDS_DN"))
    reflectance = ToReflectanceTask((DATA, "BANDS_DN"), (DATA, "BANDS"))
    ndi = NormalizedDifferenceIndexTask((DATA, "BANDS"), (DATA, index.upper()), (0, 1))
    valid = ZipFeatureTask([(MASK, "SCL"), (DATA, index.upper())], (MASK, "IS_VALID"), valid_mask)
    nominal = VectorToRasterTask(
        outline,
        (FeatureType.MASK_TIMELESS, "NOMINAL_WATER"),
        values=1,
        raster_shape=(DATA, index.upper()),
        raster_dtype=np.uint8,
        buffer=args.outline_buffer_m,
    )
    edges = CannyEdgesTask((DATA, index.upper()), (MASK, "IS_VALID"), (MASK, "EDGES"), args.canny_sigma)
    near_edges = MorphologicalFilterTask(
        [(MASK, "EDGES")],
        [(MASK, "NEAR_EDGES")],
        morph_operation=MorphologicalOperations.DILATION,
        struct_elem=MorphologicalStructFactory.get_disk(2 * args.edge_buffer_px + 1),  # cv2 size = diameter
    )
    detect = WaterDetectionTask(
        (DATA, index.upper()),
        (MASK, "IS_VALID"),
        (MASK, "NEAR_EDGES"),
        (FeatureType.MASK_TIMELESS, "NOMINAL_WATER"),
        pixel_km2,
    )
    output = OutputTask(
        "areas", features=[(SCALAR, "THRESHOLD"), (SCALAR, "WATER_KM2"), (SCALAR, "VALID_FRACTION")]
    )
    nodes = linearly_connect_tasks(
        create, *imports, import_scl, upsample, stack, reflectance, ndi, valid, nominal, edges, near_edges,
        detect, output,
    )  # fmt: skip
    node_by_task = {id(node.task): node for node in nodes}
    node_of = {
        "create": node_by_task[id(create)],
        "imports": [node_by_task[id(task)] for task in imports],
        "scl": node_by_task[id(import_scl)],
        "reflectance": node_by_task[id(reflectance)],
    }
    return EOWorkflow(nodes), node_of, bands


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archive", type=Path, required=True, help="static STAC archive (sensing demo-data)")
    parser.add_argument("--water-bodies", type=Path, required=True, help="water-body registry YAML")
    parser.add_argument("--body", required=True, help="water body id in the registry")
    parser.add_argument("--index", choices=sorted(INDEX_BANDS), default="mndwi")
    parser.add_argument("--out", type=Path, required=True, help="CSV of areas")
    parser.add_argument(
        "--outline-buffer-m", type=float, default=100.0, help="dilation of the nominal outline"
    )
    parser.add_argument("--canny-sigma", type=float, default=2.0)
    parser.add_argument("--edge-buffer-px", type=int, default=4, help="dilation of the Canny edges (pixels)")
    parser.add_argument("--workers", type=int, default=1, help="EOExecutor workers (processes)")
    args = parser.parse_args()

    start = time.perf_counter()
    items = read_items(args.archive)
    first_fine = asset_path(items[0], INDEX_BANDS[args.index][0])
    with rasterio.open(first_fine) as src:
        crs = src.crs.to_string()
    outline = gpd.GeoDataFrame(geometry=[read_outline(args.water_bodies, args.body)], crs="EPSG:4326").to_crs(
        crs
    )
    bbox, res = patch_bbox(outline.geometry.iloc[0], first_fine, BBOX_BUFFER_M)
    collection_dir = items[0]["_dir"].parent
    workflow, node_of, bands = build_workflow(collection_dir, args.index, outline, args, res * res / 1e6)

    execution_kwargs = []
    for item in items:
        rel = item["_dir"].relative_to(collection_dir)
        scales = {asset_scaling(item, b) for b in bands}
        if len(scales) != 1:
            raise SystemExit(f"{item['id']}: bands {bands} differ in scaling {scales}")
        scale, offset = scales.pop()
        kwargs = {
            node_of["create"]: {"bbox": bbox, "timestamps": [item_datetime(item)]},
            node_of["scl"]: {"filename": str(rel / asset_path(item, "SCL").name)},
            node_of["reflectance"]: {"scale": scale, "offset": offset},
        }
        for node, band in zip(node_of["imports"], bands, strict=True):
            kwargs[node] = {"filename": str(rel / asset_path(item, band).name)}
        execution_kwargs.append(kwargs)

    executor = EOExecutor(workflow, execution_kwargs, execution_names=[i["id"] for i in items])
    results = executor.run(workers=args.workers, disable=True)
    failed = executor.get_failed_executions()
    if failed:
        for i in failed:
            print(f"{items[i]['id']}: {results[i].error_node_uid}", file=sys.stderr)
        return 1

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["date", "item_id", "threshold", "water_km2", "valid_fraction"])
        for item, result in zip(items, results, strict=True):
            patch = result.outputs["areas"]
            writer.writerow(
                [
                    item_datetime(item).date().isoformat(),
                    item["id"],
                    round(float(patch[SCALAR, "THRESHOLD"][0, 0]), 6),
                    round(float(patch[SCALAR, "WATER_KM2"][0, 0]), 4),
                    round(float(patch[SCALAR, "VALID_FRACTION"][0, 0]), 4),
                ]
            )
    seconds = time.perf_counter() - start
    print(
        f"{len(items)} dates, {bbox.max_x - bbox.min_x:.0f} x {bbox.max_y - bbox.min_y:.0f} m crop: {args.out}"
    )
    print(f"total seconds: {seconds:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
