"""Write the simulated Sentinel-2 L2A archive: COG bands, a static STAC catalog and the ground truth.

Layout under the archive folder::

    catalog.json, sentinel-2-l2a-demo/collection.json, sentinel-2-l2a-demo/<item>/<item>.json
    sentinel-2-l2a-demo/<item>/B02.tif ... SCL.tif          uint16 DN (SCL uint8), L2A scaling
    sentinel-1-rtc-demo/<item>/vv.tif, vh.tif               float32 gamma0 (only with demo.sentinel1)
    truth/<date>_water.tif                                  0 dry, 1 open water, 2 ice-covered water
    truth/areas.csv                                         true areas (and levels) per water body and date
    truth/parcels.gpkg                                      the irrigated zone's fields: sown or fallow
    truth/burn_scar.geojson                                 the simulated steppe fire's scar and date

Bands B02 B03 B04 B08 are written at the grid resolution; B11, B12 and SCL at twice it, as Sentinel-2
delivers them at 20 m beside 10 m bands. Processing baseline 04.00 (from 2022-01-25) adds the
+1000 DN offset (BOA_ADD_OFFSET = -1000), so items on both sides of that date differ in scaling.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import math
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pystac
import rasterio
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from rasterio.transform import Affine, from_origin
from rasterio.windows import Window
from shapely.geometry import box, mapping

from sensing.config import AoiConfig, DemoConfig
from sensing.demo import sentinel1
from sensing.demo.landscape import (
    BANDS,
    FIRE_DATE,
    Acquisition,
    Surface,
    burn_scar,
    demo_fields,
    render,
    true_levels,
)
from sensing.publish.cog import CogSpec, translate_to_cog
from sensing.waterbodies import WaterBody, rasterize_zones, to_lonlat

__all__ = ["COLLECTION", "ArchiveGrid", "acquisitions", "baseline_for", "write_archive"]

COLLECTION = "sentinel-2-l2a-demo"
BASELINE_04_START = dt.date(2022, 1, 25)
COMMON_NAMES = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "B11": "swir16", "B12": "swir22"}
WAVELENGTHS = {"B02": 0.49, "B03": 0.56, "B04": 0.665, "B08": 0.842, "B11": 1.61, "B12": 2.19}
FINE_BANDS = ("B02", "B03", "B04", "B08")
COARSE_BANDS = ("B11", "B12")
WINDOW = 1024
NOISE_SIGMA = 0.004
LANDSCAPE_CRS = "EPSG:32643"
"""The simulated landscape is defined in UTM 43N metres; grids in other CRSs see it reprojected."""
MGRS_TILES = {"EPSG:32643": "43TGJ", "EPSG:32644": "44TKN"}
SAR_POLS = ("vv", "vh")
SCRATCH = {"SCL": ("uint8", 0), "truth": ("uint8", 255)}
"""dtype and nodata of the scratch files that are not uint16 reflectance."""


@dataclass(frozen=True)
class ArchiveGrid:
    """The simulated tile's grid (the 10 m grid; 20 m bands use twice the pixel size)."""

    crs: str
    west: float
    north: float
    resolution: float
    size: int

    @classmethod
    def around(cls, aoi: AoiConfig, demo: DemoConfig) -> ArchiveGrid:
        """A square grid centred on the AOI: the AOI's own extent unless ``demo.size`` says otherwise."""
        res = demo.resolution
        size = demo.size or math.ceil(max(aoi.bounds[2] - aoi.bounds[0], aoi.bounds[3] - aoi.bounds[1]) / res)
        size += size % 2  # the 20 m grid must cover the 10 m grid exactly
        cx, cy = (aoi.bounds[0] + aoi.bounds[2]) / 2, (aoi.bounds[1] + aoi.bounds[3]) / 2
        half = size * res / 2
        west = math.floor((cx - half) / (2 * res)) * 2 * res
        north = math.ceil((cy + half) / (2 * res)) * 2 * res
        return cls(crs=aoi.crs, west=west, north=north, resolution=res, size=size)

    def transform(self, factor: int = 1) -> Affine:
        """Affine transform of the grid, or of the grid coarsened by ``factor``."""
        return from_origin(self.west, self.north, self.resolution * factor, self.resolution * factor)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """minx, miny, maxx, maxy in the grid CRS."""
        extent = self.size * self.resolution
        return self.west, self.north - extent, self.west + extent, self.north


def baseline_for(date: dt.date) -> str:
    """The Sentinel-2 processing baseline that ESA applied on a date (simplified to two values)."""
    return "04.00" if date >= BASELINE_04_START else "03.01"


def acquisitions(demo: DemoConfig) -> list[Acquisition]:
    """The archive's overpasses: ``dates_per_year`` a year, with clouds, swath edges and winter ice."""
    n = demo.years * demo.dates_per_year
    step = 365.25 / demo.dates_per_year
    out = []
    for k in range(n):
        phase = k % demo.dates_per_year
        cloud = {3: 0.45, 8: 0.8}.get(phase % 10, 0.0)
        out.append(
            Acquisition(
                date=demo.start + dt.timedelta(days=round(k * step)),
                index=k,
                cloud_amount=cloud,
                swath_edge=phase % 10 in (1, 6),
                seed=demo.seed,
            )
        )
    return out


def _windows(size: int) -> Iterator[Window]:
    for row in range(0, size, WINDOW):
        for col in range(0, size, WINDOW):
            yield Window(col, row, min(WINDOW, size - col), min(WINDOW, size - row))


def _coords(grid: ArchiveGrid, window: Window, factor: int) -> tuple[np.ndarray, ...]:
    res = grid.resolution * factor
    cols = window.col_off + np.arange(window.width) + 0.5
    rows = window.row_off + np.arange(window.height) + 0.5
    x, y = np.meshgrid(grid.west + cols * res, grid.north - rows * res)
    extent = grid.size * grid.resolution
    wu, wv = (x - grid.west) / extent, (grid.north - y) / extent
    if grid.crs != LANDSCAPE_CRS:  # the same world seen from another UTM zone
        x, y = pyproj.Transformer.from_crs(grid.crs, LANDSCAPE_CRS, always_xy=True).transform(x, y)
    return x, y, wu, wv


def _render_window(
    acq: Acquisition, start: dt.date, grid: ArchiveGrid, window: Window, factor: int
) -> Surface:
    x, y, wu, wv = _coords(grid, window, factor)
    return render(acq, start, x, y, (wu, 1 - wv))


def _to_dn(reflectance: np.ndarray, nodata: np.ndarray, offset: int, rng: np.random.Generator) -> np.ndarray:
    noisy = reflectance + rng.normal(0, NOISE_SIGMA, reflectance.shape)
    dn = np.clip(np.round(noisy * 10000) + offset, 1, 65535).astype(np.uint16)
    dn[..., nodata] = 0
    return dn


def _scratch(
    path: Path, grid: ArchiveGrid, factor: int, dtype: str, nodata: float
) -> rasterio.io.DatasetWriter:
    size = grid.size // factor
    return rasterio.open(
        path, "w", driver="GTiff", dtype=dtype, count=1, width=size, height=size, crs=grid.crs,
        transform=grid.transform(factor), nodata=nodata, tiled=True, blockxsize=512, blockysize=512,
    )  # fmt: skip


def _write_scene(
    acq: Acquisition,
    demo: DemoConfig,
    grid: ArchiveGrid,
    zones_fine: list[np.ndarray],
    out_dir: Path,
    tmp: Path,
) -> tuple[dict[str, int], list[dict[str, object]]]:
    """Render one overpass into COGs; return the cloud-cover tally and truth rows per water body."""
    offset = 1000 if baseline_for(acq.date) >= "04.00" else 0
    rng = np.random.default_rng([demo.seed, acq.index])
    names = [*FINE_BANDS, *COARSE_BANDS, "SCL", "truth"]
    dsts = {
        b: _scratch(
            tmp / f"{b}.tif", grid, 1 if b in (*FINE_BANDS, "truth") else 2, *SCRATCH.get(b, ("uint16", 0))
        )
        for b in names
    }
    tally = {"cloud": 0, "valid": 0}
    n_bodies = int(max((z.max() for z in zones_fine), default=0))
    counts = np.zeros((n_bodies + 1, 5), dtype=np.int64)  # outline px, open water, ice, cloud, nodata
    try:
        for window, zones in zip(_windows(grid.size), zones_fine, strict=True):
            fine = _render_window(acq, demo.start, grid, window, 1)
            dn = _to_dn(fine.reflectance, fine.nodata, offset, rng)
            for i, band in enumerate(BANDS):
                if band in FINE_BANDS:
                    dsts[band].write(dn[i], 1, window=window)
            dsts["truth"].write(fine.truth, 1, window=window)
            tally["cloud"] += int((fine.cloud & ~fine.nodata).sum())
            tally["valid"] += int((~fine.nodata).sum())
            for column, mask in enumerate(
                (np.ones_like(fine.nodata), fine.truth == 1, fine.truth == 2, fine.cloud, fine.nodata)
            ):
                counts[:, column] += np.bincount(zones[mask], minlength=n_bodies + 1)
        for window in _windows(grid.size // 2):
            coarse = _render_window(acq, demo.start, grid, window, 2)
            dn = _to_dn(coarse.reflectance, coarse.nodata, offset, rng)
            for i, band in enumerate(BANDS):
                if band in COARSE_BANDS:
                    dsts[band].write(dn[i], 1, window=window)
            dsts["SCL"].write(coarse.scl, 1, window=window)
    finally:
        for dst in dsts.values():
            dst.close()
    for band in (*FINE_BANDS, *COARSE_BANDS):
        translate_to_cog(
            tmp / f"{band}.tif", out_dir / f"{band}.tif", CogSpec("uint16", 0, "average", description=band)
        )
    translate_to_cog(tmp / "SCL.tif", out_dir / "SCL.tif", CogSpec("uint8", 0, "nearest", description="SCL"))
    truth_path = out_dir.parent.parent / "truth" / f"{acq.date.isoformat()}_water.tif"
    translate_to_cog(
        tmp / "truth.tif", truth_path, CogSpec("uint8", 255, "nearest", description="truth water")
    )
    px_km2 = grid.resolution**2 / 1e6
    rows = [
        {
            "date": acq.date.isoformat(),
            "zone": z,
            "true_water_km2": round((counts[z, 1] + counts[z, 2]) * px_km2, 4),
            "true_open_water_km2": round(counts[z, 1] * px_km2, 4),
            "true_ice_km2": round(counts[z, 2] * px_km2, 4),
            "cloud_fraction": round(counts[z, 3] / max(counts[z, 0], 1), 4),
            "nodata_fraction": round(counts[z, 4] / max(counts[z, 0], 1), 4),
            "frozen": acq.frozen,
        }
        for z in range(1, n_bodies + 1)
    ]
    return tally, rows


def _write_sar_scene(acq: Acquisition, demo: DemoConfig, grid: ArchiveGrid, out_dir: Path, tmp: Path) -> None:
    """Render the radar pass of an overpass's day into float32 COGs ``vv.tif`` and ``vh.tif``."""
    clear = dataclasses.replace(acq, cloud_amount=0.0)  # radar sees through clouds
    rng = np.random.default_rng([demo.seed, acq.index, 1])
    dsts = {pol: _scratch(tmp / f"{pol}.tif", grid, 1, "float32", sentinel1.NODATA) for pol in SAR_POLS}
    try:
        for window in _windows(grid.size):
            x, y, wu, wv = _coords(grid, window, 1)
            surface = render(clear, demo.start, x, y, (wu, 1 - wv))
            for pol, db in sentinel1.backscatter_db(surface, x, y, demo.seed).items():
                values = np.where(surface.nodata, sentinel1.NODATA, sentinel1.speckled(db, rng))
                dsts[pol].write(values.astype(np.float32), 1, window=window)
    finally:
        for dst in dsts.values():
            dst.close()
    for pol in SAR_POLS:
        spec = CogSpec("float32", sentinel1.NODATA, "average", description=f"{pol.upper()} gamma0 (linear)")
        translate_to_cog(tmp / f"{pol}.tif", out_dir / f"{pol}.tif", spec)


def _item(acq: Acquisition, grid: ArchiveGrid, cloud_cover: float, item_dir: Path) -> pystac.Item:
    platform = "sentinel-2a" if acq.index % 2 == 0 else "sentinel-2b"
    baseline = baseline_for(acq.date)
    when = dt.datetime.combine(acq.date, dt.time(5, 56, 29), tzinfo=dt.UTC)
    tile = MGRS_TILES.get(grid.crs, f"{grid.crs[-2:]}TXX")
    item_id = f"S2{platform[-1].upper()}_{tile}_{acq.date:%Y%m%d}_0_L2A"
    footprint = to_lonlat(box(*grid.bounds), grid.crs)
    item = pystac.Item(
        id=item_id,
        geometry=mapping(footprint),
        bbox=list(footprint.bounds),
        datetime=when,
        properties={
            "platform": platform,
            "constellation": "sentinel-2",
            "instruments": ["msi"],
            "s2:processing_baseline": baseline,
            "s2:mgrs_tile": tile,
            "sensing:simulated": True,
        },
    )
    EOExtension.ext(item, add_if_missing=True).cloud_cover = round(cloud_cover, 2)
    ProjectionExtension.ext(item, add_if_missing=True).code = grid.crs
    RasterExtension.add_to(item)
    offset = -0.1 if baseline >= "04.00" else 0.0
    for band in (*FINE_BANDS, *COARSE_BANDS, "SCL"):
        factor = 1 if band in FINE_BANDS else 2
        asset = pystac.Asset(
            href=str(item_dir / f"{band}.tif"), media_type=pystac.MediaType.COG, roles=["data"], title=band
        )
        proj = ProjectionExtension.ext(asset)
        proj.shape = [grid.size // factor, grid.size // factor]
        proj.transform = list(grid.transform(factor))[:6]
        if band == "SCL":
            bands = [
                RasterBand.create(nodata=0, data_type=DataType.UINT8, spatial_resolution=grid.resolution * 2)
            ]
        else:
            bands = [
                RasterBand.create(
                    nodata=0,
                    data_type=DataType.UINT16,
                    spatial_resolution=grid.resolution * factor,
                    scale=0.0001,
                    offset=offset,
                )
            ]
            EOExtension.ext(asset).bands = [
                Band.create(name=band, common_name=COMMON_NAMES[band], center_wavelength=WAVELENGTHS[band])
            ]
        RasterExtension.ext(asset).bands = bands
        item.add_asset(band, asset)
    return item


def write_archive(
    aoi: AoiConfig,
    demo: DemoConfig,
    bodies: list[WaterBody],
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Generate the whole archive into ``demo.archive`` (replacing it) and return its catalog path.

    ``progress`` is called with the date of each scene once it is written.
    """
    grid = ArchiveGrid.around(aoi, demo)
    root = demo.archive
    staging = root.with_name(f"{root.name}-building")
    shutil.rmtree(staging, ignore_errors=True)
    zones = [
        rasterize_zones(
            bodies, grid.crs, grid.transform() * Affine.translation(w.col_off, w.row_off), (w.height, w.width)
        )
        for w in _windows(grid.size)
    ]
    acqs = acquisitions(demo)
    first, last = (dt.datetime.combine(a.date, dt.time(), tzinfo=dt.UTC) for a in (acqs[0], acqs[-1]))
    collection = _collection(
        COLLECTION, "Sentinel-2 L2A (simulated)",
        "Simulated Sentinel-2 L2A scenes around the Kapchagay dam (synthetic, for demos and tests).",
        grid, first, last,
    )  # fmt: skip
    radar_title = "Sentinel-1 RTC (simulated)"
    radar_about = "Simulated Sentinel-1 RTC gamma0 (VV, VH) on the days of the optical scenes (synthetic)."
    radar = (
        _collection(sentinel1.COLLECTION, radar_title, radar_about, grid, first, last)
        if demo.sentinel1
        else None
    )
    truth_rows: list[dict[str, object]] = []
    for acq in acqs:
        item_dir = staging / COLLECTION / "pending"
        with tempfile.TemporaryDirectory(dir=staging.parent if staging.parent.exists() else None) as tmp:
            item_dir.mkdir(parents=True, exist_ok=True)
            tally, rows = _write_scene(acq, demo, grid, zones, item_dir, Path(tmp))
        cloud = 100.0 * tally["cloud"] / max(tally["valid"], 1)
        item = _item(acq, grid, cloud, item_dir)
        final_dir = staging / COLLECTION / item.id
        item_dir.rename(final_dir)
        for asset in item.assets.values():
            asset.href = str(final_dir / Path(asset.href).name)
        collection.add_item(item)
        levels = true_levels(acq.date, demo.start)
        truth_rows += [
            {
                **r,
                "water_body": (body := bodies[int(str(r["zone"])) - 1].id),
                "true_level_m": levels.get(body, ""),
            }
            for r in rows
        ]
        if radar is not None:
            _add_sar_item(radar, acq, demo, grid, staging)
        if progress:
            progress(acq.date.isoformat())
    collection.update_extent_from_items()
    catalog = pystac.Catalog(id="demo-archive", description="Simulated Sentinel-2 L2A archive (static STAC).")
    catalog.add_child(collection)
    if radar is not None:
        radar.update_extent_from_items()
        catalog.add_child(radar)
    catalog.normalize_hrefs(f"{staging}/")  # trailing slash: a folder, whatever its name
    catalog.make_all_asset_hrefs_relative()
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    _write_truth_table(staging / "truth" / "areas.csv", truth_rows)
    _write_parcels(staging / "truth" / "parcels.gpkg", aoi, demo)
    scar = gpd.GeoDataFrame({"fire_date": [FIRE_DATE.isoformat()]}, geometry=[burn_scar()], crs="EPSG:32643")
    scar.to_file(staging / "truth" / "burn_scar.geojson", driver="GeoJSON")
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    return root / "catalog.json"


def _collection(
    collection_id: str, title: str, description: str, grid: ArchiveGrid, first: dt.datetime, last: dt.datetime
) -> pystac.Collection:
    return pystac.Collection(
        id=collection_id,
        description=description,
        extent=pystac.Extent(
            pystac.SpatialExtent([list(to_lonlat(box(*grid.bounds), grid.crs).bounds)]),
            pystac.TemporalExtent([[first, last]]),
        ),
        license="CC-BY-4.0",
        title=title,
    )


def _add_sar_item(
    collection: pystac.Collection, acq: Acquisition, demo: DemoConfig, grid: ArchiveGrid, staging: Path
) -> None:
    pending = staging / sentinel1.COLLECTION / "pending"
    pending.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=staging) as tmp:
        _write_sar_scene(acq, demo, grid, pending, Path(tmp))
    item = sentinel1.sar_item(acq, grid.crs, grid.bounds, list(grid.transform())[:6], grid.size, pending)
    final_dir = staging / sentinel1.COLLECTION / item.id
    pending.rename(final_dir)
    for asset in item.assets.values():
        asset.href = str(final_dir / Path(asset.href).name)
    collection.add_item(item)


def _write_parcels(path: Path, aoi: AoiConfig, demo: DemoConfig) -> None:
    """The simulated fields as parcels (``parcel_id``; ``truth``: cultivated or not_used)."""
    fields = demo_fields(aoi.bounds, demo.seed)
    frame = gpd.GeoDataFrame(
        {"parcel_id": [f"field-{i:04d}" for i in range(len(fields))],
         "truth": ["cultivated" if sown else "not_used" for _, sown in fields]},
        geometry=[cell for cell, _ in fields], crs=aoi.crs,
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_file(path, layer="parcels", driver="GPKG")


def _write_truth_table(path: Path, rows: list[dict[str, object]]) -> None:
    fields = ["date", "water_body", "true_water_km2", "true_open_water_km2", "true_ice_km2",
              "cloud_fraction", "nodata_fraction", "frozen", "true_level_m"]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
