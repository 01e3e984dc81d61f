"""The static STAC catalog of outputs: one collection per product, items sharded by year.

Documents are plain dicts written with stable key order, so an unchanged item is an unchanged file.
Each is validated offline before it is written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sensing import __version__
from sensing.products import ProductSpec
from sensing.publish.layout import OutputLayout, item_id
from sensing.publish.stac_validation import validate_stac
from sensing.publish.storage import file_checksum, write_json_atomic

__all__ = ["EXTENSIONS", "LayerMetadata", "build_item", "read_items", "write_collections", "write_item"]

STAC_VERSION = "1.1.0"
EXTENSIONS = {
    "proj": "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "raster": "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "eo": "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "file": "https://stac-extensions.github.io/file/v2.1.0/schema.json",
    "processing": "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
}
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
VECTOR_MEDIA_TYPES = {
    ".gpkg": "application/geopackage+sqlite3",
    ".geojson": "application/geo+json",
    ".parquet": "application/vnd.apache.parquet",
}


class LayerMetadata(dict[str, Any]):
    """Grid and provenance of one layer: keys ``crs``, ``shape``, ``transform``, ``bbox``,
    ``geometry`` (lon/lat GeoJSON), ``bbox_lonlat``, ``datetime``, ``scene_id``, ``scene_ids`` (every
    archive item of the acquisition), ``version``,
    ``resolution``, ``cloud_cover`` and optional ``properties``."""


def _rel(target: Path, start: Path) -> str:
    return os.path.relpath(target, start.parent)


def build_item(
    spec: ProductSpec,
    layout: OutputLayout,
    aoi: str,
    cog: Path,
    meta: LayerMetadata,
    extras: Mapping[str, Path] | None = None,
) -> dict[str, Any]:
    """The STAC item of one published COG (the COG must already be in place: its checksum is recorded),
    with ``extras`` (asset key -> published file, e.g. the date's water polygons) as further assets."""
    when: dt.datetime = meta["datetime"]
    path = layout.item(spec.name, aoi, when.date())
    band: dict[str, Any] = {
        "data_type": spec.cog.dtype,
        "nodata": spec.cog.nodata,
        "spatial_resolution": meta["resolution"],
    }
    if spec.cog.scale != 1 or spec.cog.offset != 0:
        band.update(scale=spec.cog.scale, offset=spec.cog.offset)
    properties = {
        "datetime": when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": f"{spec.title}, {aoi}, {when.date().isoformat()}",
        "proj:code": meta["crs"],
        "proj:shape": list(meta["shape"]),
        "proj:transform": list(meta["transform"]),
        "proj:bbox": list(meta["bbox"]),
        "processing:software": {"sensing": __version__},
        "processing:version": meta["version"],
        "processing:lineage": f"Derived from {', '.join(meta['scene_ids'])}",
        "sensing:product": spec.name,
        "sensing:aoi": aoi,
        "sensing:version": meta["version"],
        "sensing:source_scenes": list(meta["scene_ids"]),
        **({} if meta["cloud_cover"] is None else {"eo:cloud_cover": meta["cloud_cover"]}),
        **meta.get("properties", {}),
    }
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": sorted(EXTENSIONS.values()),
        "id": item_id(spec.name, aoi, when.date()),
        "collection": spec.name,
        "geometry": meta["geometry"],
        "bbox": list(meta["bbox_lonlat"]),
        "properties": properties,
        "links": [
            {
                "rel": "root",
                "href": _rel(layout.stac_root / "catalog.json", path),
                "type": "application/json",
            },
            {"rel": "parent", "href": _rel(layout.collection(spec.name), path), "type": "application/json"},
            {
                "rel": "collection",
                "href": _rel(layout.collection(spec.name), path),
                "type": "application/json",
            },
        ],
        "assets": {
            "data": {
                "href": _rel(cog, path),
                "type": COG_MEDIA_TYPE,
                "title": spec.title,
                "roles": ["data"],
                "raster:bands": [band],
                "file:checksum": file_checksum(cog),
                "file:size": cog.stat().st_size,
            },
            **{key: _file_asset(file, path) for key, file in (extras or {}).items()},
        },
    }


def _file_asset(file: Path, item_path: Path) -> dict[str, Any]:
    """A vector or table asset: href relative to the item, media type, checksum and size."""
    return {
        "href": _rel(file, item_path),
        "type": VECTOR_MEDIA_TYPES[file.suffix],
        "title": file.name,
        "roles": ["data"],
        "file:checksum": file_checksum(file),
        "file:size": file.stat().st_size,
    }


def write_item(item: dict[str, Any], layout: OutputLayout) -> Path:
    """Validate and publish an item atomically; unchanged items are not rewritten."""
    when = dt.date.fromisoformat(item["properties"]["datetime"][:10])
    path = layout.item(item["collection"], item["properties"]["sensing:aoi"], when)
    validate_stac(item, str(path))
    write_json_atomic(path, item)
    return path


def read_items(layout: OutputLayout, product: str) -> list[dict[str, Any]]:
    """Every published item of a product, oldest first."""
    folder = layout.collection(product).parent
    items = [json.loads(p.read_text()) for p in sorted(folder.glob("*/*.json"))]
    return sorted(items, key=lambda i: (i["properties"]["datetime"], i["id"]))


def write_collections(layout: OutputLayout, products: dict[str, ProductSpec]) -> None:
    """Rebuild each product's collection (extent, item links) and the root catalog from the items."""
    root_path = layout.stac_root / "catalog.json"
    children = []
    for name, spec in sorted(products.items()):
        items = read_items(layout, name)
        if not items:
            continue
        path = layout.collection(name)
        bboxes = [i["bbox"] for i in items]
        times = [i["properties"]["datetime"] for i in items]
        collection = {
            "type": "Collection",
            "stac_version": STAC_VERSION,
            "stac_extensions": [],
            "id": name,
            "title": spec.title,
            "description": f"{spec.title}: monitoring layer published by sensing, one item per AOI and date.",
            "license": "CC-BY-4.0",
            "extent": {
                "spatial": {
                    "bbox": [
                        [
                            min(b[0] for b in bboxes),
                            min(b[1] for b in bboxes),
                            max(b[2] for b in bboxes),
                            max(b[3] for b in bboxes),
                        ]
                    ]
                },
                "temporal": {"interval": [[min(times), max(times)]]},
            },
            "links": [
                {"rel": "root", "href": _rel(root_path, path), "type": "application/json"},
                {"rel": "parent", "href": _rel(root_path, path), "type": "application/json"},
                *[
                    {
                        "rel": "item",
                        "href": _rel(
                            layout.item(
                                name,
                                i["properties"]["sensing:aoi"],
                                dt.date.fromisoformat(i["properties"]["datetime"][:10]),
                            ),
                            path,
                        ),
                        "type": "application/geo+json",
                    }
                    for i in items
                ],
            ],
        }
        validate_stac(collection, str(path))
        write_json_atomic(path, collection)
        children.append(
            {"rel": "child", "href": _rel(path, root_path), "type": "application/json", "title": spec.title}
        )
    catalog = {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "sensing-outputs",
        "title": "Water and land monitoring layers",
        "description": "Monitoring layers published by the sensing pipeline.",
        "links": [{"rel": "root", "href": "./catalog.json", "type": "application/json"}, *children],
    }
    validate_stac(catalog, str(root_path))
    write_json_atomic(root_path, catalog)
