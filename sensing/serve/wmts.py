"""One OGC WMTS 1.0.0 GetCapabilities document for every published layer, its dates as the ``Time``
dimension and its legend, in both tile matrix sets: what QGIS, ArcGIS and GDAL add from one URL.

titiler's WMTS extension describes one dataset per document and has no time; this one lists the
catalogue. The tile matrix sets come from morecantile (the same ones the tiles are cut in).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import morecantile

from sensing.serve.ogcxml import serialise
from sensing.serve.registry import Layer

__all__ = ["WMTS_FORMAT", "LayerDates", "capabilities", "group_layers"]

WMTS_FORMAT = "image/png"
NS = {
    "": "http://www.opengis.net/wmts/1.0",
    "ows": "http://www.opengis.net/ows/1.1",
    "xlink": "http://www.w3.org/1999/xlink",
}
EDGE_INSET = 1e-11
"""Degrees the layer's bounds are moved inwards before finding their corner tiles (morecantile's
``LL_EPSILON``): the TileMatrixLimits are then the tiles ``tms.tiles()`` covers the layer with."""
WELL_KNOWN_SCALE_SETS = {
    "WebMercatorQuad": "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible",
    "WGS1984Quad": "urn:ogc:def:wkss:OGC:1.0:GoogleCRS84Quad",
}


@dataclass(frozen=True)
class LayerDates:
    """One layer (a product over an AOI) with every date it was published on, oldest first."""

    latest: Layer
    dates: list[str]


def group_layers(layers: Iterable[Layer]) -> dict[str, LayerDates]:
    """Layers by id, with their dates; the latest date's entry describes the layer."""
    grouped: dict[str, list[Layer]] = {}
    for layer in layers:
        grouped.setdefault(layer.id, []).append(layer)
    return {
        layer_id: LayerDates(max(entries, key=lambda e: e.date), sorted(e.date for e in entries))
        for layer_id, entries in sorted(grouped.items())
    }


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    prefix, _, name = tag.rpartition(":")
    element = ET.SubElement(parent, f"{{{NS[prefix]}}}{name}", {_qname(k): v for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _qname(attr: str) -> str:
    prefix, _, name = attr.partition("_")
    return f"{{{NS['xlink']}}}{name}" if prefix == "xlink" else attr


def _crs_urn(tms: morecantile.TileMatrixSet) -> str:
    return f"urn:ogc:def:crs:EPSG::{tms.crs.to_epsg()}"


def capabilities(
    layers: dict[str, LayerDates],
    base_url: str,
    zooms: Callable[[Layer, morecantile.TileMatrixSet], tuple[int, int]],
    tile_matrix_sets: Iterable[str],
) -> bytes:
    """The GetCapabilities document; ``zooms`` gives a layer's (minzoom, maxzoom) in a tile matrix set."""
    sets = [morecantile.tms.get(name) for name in tile_matrix_sets]
    root = ET.Element(f"{{{NS['']}}}Capabilities", {"version": "1.0.0"})
    service = _el(root, "ows:ServiceIdentification")
    _el(service, "ows:Title", "Kazakhstan water and land monitoring")
    _el(service, "ows:ServiceType", "OGC WMTS")
    _el(service, "ows:ServiceTypeVersion", "1.0.0")
    operations = _el(root, "ows:OperationsMetadata")
    for name in ("GetCapabilities", "GetTile"):
        get = _el(_el(_el(_el(operations, "ows:Operation", name=name), "ows:DCP"), "ows:HTTP"), "ows:Get")
        get.set(_qname("xlink_href"), f"{base_url}/wmts?")
        encodings = _el(_el(get, "ows:Constraint", name="GetEncoding"), "ows:AllowedValues")
        _el(encodings, "ows:Value", "KVP")
    contents = _el(root, "Contents")
    deepest = {tms.id: 0 for tms in sets}
    for layer_id, entry in layers.items():
        layer = entry.latest
        node = _el(contents, "Layer")
        _el(node, "ows:Title", f"{layer.title} ({layer.aoi})")
        west, south, east, north = layer.bounds
        bbox = _el(node, "ows:WGS84BoundingBox")
        _el(bbox, "ows:LowerCorner", f"{west} {south}")
        _el(bbox, "ows:UpperCorner", f"{east} {north}")
        _el(node, "ows:Identifier", layer_id)
        style = _el(node, "Style", isDefault="true")
        _el(style, "ows:Identifier", "default")
        legend = f"{base_url}/layers/{layer_id}/{layer.date}/legend.png"
        _el(style, "LegendURL", format="image/png", xlink_href=legend)
        _el(node, "Format", WMTS_FORMAT)
        dimension = _el(node, "Dimension")
        _el(dimension, "ows:Identifier", "Time")
        _el(dimension, "UOM", "ISO8601")
        _el(dimension, "Default", layer.date)
        for date in entry.dates:
            _el(dimension, "Value", date)
        for tms in sets:
            minzoom, maxzoom = zooms(layer, tms)
            deepest[tms.id] = max(deepest[tms.id], maxzoom)
            link = _el(node, "TileMatrixSetLink")
            _el(link, "TileMatrixSet", tms.id)
            limits = _el(link, "TileMatrixSetLimits")
            for z in range(minzoom, maxzoom + 1):
                # Inset as morecantile's tiles() does: an edge on a tile edge adds no row or column.
                first = tms.tile(west + EDGE_INSET, north - EDGE_INSET, z)
                last = tms.tile(east - EDGE_INSET, south + EDGE_INSET, z)
                limit = _el(limits, "TileMatrixLimits")
                _el(limit, "TileMatrix", str(z))
                _el(limit, "MinTileRow", str(first.y))
                _el(limit, "MaxTileRow", str(last.y))
                _el(limit, "MinTileCol", str(first.x))
                _el(limit, "MaxTileCol", str(last.x))
        template = f"{base_url}/layers/{layer_id}/{{Time}}/tiles/{{TileMatrixSet}}/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.png"
        _el(node, "ResourceURL", format=WMTS_FORMAT, resourceType="tile", template=template)
    for tms in sets:
        _tile_matrix_set(contents, tms, deepest[tms.id])
    _el(root, "ServiceMetadataURL", xlink_href=f"{base_url}/wmts")
    return serialise(root, NS)


def _tile_matrix_set(contents: ET.Element, tms: morecantile.TileMatrixSet, maxzoom: int) -> None:
    node = _el(contents, "TileMatrixSet")
    _el(node, "ows:Identifier", tms.id)
    _el(node, "ows:SupportedCRS", _crs_urn(tms))
    if tms.id in WELL_KNOWN_SCALE_SETS:
        _el(node, "WellKnownScaleSet", WELL_KNOWN_SCALE_SETS[tms.id])
    for z in range(maxzoom + 1):
        matrix = tms.matrix(z)
        item = _el(node, "TileMatrix")
        _el(item, "ows:Identifier", str(z))
        _el(item, "ScaleDenominator", repr(matrix.scaleDenominator))
        _el(item, "TopLeftCorner", " ".join(repr(float(v)) for v in matrix.pointOfOrigin))
        _el(item, "TileWidth", str(matrix.tileWidth))
        _el(item, "TileHeight", str(matrix.tileHeight))
        _el(item, "MatrixWidth", str(matrix.matrixWidth))
        _el(item, "MatrixHeight", str(matrix.matrixHeight))
