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
from rasterio.windows import Window
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from sensing.compute.encode import INT16_NODATA
from sensing.compute.water import CLASS_DRY, CLASS_WATER
from sensing.config import Settings
from sensing.exclusions import excluded_dates, read_exclusions
from sensing.flood import (
    FLOODED,
    PERMANENT_WATER,
    FloodRule,
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
    counted = frozenset(
        d
        for year in {layer.date.year for layer in layers}
        for d in ledger(layout.summary_counts(product, aoi, year))
    )
    inputs = _Inputs(layout, product, aoi, layers, event, _backscatter_paths(layout, aoi, event), counted)
    name = flood_product(product)
    cog = layout.layer(name, aoi, event.start, event.name)
    with (
        tempfile.TemporaryDirectory(dir=layout.root) as folder,
        rasterio.open(layout.root / layers[0].cog) as like,
    ):
        scratch = Path(folder) / "flood.tif"
        tally = _ZoneTally(len(bodies))
        parts = []
        with rasterio.open(scratch, "w", **{**like.profile, "nodata": 255}) as dst:
            for _, window in like.block_windows(1):
                flood = inputs.flood(window)
                dst.write(flood, 1, window=window)
                transform = like.window_transform(window)
                tally.add(flood, rasterize_zones(bodies, str(like.crs), transform, flood.shape))
                parts.extend(_polygon_parts(flood, transform))
        translate_to_cog(scratch, cog, product_spec(name).cog)
        crs, transform = like.crs, like.transform
    stem = cog.parent / "flood"
    vectors = write_vector_layers(stem, {"flood": _polygons(parts, transform, crs, event)})
    rows = tally.rows(settings, bodies, event, product)
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


@dataclass(frozen=True)
class _Inputs:
    """The published layers an event is detected from, read one window at a time."""

    layout: OutputLayout
    product: str
    aoi: str
    layers: list[Layer]
    event: FloodEvent
    backscatter: tuple[list[Path], list[Path]]
    """VV layers before and during the event (the ratio method)."""
    counted: frozenset[str]
    """Dates already in the occurrence counts of the event's years."""

    def flood(self, window: Window) -> NDArray[np.uint8]:
        """The flood layer of ``window``."""
        classes = [_read(self.layout.root / layer.cog, window) for layer in self.layers]
        normal = reference(*self._reference_counts(classes, window), self.event.rule)
        if self.event.method == "classes":
            return flood_from_classes(classes, normal)
        before, during = ([_read_db(path, window) for path in paths] for paths in self.backscatter)
        return flood_from_backscatter(before, during, normal, self.event.rule)

    def _reference_counts(
        self, event_classes: list[NDArray[np.uint8]], window: Window
    ) -> tuple[NDArray[np.uint16], NDArray[np.uint16]]:
        """Wet and clear counts of every year counted, less the event's own dates (a flood must not
        make itself permanent water)."""
        wet, clear, _, _ = wet_clear_totals(self.layout, self.product, self.aoi, None, window)
        wet, clear = wet.astype(np.int32), clear.astype(np.int32)
        for layer, classes in zip(self.layers, event_classes, strict=True):
            if layer.date.isoformat() in self.counted:
                wet -= classes == CLASS_WATER
                clear -= np.isin(classes, (CLASS_DRY, CLASS_WATER))
        return np.clip(wet, 0, None).astype(np.uint16), np.clip(clear, 0, None).astype(np.uint16)


def _read(path: Path, window: Window) -> NDArray[Any]:
    """Band 1 of a published COG in ``window``."""
    with rasterio.open(path) as ds:
        return ds.read(1, window=window)


def _read_db(path: Path, window: Window) -> NDArray[np.float32]:
    """A published backscatter layer (hundredths of a dB) in dB, NaN where not seen."""
    stored = _read(path, window)
    return np.where(stored == INT16_NODATA, np.nan, stored * BACKSCATTER_SCALE.scale).astype(np.float32)


def _backscatter_paths(layout: OutputLayout, aoi: str, event: FloodEvent) -> tuple[list[Path], list[Path]]:
    """The ratio method's published VV layers before and during the event (none for ``classes``)."""
    if event.method == "classes":
        return [], []
    if event.method != "ratio":
        raise ValueError(f"flood event {event.name}: unknown method {event.method!r}; use classes or ratio")
    first = event.start - dt.timedelta(days=event.before_days)
    before: list[Path] = []
    during: list[Path] = []
    for item in read_items(layout, "vv"):
        props = item["properties"]
        day = dt.date.fromisoformat(props["datetime"][:10])
        if props["sensing:aoi"] != aoi or not (first <= day <= event.end):
            continue
        path = (layout.item("vv", aoi, day).parent / item["assets"]["data"]["href"]).resolve()
        (during if day >= event.start else before).append(path)
    if not before or not during:
        raise ValueError(
            f"flood event {event.name}: the ratio method needs published vv layers both before "
            f"({first} to {event.start - dt.timedelta(days=1)}) and during the event; publish the vv product"
        )
    return before, during


def _polygon_parts(flood: NDArray[np.uint8], transform: rasterio.Affine) -> list[BaseGeometry]:
    """The flooded pixels of one window as polygons (joined across windows by :func:`_polygons`)."""
    mask = flood == FLOODED
    return [shape(g) for g, _ in shapes(mask.astype(np.uint8), mask=mask, transform=transform)]


def _polygons(
    parts: list[BaseGeometry], transform: rasterio.Affine, crs: object, event: FloodEvent
) -> gpd.GeoDataFrame:
    """The flooded area as one multipolygon, simplified by one pixel."""
    union = shapely.union_all(parts)
    geometry = union.simplify(abs(transform.a), preserve_topology=True)
    frame = gpd.GeoDataFrame(
        [{"event": event.name, "start": event.start.isoformat(), "end": event.end.isoformat()}],
        geometry=[geometry], crs=crs,
    )  # fmt: skip
    frame["flooded_km2"] = round(union.area / 1e6, 4)
    return frame


class _ZoneTally:
    """Flooded, permanent-water, seen and all pixels per zone (0: outside every outline), window by
    window."""

    def __init__(self, n_bodies: int) -> None:
        self.counts = np.zeros((4, n_bodies + 1), dtype=np.int64)

    def add(self, flood: NDArray[np.uint8], zones: NDArray[np.uint16]) -> None:
        for row, mask in enumerate((flood == FLOODED, flood == PERMANENT_WATER, flood != 255)):
            self.counts[row] += np.bincount(zones[mask], minlength=self.counts.shape[1])
        self.counts[3] += np.bincount(zones.ravel(), minlength=self.counts.shape[1])

    def rows(
        self, settings: Settings, bodies: list[WaterBody], event: FloodEvent, product: str
    ) -> pd.DataFrame:
        """Flooded and permanent-water area per water body, outside every outline, and over the AOI."""
        km2 = pixel_area_m2(aoi_geobox(settings.aoi)) / 1e6
        names = [OUTSIDE, *(b.id for b in bodies)]
        columns = [*self.counts.T, self.counts.sum(axis=1)]
        rows = []
        for name, (flooded, permanent, seen, total) in zip([*names, "aoi total"], columns, strict=True):
            rows.append(
                {
                    "event": event.name, "product": product, "method": event.method,
                    "start": event.start.isoformat(), "end": event.end.isoformat(), "zone": name,
                    "flooded_km2": round(float(flooded) * km2, 4), "permanent_km2": round(float(permanent) * km2, 4),
                    "seen_fraction": round(float(seen) / max(int(total), 1), 4),
                }
            )  # fmt: skip
        return pd.DataFrame(rows)
