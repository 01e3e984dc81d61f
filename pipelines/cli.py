"""The ``sensing`` command: build the demo archive, run flows, serve the layers."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipelines.cli_land import land_app, parcels
from pipelines.cli_options import DEFAULT_CONFIG, ConfigOpt, console, fail, parse_date, settings_or_exit
from pipelines.cli_schedule import deploy, schedule, status
from pipelines.cli_series import change, exclude, flood, gauges_app
from pipelines.cli_verify import verify
from pipelines.cli_waterbodies import waterbodies_app
from pipelines.environment import configure_prefect
from pipelines.progress import progress_bar
from pipelines.report import number_cell
from sensing.config import Settings
from sensing.errors import SensingError

BandMapOpt = Annotated[
    str | None,
    typer.Option(
        help="green=2,nir=4,... (band index in each file; vv=1,vh=2 for Sentinel-1) or green=_B3.TIF,... "
        "(a file-name fragment per band, with :INDEX for a band of a multi-band file, e.g. "
        "green=_BOA_10:3,scl=_SCL)."
    ),
]
ScaleOpt = Annotated[
    str | None, typer.Option(help="Reflectance = DN*scale+offset: one value, or green=0.0001,...")
]
OffsetOpt = Annotated[str | None, typer.Option(help="One value, or per band: green=-0.1,...")]
NodataOpt = Annotated[
    str | None,
    typer.Option(help="Nodata: one value, or per band green=65535,... (default: each file's own)."),
]

app = typer.Typer(
    help="Satellite water monitoring for Kazakhstan: scenes in, monitoring layers out.",
    no_args_is_help=True,
    add_completion=False,
)
run_app = typer.Typer(help="Run a flow once, now (Prefect's local ephemeral API).", no_args_is_help=True)
app.add_typer(run_app, name="run")
catalog_app = typer.Typer(help="Local STAC catalogs of analysts' own scenes.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(waterbodies_app, name="waterbodies")
app.command()(exclude)
app.command()(change)
app.command()(flood)
app.add_typer(gauges_app, name="gauges")
app.command()(schedule)
app.command()(deploy)
app.command()(status)
app.command()(parcels)
app.command()(verify)
app.add_typer(land_app, name="land")
log = logging.getLogger("sensing.cli")  # progress lines when stderr is not a terminal
log.addHandler(logging.StreamHandler())
log.setLevel(logging.INFO)
log.propagate = False


@app.command("demo-data")
def demo_data(
    config: ConfigOpt = DEFAULT_CONFIG,
    out: Annotated[
        Path | None, typer.Option(help="Archive folder (default: demo.archive of the config).")
    ] = None,
    size: Annotated[
        int | None, typer.Option(help="Grid side in pixels (10980 = a full Sentinel-2 tile).")
    ] = None,
    resolution: Annotated[float | None, typer.Option(help="Pixel size in metres of the 10 m bands.")] = None,
    years: Annotated[int | None, typer.Option(help="Years of acquisitions to simulate.")] = None,
    dates_per_year: Annotated[
        int | None, typer.Option(help="Acquisitions per simulated year (2-36).")
    ] = None,
    sentinel1: Annotated[
        bool | None,
        typer.Option("--sentinel1/--no-sentinel1", help="Also simulate Sentinel-1 RTC (VV, VH) passes."),
    ] = None,
    if_absent: Annotated[
        bool, typer.Option("--if-absent", help="Do nothing when the archive exists.")
    ] = False,
) -> None:
    """Write the simulated Sentinel-2 L2A archive (static STAC + COGs + ground truth).

    The scenes are synthetic but follow the real L2A format over the Kapchagay dam (EPSG:32643);
    with --sentinel1 a Sentinel-1 RTC collection (float32 gamma0, as Planetary Computer's) is added.
    """
    from sensing.demo.archive import write_archive
    from sensing.registry import load_water_bodies

    settings = settings_or_exit(config)
    if settings.demo is None:
        console.print(f"[red]error:[/red] {config} has no 'demo' section")
        raise typer.Exit(2)
    options = {"size": size, "resolution": resolution, "years": years, "dates_per_year": dates_per_year}
    updates: dict[str, Any] = {k: v for k, v in options.items() if v}
    if sentinel1 is not None:
        updates["sentinel1"] = sentinel1
    if out:
        updates["archive"] = out.resolve()
    demo = settings.demo.model_copy(update=updates)
    if if_absent and (demo.archive / "catalog.json").exists():
        console.print(f"Demo archive present: {demo.archive}")
        return
    started = time.perf_counter()
    with progress_bar("Simulating scenes", demo.years * demo.dates_per_year, log) as step:
        catalog = write_archive(
            settings.aoi, demo, load_water_bodies(settings.water_bodies, settings.hydrography), step
        )
    console.print(f"Demo archive written in {time.perf_counter() - started:.0f} s: {catalog}")
    console.print(f"Ground truth: {catalog.parent / 'truth'}")


def _print_summary(summary: dict[str, Any], settings: Settings) -> None:
    from sensing.publish.layout import OutputLayout
    from sensing.publish.tables import read_water_areas

    s = summary["scenes"]
    console.print(
        f"\nScenes: [green]{s['processed']} processed[/green], {s['skipped']} skipped, "
        f"[{'red' if s['failed'] else 'green'}]{s['failed']} failed[/]"
    )
    for failure in summary["failed"]:
        console.print(f"  [red]failed[/red] {failure['scene']}: {failure['reason']}")
    layout = OutputLayout(settings.output_dir)
    table = read_water_areas(layout.water_areas)
    view = Table(title="Water area per water body and date (km²)")
    numbers = ("water", "gap-filled", "ice", "observed")
    for column in ("water body", "date", "sensor", *numbers, "quality", "method"):
        view.add_column(column, justify="right" if column in numbers else "left")
    for row in table.itertuples():
        view.add_row(row.water_body, row.date, row.sensor, number_cell(row.water_km2), number_cell(row.filled_km2),
                     number_cell(row.ice_km2), number_cell(row.valid_fraction, ".0%"), row.quality, row.method)  # fmt: skip
    console.print(view)
    for row in summary.get("flood", []):
        console.print(f"Flood {row['event']}, {row['zone']}: {row['flooded_km2']:.3f} km² flooded")
    console.print(f"Outputs: {layout.root}")
    console.print(f"  layers (COG): {layout.root / 'layers'}")
    console.print(f"  STAC catalog: {layout.stac_root / 'catalog.json'}")
    console.print(f"  table: {layout.water_areas} (+ .csv)")


def _flows(settings: Settings) -> Any:
    configure_prefect(settings.data_dir)
    from pipelines import flows

    return flows


@run_app.command("nightly")
def run_nightly(
    config: ConfigOpt = DEFAULT_CONFIG,
    night: Annotated[
        str | None, typer.Option(help="Process up to this date (YYYY-MM-DD); default today.")
    ] = None,
) -> None:
    """Run the nightly flow once: every new scene over the AOI is classified and published."""
    from sensing.preflight import check_run_request

    settings = settings_or_exit(config)
    when = parse_date(night, "--night") if night else None
    try:
        check_run_request(settings)
    except SensingError as exc:
        raise fail(exc) from exc
    flows = _flows(settings)
    console.print("Starting the nightly flow (Prefect local API, Dask local cluster)...")
    started = time.perf_counter()
    summary = flows.nightly(config=str(config.resolve()), night=when)
    console.print(f"Nightly flow finished in {time.perf_counter() - started:.0f} s.")
    _print_summary(summary, settings)


@app.command()
def reprocess(
    aoi: Annotated[str, typer.Option(help="AOI: the config's aoi.id, or a GeoJSON file (EPSG:4326).")],
    start: Annotated[str, typer.Option(help="First acquisition date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last acquisition date, YYYY-MM-DD.")],
    products: Annotated[str | None, typer.Option(help="Comma-separated products (default: all).")] = None,
    source: Annotated[
        str | None, typer.Option(help="A source name from configs/sources/, or a local STAC catalog folder.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rewrite layers already published.")] = False,
    units: Annotated[
        str | None,
        typer.Option(help="Radar sources: backscatter units linear, db or auto (default: sar.units)."),
    ] = None,
    flood: Annotated[
        str | None, typer.Option(help="Also publish the period as a flood event: classes or ratio.")
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Reprocess an AOI over a period (e.g. after a configuration change, or on an analyst's scenes)."""
    from sensing.preflight import check_run_request
    from sensing.selection import select

    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    if first > last:
        console.print(f"[red]error:[/red] --start {first} is after --end {last}")
        raise typer.Exit(2)
    wanted = [p.strip() for p in products.split(",")] if products else None
    try:
        settings = select(config, aoi, source=source, products=wanted, sar_units=units)
        check_run_request(settings, aoi_field="--aoi")
    except SensingError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    flows = _flows(settings)
    summary = flows.reprocess(
        aoi=aoi,
        start=first,
        end=last,
        products=wanted,
        force=force,
        config=str(config.resolve()),
        source=source,
        units=units,
        flood=flood,
    )
    _print_summary(summary, settings)


@app.command()
def water(
    out: Annotated[
        Path,
        typer.Option(help="Class layer to write (COG): 0 dry, 1 water, 2 snow/ice, 3 cloud, 255 nodata."),
    ],
    scene: Annotated[
        list[Path] | None,
        typer.Argument(help="The scene: one multi-band GeoTIFF, one file per band, or a Landsat *_MTL.txt."),
    ] = None,
    band_map: BandMapOpt = None,
    scale: ScaleOpt = None,
    offset: OffsetOpt = None,
    nodata: NodataOpt = None,
    mtl: Annotated[
        Path | None,
        typer.Option(
            help="Landsat Level-1 MTL: TOA calibration and time for the SCENE files (or its own files)."
        ),
    ] = None,
    sensor: Annotated[
        str | None, typer.Option(help="s2, landsat or s1 (default: s1 for a vv/vh band map, else s2).")
    ] = None,
    method: Annotated[
        str, typer.Option(help="otsu, canny-otsu or fixed (optical; radar uses otsu).")
    ] = "canny-otsu",
    index: Annotated[str, typer.Option(help="Water index: mndwi, ndwi, awei_nsh or awei_sh.")] = "mndwi",
    threshold: Annotated[
        float | None, typer.Option(help="Fixed threshold (with --method fixed, and the fallback).")
    ] = None,
    units: Annotated[str, typer.Option(help="Sentinel-1 backscatter units: auto, linear or db.")] = "auto",
) -> None:
    """Classify one local scene into the water class layer and print its water area (a quick look)."""
    from pydantic import ValidationError

    from sensing.config import SarConfig, WaterConfig
    from sensing.quicklook import classify_local_scene, scene_registration

    try:
        reg = scene_registration(list(scene or []), band_map, scale, offset, nodata, mtl, sensor)
        radar = sensor == "s1" or (sensor is None and bool(set(reg.files) & {"vv", "vh"}))
        extra = {"fixed_threshold": threshold} if threshold is not None else {}
        water_cfg = WaterConfig(method=method, index=index, **extra)  # type: ignore[arg-type]
        sar_cfg = SarConfig(units=units, **extra)  # type: ignore[arg-type]
        result = classify_local_scene(reg, out.resolve(), sensor="sar" if radar else "optical",
                                      water=water_cfg, sar=sar_cfg)  # fmt: skip
    except ValidationError as exc:
        fields = "; ".join(
            f"--{'.'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}" for e in exc.errors()
        )
        console.print(f"[red]error:[/red] {fields}")
        raise typer.Exit(2) from exc
    except SensingError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    choice = result.choice
    console.print(f"water area: {result.water_km2:.4f} km2")
    console.print(f"snow/ice area: {result.snow_ice_km2:.4f} km2")
    console.print(
        f"observed: {result.valid_fraction:.1%} of the scene; cloud/shadow: {result.cloud_fraction:.1%}"
    )
    console.print(
        f"threshold: {choice.value:.4f} ({choice.method}{'; ' + choice.reason if choice.reason else ''})"
    )
    console.print(f"class layer: {result.out}")


@app.command("index")
def index_command(
    scene: Annotated[list[Path], typer.Argument(help="The scene: a multi-band file, or one file per band.")],
    index: Annotated[str, typer.Option(help="Catalogue short names, comma-separated: NDVI,EVI,AWEInsh,...")],
    out: Annotated[Path, typer.Option(help="Folder for one COG per index (INDEX.tif).")],
    band_map: BandMapOpt = None,
    scale: ScaleOpt = None,
    offset: OffsetOpt = None,
    nodata: NodataOpt = None,
) -> None:
    """Any index of the Awesome Spectral Indices catalogue on one local scene, one float32 COG each."""
    from sensing.index_looks import write_index_cogs
    from sensing.quicklook import scene_registration

    try:
        reg = scene_registration(list(scene), band_map, scale, offset, nodata, None, None)
        written = write_index_cogs(reg, [n.strip() for n in index.split(",") if n.strip()], out.resolve())
    except SensingError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    for name, path in written.items():
        console.print(f"{name}: {path}")


@catalog_app.command("add")
def catalog_add(
    files: Annotated[
        list[Path],
        typer.Argument(help="GeoTIFFs (one scene each, or one band each), or a Landsat *_MTL.txt."),
    ],
    catalog: Annotated[Path, typer.Option(help="Folder of the local STAC catalog (created if absent).")],
    band_map: BandMapOpt = None,
    scale: ScaleOpt = None,
    offset: OffsetOpt = None,
    nodata: NodataOpt = None,
    datetime: Annotated[
        str | None, typer.Option("--datetime", help="Acquisition time, ISO 8601 (UTC if no zone).")
    ] = None,
    platform: Annotated[str, typer.Option(help="Platform, e.g. sentinel-2a, landsat-8.")] = "unknown",
) -> None:
    """Register an analyst's scenes in a local static STAC catalog that any flow can use (--source DIR)."""
    from sensing.sources.local import read_mtl, register_scene, registrations_from_options

    try:
        registrations = (
            [read_mtl(files[0])] if len(files) == 1 and files[0].name.upper().endswith("_MTL.TXT")
            else registrations_from_options(files, band_map, scale, offset, nodata, datetime, platform)
        )  # fmt: skip
        for registration in registrations:
            item = register_scene(registration, catalog)
            console.print(
                f"Registered {item.id} ({', '.join(registration.files)}) in {catalog / 'catalog.json'}"
            )
    except SensingError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def serve(
    config: ConfigOpt = DEFAULT_CONFIG,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="A web origin whose pages may call this server (repeat for several; * for any)."),
    ] = None,
) -> None:
    """Serve the published layers: viewer at /, layers, TileJSON, XYZ tiles, WMTS, WMS, queries."""
    import uvicorn

    from sensing.serve.app import create_app

    settings = settings_or_exit(config)
    console.print(f"Viewer and tiles on http://{host}:{port}/  (Ctrl-C to stop)")
    layers = (
        json.loads((settings.output_dir / "layers.json").read_text())
        if (settings.output_dir / "layers.json").exists()
        else {"layers": []}
    )
    console.print(f"{len(layers['layers'])} published layer(s) from {settings.output_dir}")
    uvicorn.run(create_app(settings.output_dir, cors_origin or ()), host=host, port=port, log_level="warning")


@app.command("export-tiles")
def export_tiles_command(
    layer: Annotated[str, typer.Argument(help="Layer id, as in GET /layers (e.g. water-kapchagay-dam).")],
    date: Annotated[str, typer.Argument(help="Date of the layer (YYYY-MM-DD).")],
    out: Annotated[Path, typer.Option(help="Archive to write: FILE.pmtiles or FILE.mbtiles.")],
    minzoom: Annotated[int | None, typer.Option(help="Lowest zoom (default: the layer's own).")] = None,
    maxzoom: Annotated[
        int | None, typer.Option(help="Highest zoom (default: the layer's native one).")
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Export a published layer's tiles (WebMercatorQuad PNG, as served) to a PMTiles or MBTiles
    archive for static hosting."""
    from sensing.serve.export import export_tiles
    from sensing.serve.registry import LayerRegistry

    settings = settings_or_exit(config)
    found = LayerRegistry(settings.output_dir).get(layer, date)
    if found is None:
        raise fail(ValueError(f"no published layer {layer!r} on {date} (see GET /layers)"))
    try:
        count = export_tiles(found, out, minzoom, maxzoom)
    except SensingError as exc:
        raise fail(exc) from exc
    console.print(f"{count} tiles written to {out}")


if __name__ == "__main__":
    app()
