"""``sensing waterbodies``: inspect the registry, derive outlines from the occurrence summary, and measure
one water body's area series straight from the archive."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli_options import DEFAULT_CONFIG, ConfigOpt, console, fail, parse_date, settings_or_exit
from sensing.errors import SensingError

__all__ = ["waterbodies_app"]

waterbodies_app = typer.Typer(
    help="The water-body registry: list it, derive outlines from observed water, or measure one body's series.",
    no_args_is_help=True,
)


@waterbodies_app.command("list")
def list_bodies(
    registry: Annotated[
        Path | None, typer.Option(help="Registry YAML or outline file (default: water_bodies of the config).")
    ] = None,
    hydrography: Annotated[
        Path | None, typer.Option(help="Hydrography file of the outlines (default: the config's).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Also write the outlines with their attributes (.gpkg, .geojson, .parquet)."),
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Resolve every water body's outline and print its names, type, region, basin and nominal area."""
    from sensing.publish.vectors import write_vector_file
    from sensing.registry import load_water_bodies
    from sensing.waterbodies import water_body_frame

    if registry is None:
        settings = settings_or_exit(config)
        registry, hydrography = settings.water_bodies, hydrography or settings.hydrography
    try:
        frame = water_body_frame(load_water_bodies(registry, hydrography))
        if out is not None:
            write_vector_file(out, frame, "water_bodies")
    except SensingError as exc:
        raise fail(exc) from exc
    table = Table("id", "English", "Russian", "Kazakh", "type", "region", "basin", "nominal km2")
    for row in frame.itertuples():
        table.add_row(
            row.id,
            row.name_en,
            row.name_ru,
            row.name_kk,
            row.type,
            row.region,
            row.basin,
            f"{row.nominal_km2:,.2f}",
        )
    console.print(table)
    if out is not None:
        console.print(f"outlines: {out}")


@waterbodies_app.command("derive")
def derive(
    out: Annotated[Path, typer.Option(help="Outline file to write (.gpkg, .geojson or .parquet).")],
    years: Annotated[str, typer.Option(help="Years of occurrence counts to use: 2021 or 2019,2020,2021.")],
    product: Annotated[str, typer.Option(help="Class product: water (optical) or water-sar.")] = "water",
    detect: Annotated[float, typer.Option(help="Frequency a patch's core must exceed.")] = 0.10,
    extent: Annotated[float, typer.Option(help="Frequency the outline must exceed.")] = 0.05,
    min_clear: Annotated[int, typer.Option(help="Clear observations a pixel needs to count.")] = 3,
    min_area_km2: Annotated[float, typer.Option(help="Smallest outline kept, km2.")] = 0.01,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Derive water-body outlines from the published occurrence counts of the config's AOI
    (DEA Waterbodies' hysteresis on wet frequency); the file serves as ``water_bodies`` or hydrography."""
    from sensing.grid import aoi_geobox
    from sensing.outlines import derive_outlines
    from sensing.publish.layout import OutputLayout
    from sensing.publish.vectors import write_vector_file
    from sensing.summaries import wet_clear_totals

    settings = settings_or_exit(config)
    try:
        year_list = [int(y) for y in years.split(",")]
    except ValueError:
        raise fail(ValueError(f"--years: expected years like 2021 or 2020,2021, got {years!r}")) from None
    pixel_km2 = abs(aoi_geobox(settings.aoi).affine.a * aoi_geobox(settings.aoi).affine.e) / 1e6
    try:
        wet, clear, transform, crs = wet_clear_totals(
            OutputLayout(settings.output_dir), product, settings.aoi.id, year_list
        )
        frame = derive_outlines(
            wet, clear, transform, crs, detect=detect, extent=extent, min_clear=min_clear,
            min_pixels=max(1, round(min_area_km2 / pixel_km2)),
        )  # fmt: skip
        write_vector_file(out, frame, "water_bodies")
    except (SensingError, ValueError) as exc:
        raise fail(exc) from exc
    console.print(f"{len(frame)} outline(s), {frame['area_km2'].sum():,.2f} km2 in all: {out}")


@waterbodies_app.command("series")
def series(
    water_body: Annotated[str, typer.Argument(help="Water body id (see `sensing waterbodies list`).")],
    start: Annotated[str, typer.Option(help="First acquisition date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last acquisition date, YYYY-MM-DD.")],
    out: Annotated[
        Path | None, typer.Option(help="Write the series to this table (.csv or .parquet).")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="A source name from configs/sources/, or a local STAC catalog folder.")
    ] = None,
    processes: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: one per CPU, at most 4).")
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """One water body's area on every scene of a period, straight from the archive: the flows' method
    on a window around its outline, nothing published (quick answers; the flows keep the record)."""
    from sensing.preflight import check_run_request
    from sensing.publish.tables import area_frame
    from sensing.registry import load_water_bodies
    from sensing.selection import select
    from sensing.sources import open_source
    from sensing.water_series import water_body_series
    from sensing.workflow import scenes_for_period

    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    if out is not None and out.suffix not in (".csv", ".parquet"):
        raise fail(ValueError(f"--out: {out} must end in .csv or .parquet"))
    try:
        settings = select(config, settings_or_exit(config).aoi.id, source=source)
        check_run_request(settings)
        bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
        archive = open_source(settings.source, settings.data_dir)
        scenes = scenes_for_period(settings, archive, first, last)
        rows = water_body_series(
            settings, archive, scenes, bodies, water_body, processes=processes or min(4, os.cpu_count() or 1)
        )
    except (SensingError, ValueError) as exc:
        raise fail(exc) from exc
    frame = area_frame(rows)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".csv":
            frame.to_csv(out, index=False, encoding="utf-8-sig")  # with a byte-order mark, as the tables
        else:
            frame.to_parquet(out, index=False)
    table = Table("date", "sensor", "water km2", "valid", "quality", "threshold", "reason")
    for row in frame.itertuples():
        table.add_row(
            str(row.date), row.sensor, f"{row.water_km2:,.3f}", f"{row.valid_fraction:.0%}", row.quality,
            f"{row.threshold:.4f}", row.reason,
        )  # fmt: skip
    console.print(table)
    usable = int(frame.usable.sum()) if len(frame) else 0
    console.print(
        f"{water_body}: {len(frame)} observation(s) of {len(scenes)} scene(s), {usable} usable"
        + (f"; written to {out}" if out is not None else "")
    )
