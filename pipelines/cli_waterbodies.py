"""``sensing waterbodies``: inspect the registry, and derive outlines from the occurrence summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli_options import DEFAULT_CONFIG, ConfigOpt, console, fail, settings_or_exit
from sensing.errors import SensingError

__all__ = ["waterbodies_app"]

waterbodies_app = typer.Typer(
    help="The water-body registry: list it, or derive outlines from observed water.", no_args_is_help=True
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
