"""Parcels: zonal NDVI statistics per parcel and date with exact pixel coverage (exactextract), the
season table and labels of :mod:`sensing.compute.phenology`, and roll-ups per region.

Stacks are ``(time, y, x)`` DataArrays on one grid (rioxarray CRS and transform): NDVI (NaN where not
clear) and a clear mask (1 clear, 0 cloud, shadow, snow or no data). Each is written once to a
temporary tiled GeoTIFF, one band per date, which exactextract reads block by block for every parcel.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import xarray as xr
from exactextract import exact_extract

from sensing.compute.phenology import LABELS
from sensing.errors import ConfigError

__all__ = [
    "NDVI_STATISTICS", "parcel_observations", "read_parcels", "read_regions", "region_rollup", "write_parcel_outputs",
]  # fmt: skip

NDVI_STATISTICS = {"ndvi_mean": ("mean", "mean"), "ndvi_median": ("median", "median"),
                   "ndvi_p10": ("quantile(q=0.1)", "quantile_10"), "ndvi_p90": ("quantile(q=0.9)", "quantile_90")}  # fmt: skip
"""Column -> (exactextract operation over the clear pixels of a parcel, the name of its output)."""


def _read_polygons(path: Path, what: str) -> gpd.GeoDataFrame:
    """Polygons of a GeoParquet, GeoPackage, GeoJSON or any OGR file, with a clear error naming it."""
    if not path.exists():
        raise ConfigError(f"{what} {path}: no such file")
    try:
        frame = gpd.read_parquet(path) if path.suffix.lower() == ".parquet" else gpd.read_file(path)
    except Exception as exc:
        raise ConfigError(f"{what} {path}: not a readable vector file ({exc})") from exc
    if frame.empty:
        raise ConfigError(f"{what} {path}: no features")
    if frame.crs is None:
        raise ConfigError(f"{what} {path}: no CRS")
    kinds = set(frame.geometry.geom_type.dropna())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise ConfigError(f"{what} {path}: needs polygons, has {sorted(kinds)}")
    return frame


def read_parcels(path: Path, id_column: str = "parcel_id") -> gpd.GeoDataFrame:
    """Parcel polygons with a unique ``parcel_id`` (from ``id_column``); invalid rings repaired."""
    frame = _read_polygons(path, "parcels")
    if id_column not in frame.columns:
        raise ConfigError(f"parcels {path}: no column {id_column!r}; columns: {list(frame.columns)}")
    ids = frame[id_column]
    if ids.isna().any() or ids.duplicated().any():
        duplicated = ids[ids.duplicated()].head(5).tolist()
        raise ConfigError(
            f"parcels {path}: column {id_column!r} must be unique and set; repeated: {duplicated}"
        )
    frame = frame.rename(columns={id_column: "parcel_id"})
    frame["geometry"] = frame.geometry.make_valid()
    return frame


def read_regions(path: Path, name_column: str) -> gpd.GeoDataFrame:
    """Region polygons (oblast, district, basin) named by ``name_column``."""
    frame = _read_polygons(path, "regions")
    if name_column not in frame.columns:
        raise ConfigError(f"regions {path}: no column {name_column!r}; columns: {list(frame.columns)}")
    return frame.rename(columns={name_column: "region"})[["region", "geometry"]]


def _write_stack(stack: xr.DataArray, path: Path, dtype: str, nodata: float | None) -> Path:
    """``stack`` (time, y, x) as a tiled GeoTIFF, one band per date, computed one date at a time."""
    profile = {
        "driver": "GTiff", "dtype": dtype, "count": stack.sizes["time"], "width": stack.sizes["x"],
        "height": stack.sizes["y"], "crs": stack.rio.crs, "transform": stack.rio.transform(),
        "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "zstd", "nodata": nodata,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        for band, plane in enumerate(stack.transpose("time", "y", "x"), start=1):
            dst.write(np.asarray(plane.values, dtype=dtype), band)
    return path


def _per_band(frame: pd.DataFrame, columns: dict[str, str], dates: list[pd.Timestamp]) -> pd.DataFrame:
    """exactextract's wide ``band_<i>_<op>`` columns -> one row per parcel and date."""
    parts = []
    for band, date in enumerate(dates, start=1):
        part = pd.DataFrame({"parcel_id": frame["parcel_id"], "date": date})
        for column, op in columns.items():
            part[column] = frame[f"band_{band}_{op}"].astype("float32")
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def parcel_observations(parcels: gpd.GeoDataFrame, ndvi: xr.DataArray, clear: xr.DataArray) -> pd.DataFrame:
    """Per parcel and date: NDVI mean, median, 10th and 90th percentile over its clear pixels and the
    clear fraction of its area (pixels weighted by the share of each inside the polygon)."""
    if ndvi.shape != clear.shape:
        raise ValueError(f"parcel statistics: NDVI stack {ndvi.shape} and clear stack {clear.shape} differ")
    dates = list(pd.DatetimeIndex(ndvi["time"].values))
    zones = parcels[["parcel_id", "geometry"]].to_crs(ndvi.rio.crs)
    # only the pixels under the parcels are written out (a district's fields, not the whole AOI)
    step = abs(ndvi.rio.resolution()[0])
    left, bottom, right, top = zones.total_bounds
    window = {"x": slice(left - step, right + step), "y": slice(top + step, bottom - step)}  # north-up grid
    ndvi, clear = ndvi.sel(window), clear.sel(window)
    if ndvi.sizes["x"] == 0 or ndvi.sizes["y"] == 0:
        raise ConfigError(f"parcels: none of the {len(zones)} parcels overlaps the AOI's layers")
    with tempfile.TemporaryDirectory(prefix="parcels-") as tmp:
        ndvi_tif = _write_stack(ndvi.where(clear.astype(bool)), Path(tmp) / "ndvi.tif", "float32", np.nan)
        clear_tif = _write_stack(clear.astype("uint8"), Path(tmp) / "clear.tif", "uint8", None)
        options = {"include_cols": ["parcel_id"], "output": "pandas", "strategy": "raster-sequential"}
        values = exact_extract(str(ndvi_tif), zones, [op for op, _ in NDVI_STATISTICS.values()], **options)
        fractions = exact_extract(str(clear_tif), zones, ["mean"], **options)
    table = _per_band(values, {column: name for column, (_, name) in NDVI_STATISTICS.items()}, dates)
    table["clear_fraction"] = _per_band(fractions, {"clear_fraction": "mean"}, dates)["clear_fraction"]
    return table


def region_rollup(parcels: gpd.GeoDataFrame, labels: pd.DataFrame, regions: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per region and label: parcels and hectares, and each label's share of the region's parcel area.
    A parcel belongs to the region holding its representative point (a point inside the polygon)."""
    equal_area = parcels.to_crs(parcels.estimate_utm_crs())
    points = gpd.GeoDataFrame(
        {"parcel_id": parcels["parcel_id"], "area_ha": equal_area.area.to_numpy() / 1e4},
        geometry=parcels.representative_point(), crs=parcels.crs,
    ).to_crs(regions.crs)  # fmt: skip
    joined = gpd.sjoin(points, regions, how="left", predicate="within").drop_duplicates("parcel_id")
    joined["region"] = joined["region"].fillna("(outside every region)")
    joined = joined.merge(labels[["label"]], left_on="parcel_id", right_index=True, how="left")
    table = joined.groupby(["region", "label"]).agg(parcels=("parcel_id", "size"), area_ha=("area_ha", "sum"))
    table = table.reindex(
        pd.MultiIndex.from_product([table.index.levels[0], LABELS], names=["region", "label"])
    )
    table = table.fillna(0).astype({"parcels": "int64"})
    table["area_share"] = table["area_ha"] / table.groupby(level="region")["area_ha"].transform("sum")
    return table.reset_index()


def write_parcel_outputs(
    out: Path, parcels: gpd.GeoDataFrame, observations: pd.DataFrame, labelled: pd.DataFrame,
    rollup: pd.DataFrame | None = None,
) -> list[Path]:  # fmt: skip
    """The season's tables and layer under ``out``: observations (GeoParquet-free Parquet), season table
    (Parquet and CSV), the labelled parcels (GeoPackage layer ``parcels``) and the region roll-up."""
    out.mkdir(parents=True, exist_ok=True)
    written = [
        out / "parcel_observations.parquet",
        out / "parcel_seasons.parquet",
        out / "parcel_seasons.csv",
    ]
    observations.to_parquet(written[0], index=False)
    labelled.to_parquet(written[1])
    labelled.to_csv(written[2])
    layer = parcels[["parcel_id", "geometry"]].merge(
        labelled[["label", "evidence", "n_clear", "max_ndvi", "amplitude", "bare_soil_fraction"]],
        left_on="parcel_id", right_index=True, how="left",
    )  # fmt: skip
    written.append(out / "parcels.gpkg")
    layer.to_file(written[-1], layer="parcels", driver="GPKG")
    if rollup is not None:
        written.append(out / "regions.csv")
        rollup.to_csv(written[-1], index=False)
    return written
