"""Commands on the water-area series: analysts' exclusions, gauge readings."""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_options import DEFAULT_CONFIG, ConfigOpt, console, fail, settings_or_exit
from sensing.errors import SensingError

__all__ = ["exclude", "gauges_app"]

gauges_app = typer.Typer(help="Gauge readings beside the series.", no_args_is_help=True)


def exclude(
    water_body: Annotated[str, typer.Option(help="Water body id, or 'all' (every water body of the date).")],
    date: Annotated[str, typer.Option(help="Acquisition date, YYYY-MM-DD.")],
    reason: Annotated[str, typer.Option(help="Why the observation is wrong (recorded).")],
    sensor: Annotated[
        str, typer.Option(help="Sensor (sentinel-2, sentinel-1, landsat-8...) or 'all'.")
    ] = "all",
    by: Annotated[str | None, typer.Option(help="Who excludes it (default: the login name).")] = None,
    withdraw: Annotated[
        bool, typer.Option("--withdraw", help="Withdraw this exclusion (kept on record).")
    ] = False,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Exclude an observation from the series (or withdraw an exclusion); alerts and occurrence follow."""
    from sensing.exclusions import record_exclusion
    from sensing.publish.layout import OutputLayout
    from sensing.publish.tables import read_water_areas
    from sensing.workflow import republish_series

    settings = settings_or_exit(config)
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise fail(ValueError(f"--date: expected YYYY-MM-DD, got {date!r}")) from None
    layout = OutputLayout(settings.output_dir)
    table = read_water_areas(layout.water_areas)
    known = set(table.water_body) | {"all"}
    if water_body not in known:
        raise fail(ValueError(f"--water-body: {water_body!r} has no observation; known: {sorted(known)}"))
    try:
        record_exclusion(
            layout.exclusions, water_body, day, sensor, reason, by or getpass.getuser(), active=not withdraw
        )
        republish_series(settings)
    except (SensingError, ValueError) as exc:
        raise fail(exc) from exc
    rows = read_water_areas(layout.water_areas)
    hit = rows[(rows.date == day.isoformat()) & rows.excluded.astype(bool)]
    verb = "withdrawn" if withdraw else "recorded"
    console.print(
        f"exclusion {verb}; {len(hit)} observation(s) of {day} now excluded (table: {layout.exclusions})"
    )


@gauges_app.command("import")
def import_readings(
    readings: Annotated[Path, typer.Argument(help="CSV of readings: a date and a level (m) per row.")],
    water_body: Annotated[str, typer.Option(help="Water body id the gauge measures.")],
    date_column: Annotated[str, typer.Option(help="Column of the dates (YYYY-MM-DD).")] = "date",
    level_column: Annotated[str, typer.Option(help="Column of the levels (m).")] = "level_m",
    source: Annotated[str, typer.Option(help="Gauge or post name (default: the file name).")] = "",
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Import a gauge's level readings; each observation of the series then carries the reading of
    its date (or the nearest within a day) in ``gauge_level_m``."""
    from sensing.gauges import import_gauges
    from sensing.publish.layout import OutputLayout
    from sensing.publish.tables import read_water_areas
    from sensing.workflow import republish_series

    settings = settings_or_exit(config)
    layout = OutputLayout(settings.output_dir)
    try:
        n = import_gauges(
            layout.gauges,
            readings,
            water_body,
            date_column=date_column,
            level_column=level_column,
            source=source,
        )
        republish_series(settings)
    except SensingError as exc:
        raise fail(exc) from exc
    rows = read_water_areas(layout.water_areas)
    matched = rows[(rows.water_body == water_body) & rows.gauge_level_m.notna()]
    console.print(f"{n} reading(s) imported for {water_body}; {len(matched)} observation(s) have a reading")
