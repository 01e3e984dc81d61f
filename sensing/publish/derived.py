"""Publishing layers derived from published ones (composites, anomalies, seasonal products): COGs
streamed from Dask arrays on the AOI grid, and one STAC item per product sharing the metadata."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import xarray as xr

from sensing.config import Settings
from sensing.grid import aoi_geobox
from sensing.products import product_spec
from sensing.publish.cog import write_cogs
from sensing.publish.layout import OutputLayout, item_id
from sensing.publish.stac import LayerMetadata, build_item, write_item
from sensing.summaries import class_layers
from sensing.workflow import grid_metadata

__all__ = ["inputs_version", "period_metadata", "publish_derived"]


def inputs_version(
    layout: OutputLayout, aoi: str, products: tuple[str, ...], dates: list[dt.date], prefix: str,
    parameters: tuple[object, ...] = (),
) -> str:  # fmt: skip
    """A version name that changes whenever an input layer does (a new date, a reprocessed layer) or a
    parameter: ``prefix``, the number of dates and a hash of the dates and versions of ``products``'
    layers and of ``parameters``."""
    layers = sorted(
        (layer.date, product, layer.version)
        for product in products
        for year in class_layers(layout, product, aoi).values()
        for layer in year
        if layer.date in dates
    )
    return f"{prefix}{len(dates)}-{hashlib.sha256(repr((layers, parameters)).encode()).hexdigest()[:8]}"


def period_metadata(
    settings: Settings, start: dt.date, end: dt.date, version: str, scene_ids: list[str], **properties: Any
) -> LayerMetadata:
    """Metadata of a layer over [start, end] (its datetime: ``start``), from the layers ``scene_ids``."""
    return LayerMetadata(
        grid_metadata(settings), datetime=dt.datetime.combine(start, dt.time(), dt.UTC), cloud_cover=None,
        version=version, scene_ids=scene_ids,
        properties={"start_datetime": f"{start}T00:00:00Z", "end_datetime": f"{end}T23:59:59Z", **properties},
    )  # fmt: skip


def _current(layout: OutputLayout, name: str, aoi: str, day: dt.date, version: str) -> bool:
    """Whether the published item of ``name`` on ``day`` is already this version, its COG in place."""
    item = layout.item(name, aoi, day)
    if not item.exists():
        return False
    doc = json.loads(item.read_text())
    return (
        doc["properties"].get("sensing:version") == version and layout.layer(name, aoi, day, version).exists()
    )


def publish_derived(settings: Settings, layers: dict[str, xr.DataArray], meta: LayerMetadata) -> list[str]:
    """Write each product's array (already in its COG dtype, on the AOI grid) as COG and STAC item at
    ``meta``'s date and version; the item ids. Nothing is rewritten when every item already has that
    version (the inputs have not changed since)."""
    layout = OutputLayout(settings.output_dir)
    aoi, geobox = settings.aoi.id, aoi_geobox(settings.aoi)
    day = meta["datetime"].date()
    if all(_current(layout, name, aoi, day, meta["version"]) for name in layers):
        return [item_id(name, aoi, day) for name in layers]
    paths = {name: layout.layer(name, aoi, day, meta["version"]) for name in layers}
    write_cogs(
        [(data.data, paths[name], product_spec(name).cog) for name, data in layers.items()],
        crs=str(geobox.crs), transform=geobox.affine,
    )  # fmt: skip
    for name in layers:
        write_item(build_item(product_spec(name), layout, aoi, paths[name], meta), layout)
    return [item_id(name, aoi, day) for name in layers]
