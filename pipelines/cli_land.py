"""Land commands: is the land in parcels worked this season."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_options import DEFAULT_CONFIG, ConfigOpt, console, fail, settings_or_exit
from sensing.errors import SensingError

__all__ = ["parcels"]


def _date(option: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(ValueError(f"{option}: expected YYYY-MM-DD, got {value!r}")) from None


def parcels(
    parcels_file: Annotated[
        Path, typer.Option("--parcels", help="Parcel polygons: GeoParquet, GeoPackage, GeoJSON.")
    ],
    start: Annotated[str, typer.Option(help="First day of the season, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day of the season, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option(help="Folder for the tables and the labelled parcel layer.")],
    id_column: Annotated[str, typer.Option(help="Column of unique parcel ids.")] = "parcel_id",
    regions: Annotated[Path | None, typer.Option(help="Region polygons to roll the labels up to.")] = None,
    region_name: Annotated[str, typer.Option(help="Column naming each region.")] = "name",
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Per parcel of the config's AOI: NDVI statistics of every clear date of the season from the
    published NDVI and water class layers, season statistics (max NDVI, green-up, harvest, bare-soil fraction) and a label
    (cultivated, grassland, not_used, uncertain) with its evidence; optionally rolled up per region."""
    from sensing.compute.phenology import classify_parcels, season_statistics
    from sensing.layer_stacks import season_stacks
    from sensing.parcels import (
        parcel_observations,
        read_parcels,
        read_regions,
        region_rollup,
        write_parcel_outputs,
    )
    from sensing.publish.layout import OutputLayout

    settings = settings_or_exit(config)
    first, last = _date("--start", start), _date("--end", end)
    if first > last:
        raise fail(ValueError(f"--start {first} is after --end {last}"))
    try:
        fields = read_parcels(parcels_file, id_column)
        areas = read_regions(regions, region_name) if regions else None
        ndvi, clear = season_stacks(
            OutputLayout(settings.output_dir), settings.aoi.id, "ndvi", first, last, settings.dask.chunk
        )
        began = time.perf_counter()
        observations = parcel_observations(fields, ndvi, clear)
        elapsed = time.perf_counter() - began
        labelled = classify_parcels(season_statistics(observations))
        rollup = region_rollup(fields, labelled, areas) if areas is not None else None
        written = write_parcel_outputs(out, fields, observations, labelled, rollup)
    except (SensingError, ValueError) as exc:
        raise fail(exc) from exc
    counts = labelled["label"].value_counts().to_dict()
    console.print(
        f"{len(fields)} parcels x {ndvi.sizes['time']} dates in {elapsed:.1f} s "
        f"({len(fields) / elapsed:.0f} parcels/s, {len(observations) / elapsed:.0f} parcel-dates/s); labels: {counts}"
    )
    for path in written:
        console.print(f"  {path}")
