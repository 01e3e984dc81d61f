"""Publishing a flood event: the flood layer (COG + STAC item), its polygons, and flooded areas per
water body (and outside every outline, where most floods are) in ``tables/floods``."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from numpy.typing import NDArray
from rasterio.features import shapes
from shapely.geometry import shape

from sensing.compute.encode import INT16_NODATA
from sensing.compute.water import CLASS_DRY, CLASS_WATER
from sensing.config import Settings
from sensing.exclusions import excluded_dates, read_exclusions
from sensing.flood import (
    FLOODED,
    PERMANENT_WATER,
    FloodRule,
    Reference,
    flood_from_backscatter,
    flood_from_classes,
    reference,
)
from sensing.grid import aoi_geobox, pixel_area_m2
from sensing.products import BACKSCATTER_SCALE, flood_product, product_spec
from sensing.publish.cog import translate_to_cog
from sensing.publish.layout import OutputLayout, item_id
from sensing.publish.stac import LayerMetadata, build_item, read_items, write_item
from sensing.publish.tables import upsert_frame
from sensing.publish.vectors import write_vector_layers
from sensing.summaries import Layer, class_layers, ledger, wet_clear_totals
from sensing.waterbodies import WaterBody, rasterize_zones
from sensing.workflow import grid_metadata

__all__ = ["FloodEvent", "publish_flood"]

OUTSIDE = "outside outlines"
"""Zone of the flooded area outside every water body's outline."""


@dataclass(frozen=True)
class FloodEvent:
    """An event window and how to detect it."""

    name: str
    start: dt.date
    end: dt.date
    method: str = "classes"
    """``classes`` (water on any date of the window) or ``ratio`` (Sentinel-1 backscatter drop)."""
    before_days: int = 60
    """Length of the pre-event window of the ``ratio`` method, ending the day before ``start``."""
    rule: FloodRule = field(default_factory=FloodRule)


def publish_flood(
    settings: Settings, product: str, event: FloodEvent, bodies: list[WaterBody]
) -> pd.DataFrame:
    """Detect and publish the event's flood extent from the published ``product`` layers (``water``
    or ``water-sar``); return the area rows (also upserted into ``tables/floods``)."""
    if event.start > event.end:
        raise ValueError(f"flood event {event.name}: start {event.start} is after end {event.end}")
    layout = OutputLayout(settings.output_dir)
    aoi = settings.aoi.id
    skipped = excluded_dates(read_exclusions(layout.exclusions), radar=product == "water-sar")
    layers = [
        layer for year in class_layers(layout, product, aoi).values() for layer in year
        if event.start <= layer.date <= event.end and layer.date not in skipped
    ]  # fmt: skip
    if not layers:
        raise ValueError(
            f"flood event {event.name}: no {product} layer over {aoi} from {event.start} to {event.end}"
        )
    event_classes = [_read(layout.root / layer.cog) for layer in layers]
    normal = reference(*_reference_counts(layout, product, aoi, layers, event_classes), event.rule)
    if event.method == "ratio":
        flood = _from_backscatter(layout, aoi, event, normal)
    elif event.method == "classes":
        flood = flood_from_classes(event_classes, normal)
    else:
        raise ValueError(f"flood event {event.name}: unknown method {event.method!r}; use classes or ratio")
    name = flood_product(product)
    cog = layout.layer(name, aoi, event.start, event.name)
    with (
        tempfile.TemporaryDirectory(dir=layout.root) as folder,
        rasterio.open(layout.root / layers[0].cog) as like,
    ):
        scratch = Path(folder) / "flood.tif"
        with rasterio.open(scratch, "w", **{**like.profile, "nodata": 255}) as dst:
            dst.write(flood, 1)
        translate_to_cog(scratch, cog, product_spec(name).cog)
        crs, transform = like.crs, like.transform
    stem = cog.parent / "flood"
    vectors = write_vector_layers(stem, {"flood": _polygons(flood, transform, crs, event)})
    rows = _areas(settings, flood, bodies, event, product)
    meta = LayerMetadata(
        grid_metadata(settings), datetime=dt.datetime.combine(event.start, dt.time(), dt.UTC), cloud_cover=None,
        version=f"{name}-{event.name}", scene_ids=[item_id(product, aoi, layer.date) for layer in layers],
        properties={
            "start_datetime": f"{event.start}T00:00:00Z", "end_datetime": f"{event.end}T23:59:59Z",
            "sensing:event": event.name, "sensing:flood_method": event.method,
            "sensing:class_product": product, "sensing:dates": [layer.date.isoformat() for layer in layers],
            "sensing:permanent_occurrence": event.rule.permanent,
            **({"sensing:ratio_db": event.rule.ratio_db, "sensing:max_water_db": event.rule.max_water_db}
               if event.method == "ratio" else {}),
        },
    )  # fmt: skip
    extras = {("polygons" if p.suffix == ".gpkg" else f"polygons-{p.suffix.lstrip('.')}"): p for p in vectors}
    write_item(build_item(product_spec(name), layout, aoi, cog, meta, extras), layout)
    old = pd.read_parquet(layout.floods) if layout.floods.exists() else pd.DataFrame()
    upsert_frame(layout.floods, old, rows, ["event", "product", "zone"])
    return rows


def _read(path: Path) -> NDArray[Any]:
    """Band 1 of a published COG."""
    with rasterio.open(path) as ds:
        return ds.read(1)


def _reference_counts(
    layout: OutputLayout, product: str, aoi: str, layers: list[Layer], event_classes: list[NDArray[np.uint8]]
) -> tuple[NDArray[np.uint16], NDArray[np.uint16]]:
    """Wet and clear counts of every year counted, less the event's own dates (a flood must not make
    itself permanent water)."""
    wet, clear, _, _ = wet_clear_totals(layout, product, aoi, None)
    wet, clear = wet.astype(np.int32), clear.astype(np.int32)
    counted = {
        d for year in {layer.date.year for layer in layers} for d in _ledger_dates(layout, product, aoi, year)
    }
    for layer, classes in zip(layers, event_classes, strict=True):
        if layer.date.isoformat() in counted:
            wet -= classes == CLASS_WATER
            clear -= np.isin(classes, (CLASS_DRY, CLASS_WATER))
    return np.clip(wet, 0, None).astype(np.uint16), np.clip(clear, 0, None).astype(np.uint16)


def _ledger_dates(layout: OutputLayout, product: str, aoi: str, year: int) -> set[str]:
    return set(ledger(layout.summary_counts(product, aoi, year)))


def _from_backscatter(
    layout: OutputLayout, aoi: str, event: FloodEvent, normal: Reference
) -> NDArray[np.uint8]:
    """The ratio method on the published VV layers (hundredths of a dB)."""
    first = event.start - dt.timedelta(days=event.before_days)
    before: list[NDArray[np.float32]] = []
    during: list[NDArray[np.float32]] = []
    for item in read_items(layout, "vv"):
        props = item["properties"]
        day = dt.date.fromisoformat(props["datetime"][:10])
        if props["sensing:aoi"] != aoi or not (first <= day <= event.end):
            continue
        path = (layout.item("vv", aoi, day).parent / item["assets"]["data"]["href"]).resolve()
        stored = _read(path)
        db = np.where(stored == INT16_NODATA, np.nan, stored * BACKSCATTER_SCALE.scale).astype(np.float32)
        (during if day >= event.start else before).append(db)
    if not before or not during:
        raise ValueError(
            f"flood event {event.name}: the ratio method needs published vv layers both before "
            f"({first} to {event.start - dt.timedelta(days=1)}) and during the event; publish the vv product"
        )
    return flood_from_backscatter(before, during, normal, event.rule)


def _polygons(
    flood: NDArray[np.uint8], transform: rasterio.Affine, crs: object, event: FloodEvent
) -> gpd.GeoDataFrame:
    """The flooded area as one multipolygon, simplified by one pixel."""
    mask = flood == FLOODED
    parts = [shape(g) for g, _ in shapes(mask.astype(np.uint8), mask=mask, transform=transform)]
    geometry = shapely.union_all(parts).simplify(abs(transform.a), preserve_topology=True)
    frame = gpd.GeoDataFrame(
        [{"event": event.name, "start": event.start.isoformat(), "end": event.end.isoformat()}],
        geometry=[geometry], crs=crs,
    )  # fmt: skip
    frame["flooded_km2"] = round(float(np.count_nonzero(mask)) * abs(transform.a * transform.e) / 1e6, 4)
    return frame


def _areas(
    settings: Settings, flood: NDArray[np.uint8], bodies: list[WaterBody], event: FloodEvent, product: str
) -> pd.DataFrame:
    """Flooded and permanent-water area per water body, outside every outline, and over the AOI."""
    geobox = aoi_geobox(settings.aoi)
    km2 = pixel_area_m2(geobox) / 1e6
    zones = rasterize_zones(bodies, str(geobox.crs), geobox.affine, flood.shape)
    names = [OUTSIDE, *(b.id for b in bodies)]
    rows = []
    for zone, name in [*enumerate(names), (-1, "aoi total")]:
        inside = zones == zone if zone >= 0 else np.ones(flood.shape, dtype=bool)
        seen = inside & (flood != 255)
        rows.append(
            {
                "event": event.name, "product": product, "method": event.method, "start": event.start.isoformat(),
                "end": event.end.isoformat(), "zone": name,
                "flooded_km2": round(float(np.count_nonzero(inside & (flood == FLOODED))) * km2, 4),
                "permanent_km2": round(float(np.count_nonzero(inside & (flood == PERMANENT_WATER))) * km2, 4),
                "seen_fraction": round(float(np.count_nonzero(seen)) / max(int(np.count_nonzero(inside)), 1), 4),
            }
        )  # fmt: skip
    return pd.DataFrame(rows)
