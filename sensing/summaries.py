"""Water occurrence per pixel and year, kept as additive monthly counts so a night adds only its dates.

For each class product (``water``, ``water-sar``), AOI and year one tiled GeoTIFF holds 24 uint8
bands: wet observations per month (bands 1-12) and clear observations per month (13-24). Its tag
``SENSING_LEDGER`` records which layer (date -> COG path) each contribution came from, in the same
file, so counts and ledger are replaced together, atomically: a crash never counts a date twice.
Reprocessing a date subtracts the old layer (previous versions stay on disk) and adds the new one.

Published from the counts: ``occurrence`` (percent of clear observations that were water, uint8,
255 never observed), ``water-months`` (months of the year with water seen, 0-12) and
``max-extent`` (1 where water was seen at least once in the year, 0 where never).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.crs import CRS
from rasterio.transform import Affine
from rasterio.windows import Window

from sensing.compute.water import CLASS_DRY, CLASS_WATER
from sensing.errors import SensingError
from sensing.products import NEVER_SEEN, product_spec
from sensing.publish.cog import translate_to_cog
from sensing.publish.layout import OutputLayout
from sensing.publish.stac import LayerMetadata, build_item, read_items, write_item
from sensing.publish.storage import atomic_path

__all__ = [
    "Layer",
    "class_layers",
    "counted_years",
    "ledger",
    "publish_occurrence",
    "summary_products",
    "update_counts",
    "wet_clear_totals",
]

LEDGER_TAG = "SENSING_LEDGER"
BLOCK = 512


def summary_products(class_product: str) -> dict[str, str]:
    """Kind (``occurrence``, ``water-months``, ``max-extent``) -> product name of the summaries of a
    class product."""
    suffix = class_product.removeprefix("water")
    return {kind: f"{kind}{suffix}" for kind in ("occurrence", "water-months", "max-extent")}


@dataclass(frozen=True)
class Layer:
    """One published class layer: its date, COG (relative to the output root) and version."""

    date: dt.date
    cog: str
    version: str


def class_layers(layout: OutputLayout, product: str, aoi: str) -> dict[int, list[Layer]]:
    """The current class layers of ``product`` over ``aoi`` (from its STAC items), by year."""
    years: dict[int, list[Layer]] = {}
    root = layout.root.resolve()
    for item in read_items(layout, product):
        props = item["properties"]
        if props["sensing:aoi"] != aoi:
            continue
        day = dt.date.fromisoformat(props["datetime"][:10])
        cog = (layout.item(product, aoi, day).parent / item["assets"]["data"]["href"]).resolve()
        years.setdefault(day.year, []).append(
            Layer(day, str(cog.relative_to(root)), props["sensing:version"])
        )
    return years


def ledger(path: Path) -> dict[str, str]:
    """Date -> class layer (COG path) of every contribution to a year's counts."""
    if not path.exists():
        return {}
    with rasterio.open(path) as ds:
        return dict(json.loads(ds.tags().get(LEDGER_TAG, "{}")))


def update_counts(layout: OutputLayout, product: str, aoi: str, year: int, layers: list[Layer]) -> bool:
    """Bring the year's monthly counts in line with ``layers``: add new dates, swap reprocessed ones,
    drop withdrawn ones. Returns False (and writes nothing) when the ledger already matches."""
    path = layout.summary_counts(product, aoi, year)
    counted = ledger(path)
    wanted = {layer.date.isoformat(): layer.cog for layer in layers}
    remove = {d: c for d, c in counted.items() if wanted.get(d) != c}
    add = {d: c for d, c in wanted.items() if counted.get(d) != c}
    if not remove and not add:
        return False
    with atomic_path(path) as tmp:
        if path.exists():
            shutil.copyfile(path, tmp)
        else:
            _create_counts(tmp, layout.root / next(iter(add.values())))
        with rasterio.open(tmp, "r+") as dst, contextlib.ExitStack() as stack:
            changes = [
                (
                    sign,
                    dt.date.fromisoformat(day).month,
                    stack.enter_context(rasterio.open(layout.root / cog)),
                )
                for sign, layers_by_day in ((-1, remove), (1, add))
                for day, cog in layers_by_day.items()
            ]
            for _, window in dst.block_windows(1):
                counts = dst.read(window=window).astype(np.int16)
                for sign, month, src in changes:
                    _count(counts, src.read(1, window=window), month, sign)
                dst.write(np.clip(counts, 0, 255).astype(np.uint8), window=window)
            dst.update_tags(**{LEDGER_TAG: json.dumps(wanted, sort_keys=True)})
    return True


def counted_years(layout: OutputLayout, product: str, aoi: str) -> list[int]:
    """Years that have monthly counts of ``product`` over ``aoi``, in order."""
    folder = layout.summary_counts(product, aoi, 2000).parent.parent
    return sorted(int(p.parent.name) for p in folder.glob("[0-9][0-9][0-9][0-9]/counts.tif"))


def wet_clear_totals(
    layout: OutputLayout, product: str, aoi: str, years: Iterable[int] | None, window: Window | None = None
) -> tuple[NDArray[np.uint16], NDArray[np.uint16], Affine, CRS]:
    """Wet and clear observations per pixel summed over ``years`` (None: every year counted) of
    ``window`` (default the whole grid), with the window's transform and CRS; read in strips so
    memory stays at the two totals."""
    years = counted_years(layout, product, aoi) if years is None else list(years)
    paths = [p for year in years if (p := layout.summary_counts(product, aoi, year)).exists()]
    if not paths:
        raise SensingError(f"no occurrence counts of {product} over {aoi} for the years {years}")
    with rasterio.open(paths[0]) as first:
        window = window or Window(0, 0, first.width, first.height)
        transform, crs = first.window_transform(window), first.crs
    wet = np.zeros((int(window.height), int(window.width)), dtype=np.uint16)
    clear = np.zeros_like(wet)
    for path in paths:
        with rasterio.open(path) as ds:
            for top in range(0, wet.shape[0], BLOCK):
                strip = Window(
                    window.col_off, window.row_off + top, window.width, min(BLOCK, wet.shape[0] - top)
                )
                counts = ds.read(window=strip, boundless=True, fill_value=0).astype(np.uint16)
                wet[top : top + int(strip.height)] += counts[:12].sum(axis=0, dtype=np.uint16)
                clear[top : top + int(strip.height)] += counts[12:].sum(axis=0, dtype=np.uint16)
    return wet, clear, transform, crs


def _create_counts(path: Path, like: Path) -> None:
    with rasterio.open(like) as src:
        profile = {
            "driver": "GTiff", "dtype": "uint8", "count": 24, "width": src.width, "height": src.height,
            "crs": src.crs, "transform": src.transform, "tiled": True, "blockxsize": BLOCK,
            "blockysize": BLOCK, "compress": "zstd", "interleave": "pixel",
        }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        for _, window in dst.block_windows(1):
            dst.write(np.zeros((24, window.height, window.width), dtype=np.uint8), window=window)


def _count(counts: NDArray[np.int16], classes: NDArray[np.uint8], month: int, sign: int) -> None:
    """Add (sign 1) or subtract (-1) one class layer's wet and clear pixels to a window's counts."""
    counts[month - 1] += sign * (classes == CLASS_WATER)
    counts[12 + month - 1] += sign * ((classes == CLASS_DRY) | (classes == CLASS_WATER))


def publish_occurrence(
    layout: OutputLayout, product: str, aoi: str, year: int, layers: list[Layer], meta: LayerMetadata
) -> None:
    """Write the year's occurrence and water-months COGs and their STAC items from the counts.

    ``meta`` gives the grid; the period, version and source scenes come from ``layers``.
    """
    counts_path = layout.summary_counts(product, aoi, year)
    names = summary_products(product)
    with tempfile.TemporaryDirectory(dir=counts_path.parent) as folder, rasterio.open(counts_path) as src:
        profile = {**src.profile, "count": 1, "nodata": NEVER_SEEN}
        scratch = {kind: Path(folder) / f"{kind}.tif" for kind in names}
        outputs = {kind: rasterio.open(path, "w", **profile) for kind, path in scratch.items()}
        try:
            for _, window in src.block_windows(1):
                counts = src.read(window=window).astype(np.int32)
                wet, clear = counts[:12].sum(axis=0), counts[12:].sum(axis=0)
                percent = np.where(clear > 0, np.round(100 * wet / np.maximum(clear, 1)), NEVER_SEEN)
                months = np.where(clear > 0, (counts[:12] > 0).sum(axis=0), NEVER_SEEN)
                outputs["occurrence"].write(percent.astype(np.uint8), 1, window=window)
                outputs["water-months"].write(months.astype(np.uint8), 1, window=window)
                extent = np.where(clear > 0, wet > 0, NEVER_SEEN)
                outputs["max-extent"].write(extent.astype(np.uint8), 1, window=window)
        finally:
            for dst in outputs.values():
                dst.close()
        start = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
        version = f"{product}-{year}-{len(layers)}dates"
        properties = {
            "start_datetime": f"{year}-01-01T00:00:00Z",
            "end_datetime": f"{year}-12-31T23:59:59Z",
            "sensing:period": str(year),
            "sensing:class_product": product,
            "sensing:dates": sorted(layer.date.isoformat() for layer in layers),
        }
        for kind, name in names.items():
            spec = product_spec(name)
            cog = layout.layer(name, aoi, start.date(), f"{product}-{year}")
            translate_to_cog(scratch[kind], cog, spec.cog)
            item_meta = LayerMetadata(
                {**meta, "datetime": start, "version": version, "cloud_cover": None, "properties": properties}
            )
            write_item(build_item(spec, layout, aoi, cog, item_meta), layout)
