"""Parcels labelled over a season from the published NDVI and water class layers (exact zonal statistics
of :mod:`sensing.parcels`, the rule of :mod:`sensing.compute.phenology`), and the ``parcel-labels``
product the land-season flow publishes for the configured parcels: a class layer (COG, STAC item,
tiles, legend) with the season's tables in the layer's version folder."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import xarray as xr
from shapely.geometry import mapping

from sensing.compute.phenology import LABELS, classify_parcels, season_statistics
from sensing.compute.zonal import shapes_raster
from sensing.config import Settings
from sensing.errors import ConfigError
from sensing.grid import aoi_geobox
from sensing.layer_stacks import season_stacks
from sensing.parcels import parcel_observations, read_parcels, write_parcel_outputs
from sensing.publish.derived import inputs_version, period_metadata, publish_derived
from sensing.publish.layout import OutputLayout, item_id
from sensing.publish.storage import file_checksum

__all__ = ["ParcelSeason", "label_parcels", "publish_parcel_labels"]

LABEL_CODES = {label: i + 1 for i, label in enumerate(LABELS)}
"""Label -> class value of the ``parcel-labels`` layer (see sensing.products.PARCEL_CLASSES)."""


@dataclass(frozen=True)
class ParcelSeason:
    """One season's parcel tables: per parcel and date, per parcel labelled, and what they came from."""

    observations: pd.DataFrame
    labelled: pd.DataFrame
    dates: list[dt.date]
    zonal_s: float
    """Seconds the zonal statistics took (the throughput figure)."""


def label_parcels(
    layout: OutputLayout, aoi: str, parcels: gpd.GeoDataFrame, start: dt.date, end: dt.date, chunk: int
) -> ParcelSeason:
    """Zonal NDVI statistics of ``parcels`` on every date of [start, end] with published NDVI and
    water class layers, their season statistics and labels."""
    ndvi, clear = season_stacks(layout, aoi, "ndvi", start, end, chunk)
    began = time.perf_counter()
    observations = parcel_observations(parcels, ndvi, clear)
    elapsed = time.perf_counter() - began
    dates = [dt.date.fromisoformat(str(t)[:10]) for t in ndvi["time"].values]
    return ParcelSeason(observations, classify_parcels(season_statistics(observations)), dates, elapsed)


def publish_parcel_labels(settings: Settings, start: dt.date, end: dt.date) -> list[str]:
    """Label ``land.parcels`` over the season [start, end] and publish ``parcel-labels`` (dated at its
    start): the item ids written. A new version whenever an input layer, the season or the parcel
    file changes; the tables (observations, season table as Parquet and CSV, labelled GeoPackage)
    are written beside the COG before it, so a published layer always has them."""
    if settings.land.parcels is None:
        raise ConfigError("land.parcels: no parcel file configured")
    layout, aoi = OutputLayout(settings.output_dir), settings.aoi.id
    parcels = read_parcels(settings.land.parcels, settings.land.parcel_id_column)
    season = label_parcels(layout, aoi, parcels, start, end, settings.dask.chunk)
    parameters = (start, end, file_checksum(settings.land.parcels), settings.land.parcel_id_column)
    version = inputs_version(layout, aoi, ("ndvi", "water"), season.dates, "p", parameters)
    cog = layout.layer("parcel-labels", aoi, start, version)
    if not cog.exists():  # a version folder is complete once its COG is there
        write_parcel_outputs(cog.parent, parcels, season.observations, season.labelled)
    geobox = aoi_geobox(settings.aoi)
    labels = parcels[["parcel_id", "geometry"]].merge(
        season.labelled[["label"]], left_on="parcel_id", right_index=True
    )
    shapes = [
        (mapping(geometry), LABEL_CODES[label])
        for geometry, label in zip(labels.to_crs(str(geobox.crs)).geometry, labels["label"], strict=True)
    ]
    layer = xr.DataArray(shapes_raster(shapes, geobox, settings.dask.chunk, "uint8"), dims=("y", "x"))
    meta = period_metadata(
        settings, start, end, version, [item_id("ndvi", aoi, d) for d in season.dates],
        **{"sensing:dates": [d.isoformat() for d in season.dates], "sensing:parcels": settings.land.parcels.name,
           "sensing:labels": {k: int(v) for k, v in season.labelled["label"].value_counts().items()},
           "sensing:tables": ["parcel_seasons.parquet", "parcel_seasons.csv", "parcel_observations.parquet",
                              "parcels.gpkg"]},
    )  # fmt: skip
    return publish_derived(settings, {"parcel-labels": layer}, meta)
