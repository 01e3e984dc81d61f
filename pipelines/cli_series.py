"""Commands on the water-area series: analysts' exclusions, gauge readings, change between periods, flood events."""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_options import DEFAULT_CONFIG, ConfigOpt, console, fail, settings_or_exit
from sensing.errors import SensingError

__all__ = ["change", "exclude", "flood", "gauges_app"]

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


def change(
    before: Annotated[str, typer.Option(help="First period: a year (2021) or years (2017-2019).")],
    after: Annotated[str, typer.Option(help="Second period, after the first: 2024 or 2022-2024.")],
    product: Annotated[str, typer.Option(help="Class product: water (optical) or water-sar.")] = "water",
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Publish surface-water change between two periods (JRC transition classes) over the AOI: a
    layer, and the area per class and water body in tables/water_change."""
    from rich.table import Table

    from sensing.change import Period
    from sensing.registry import load_water_bodies
    from sensing.workflow import publish_change

    settings = settings_or_exit(config)
    try:
        periods = Period.parse(before), Period.parse(after)
        bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
        rows = publish_change(settings, product, *periods, bodies)
    except (SensingError, ValueError) as exc:
        raise fail(exc) from exc
    table = Table("water body", "class", "km2", title=f"{product}: {periods[0]} -> {periods[1]}")
    for row in rows[rows.value != 0].itertuples():
        table.add_row(row.water_body, row.change_class, f"{row.area_km2:,.3f}")
    console.print(table)


def flood(
    start: Annotated[str, typer.Option(help="First day of the event window, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day of the event window, YYYY-MM-DD.")],
    name: Annotated[str | None, typer.Option(help="Event name (default START_END).")] = None,
    product: Annotated[str, typer.Option(help="Class product: water (optical) or water-sar.")] = "water",
    method: Annotated[
        str, typer.Option(help="classes (water on any date) or ratio (Sentinel-1 VV drop).")
    ] = "classes",
    permanent: Annotated[
        float, typer.Option(help="Occurrence from which water is permanent, not flood.")
    ] = 0.9,
    ratio_db: Annotated[float, typer.Option(help="ratio: VV drop (dB) that marks new open water.")] = 3.0,
    max_water_db: Annotated[
        float, typer.Option(help="ratio: VV (dB) above which nothing is open water.")
    ] = -15.0,
    before_days: Annotated[int, typer.Option(help="ratio: days of the pre-event window.")] = 60,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Publish the flood extent of an event window from the published layers: a layer (flooded,
    permanent water), polygons, and flooded km2 per water body and outside every outline."""
    from sensing.events import FloodEvent, publish_flood
    from sensing.flood import FloodRule
    from sensing.publish.layout import OutputLayout
    from sensing.publish.locks import file_lock
    from sensing.registry import load_water_bodies
    from sensing.workflow import refresh_catalog

    settings = settings_or_exit(config)
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        rule = FloodRule(permanent=permanent, ratio_db=ratio_db, max_water_db=max_water_db)
        event = FloodEvent(
            name or f"{first}_{last}", first, last, method=method, before_days=before_days, rule=rule
        )
        bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
        with file_lock(OutputLayout(settings.output_dir).lock):
            rows = publish_flood(settings, product, event, bodies)
            refresh_catalog(settings)
    except (SensingError, ValueError) as exc:
        raise fail(exc) from exc
    for row in rows.itertuples():
        console.print(
            f"{row.zone}: flooded {row.flooded_km2:,.3f} km2 (permanent water {row.permanent_km2:,.3f}, seen {row.seen_fraction:.0%})"
        )
