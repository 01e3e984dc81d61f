"""Land commands: is the land in parcels worked this season; seasonal layers (snow, NDVI trend)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_options import DEFAULT_CONFIG, ConfigOpt, console, fail, parse_date, settings_or_exit
from sensing.config import Settings
from sensing.errors import SensingError

__all__ = ["land_app", "parcels"]

land_app = typer.Typer(help="Seasonal land layers from the published layers.", no_args_is_help=True)


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
    from sensing.parcel_products import label_parcels
    from sensing.parcels import read_parcels, read_regions, region_rollup, write_parcel_outputs
    from sensing.publish.layout import OutputLayout

    settings = settings_or_exit(config)
    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    if first > last:
        raise fail(ValueError(f"--start {first} is after --end {last}"))
    try:
        fields = read_parcels(parcels_file, id_column)
        areas = read_regions(regions, region_name) if regions else None
        layout = OutputLayout(settings.output_dir)
        season = label_parcels(layout, settings.aoi.id, fields, first, last, settings.dask.chunk)
        rollup = region_rollup(fields, season.labelled, areas) if areas is not None else None
        written = write_parcel_outputs(out, fields, season.observations, season.labelled, rollup)
    except (SensingError, ValueError) as exc:
        raise fail(exc) from exc
    counts = season.labelled["label"].value_counts().to_dict()
    elapsed = season.zonal_s
    console.print(
        f"{len(fields)} parcels x {len(season.dates)} dates in {elapsed:.1f} s ({len(fields) / elapsed:.0f} "
        f"parcels/s, {len(season.observations) / elapsed:.0f} parcel-dates/s); labels: {counts}"
    )
    for path in written:
        console.print(f"  {path}")


def _publish_seasonal(config: Path, publish: Callable[[Settings], list[str]]) -> None:
    """Run ``publish`` under the publish lock, refresh the catalog and tile index, list the items."""
    from sensing.publish.layout import OutputLayout
    from sensing.publish.locks import file_lock
    from sensing.workflow import refresh_catalog

    settings = settings_or_exit(config)
    try:
        with file_lock(OutputLayout(settings.output_dir).lock):
            written = publish(settings)
            refresh_catalog(settings)
    except (SensingError, ValueError) as exc:
        raise fail(exc) from exc
    console.print(f"published {len(written)} layer(s): {', '.join(written)}")


@land_app.command("snow")
def snow(
    start: Annotated[str, typer.Option(help="First day of the snow season, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day of the snow season, YYYY-MM-DD.")],
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Publish ``snow-days``: snow-cover duration of the season from the water class layers."""
    from sensing.land_seasons import publish_snow_days

    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    _publish_seasonal(config, lambda settings: publish_snow_days(settings, first, last))


@land_app.command("percentiles")
def percentiles(
    start: Annotated[str, typer.Option(help="First day of the season, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day of the season, YYYY-MM-DD.")],
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Publish ``ndvi-p10``, ``ndvi-p50`` and ``ndvi-p90`` of the season's clear NDVI observations."""
    from sensing.land_seasons import publish_season_percentiles

    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    _publish_seasonal(config, lambda settings: publish_season_percentiles(settings, first, last))


@land_app.command("trend")
def trend(
    first_year: Annotated[int, typer.Option(help="First year of the series.")],
    last_year: Annotated[int, typer.Option(help="Last year of the series.")],
    months: Annotated[str, typer.Option(help="Growing season as months FIRST-LAST (e.g. 5-9).")] = "5-9",
    level: Annotated[float, typer.Option(help="Significance level of the Mann-Kendall test.")] = 0.05,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Publish ``ndvi-trend`` and ``ndvi-trend-class``: Theil-Sen slope of the yearly growing-season
    NDVI median and whether it is a significant decline or increase (degradation, desertification)."""
    from sensing.land_seasons import publish_ndvi_trend

    try:
        first_month, last_month = (int(m) for m in months.split("-"))
    except ValueError:
        raise fail(ValueError(f"--months: expected FIRST-LAST such as 5-9, got {months!r}")) from None
    if not 0 < level < 1:
        raise fail(ValueError(f"--level: {level} is not between 0 and 1"))
    _publish_seasonal(
        config,
        lambda settings: publish_ndvi_trend(
            settings, first_year, last_year, (first_month, last_month), level
        ),
    )


def _window(option: str, value: str) -> tuple[dt.date, dt.date]:
    first, _, last = value.partition(":")
    if not last:
        raise fail(ValueError(f"{option}: expected FIRST:LAST dates (YYYY-MM-DD:YYYY-MM-DD), got {value!r}"))
    return parse_date(first, option), parse_date(last, option)


@land_app.command("burn")
def burn(
    name: Annotated[str, typer.Option(help="Event name (part of the layer's version and the table's key).")],
    pre: Annotated[str, typer.Option(help="Window before the fire, FIRST:LAST (YYYY-MM-DD:YYYY-MM-DD).")],
    post: Annotated[str, typer.Option(help="Window after the fire, FIRST:LAST.")],
    breaks: Annotated[
        str, typer.Option(help="dNBR lower bounds of low, moderate-low, moderate-high, high severity.")
    ] = "0.10,0.27,0.44,0.66",
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Publish a fire event's ``dnbr`` and ``burn-severity`` layers and its burned area per class (needs
    the per-scene ``nbr`` product over both windows)."""
    from sensing.land_seasons import publish_burn

    before, after = _window("--pre", pre), _window("--post", post)
    try:
        levels = tuple(float(b) for b in breaks.split(","))
    except ValueError:
        raise fail(
            ValueError(f"--breaks: expected four numbers such as 0.1,0.27,0.44,0.66, got {breaks!r}")
        ) from None
    areas: list[str] = []

    def publish(settings: Settings) -> list[str]:
        rows = publish_burn(settings, name, before, after, levels)
        areas.extend(f"{r.severity} {r.area_km2:.2f} km2" for r in rows.itertuples())
        return [str(rows["item"].iloc[0])]

    _publish_seasonal(config, publish)
    console.print("; ".join(areas))
