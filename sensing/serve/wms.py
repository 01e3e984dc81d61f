"""OGC WMS 1.3.0 (and 1.1.1 requests): GetCapabilities listing every published layer with its dates as
the ``time`` dimension and its legend, and GetMap rendering one or more layers into one PNG.

Parameters are parsed here into a :class:`MapRequest`; nothing in a request ever becomes a path.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from pyproj import CRS as ProjCRS
from pyproj.exceptions import CRSError
from rasterio.crs import CRS

from sensing.serve.ogcxml import serialise
from sensing.serve.wmts import LayerDates

__all__ = [
    "MAP_FORMATS",
    "MAX_SIZE",
    "MapRequest",
    "WmsError",
    "capabilities",
    "exception_report",
    "parse_get_map",
]

MAX_SIZE = 4096
"""Largest WIDTH and HEIGHT of a GetMap image."""
MAP_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}
"""GetMap formats and their PIL names (JPEG: opaque, lossy; for basemap-like viewing only)."""
LISTED_CRS = ("EPSG:3857", "EPSG:4326", "CRS:84")
"""CRS listed in the capabilities; GetMap accepts any EPSG code."""
NS = {"": "http://www.opengis.net/wms", "xlink": "http://www.w3.org/1999/xlink"}
XLINK_HREF = f"{{{NS['xlink']}}}href"


class WmsError(ValueError):
    """A request the WMS refuses: an OGC exception code, the message, and the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


@dataclass(frozen=True)
class MapRequest:
    """A parsed GetMap request."""

    layers: list[tuple[str, str]]
    """(layer id, date) pairs, bottom first."""
    crs: CRS
    bbox: tuple[float, float, float, float]
    """minx, miny, maxx, maxy in ``crs``'s x/y order (easting/longitude first)."""
    width: int
    height: int
    transparent: bool
    format: str
    """A key of :data:`MAP_FORMATS`."""


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NS['']}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _online(parent: ET.Element, href: str) -> None:
    _el(parent, "OnlineResource").set(XLINK_HREF, href)


def capabilities(layers: dict[str, LayerDates], base_url: str) -> bytes:
    """The WMS 1.3.0 GetCapabilities document."""
    root = ET.Element(f"{{{NS['']}}}WMS_Capabilities", {"version": "1.3.0"})
    service = _el(root, "Service")
    _el(service, "Name", "WMS")
    _el(service, "Title", "Kazakhstan water and land monitoring")
    _online(service, f"{base_url}/wms")
    _el(service, "MaxWidth", str(MAX_SIZE))
    _el(service, "MaxHeight", str(MAX_SIZE))
    capability = _el(root, "Capability")
    request = _el(capability, "Request")
    for name, formats in (("GetCapabilities", ["text/xml"]), ("GetMap", list(MAP_FORMATS))):
        operation = _el(request, name)
        for fmt in formats:
            _el(operation, "Format", fmt)
        _online(_el(_el(_el(operation, "DCPType"), "HTTP"), "Get"), f"{base_url}/wms?")
    _el(_el(capability, "Exception"), "Format", "XML")
    top = _el(capability, "Layer")
    _el(top, "Title", "Monitoring layers")
    for crs in LISTED_CRS:
        _el(top, "CRS", crs)
    if layers:
        _bounding_box(top, _union(entry.latest.bounds for entry in layers.values()))
    for layer_id, entry in layers.items():
        layer = entry.latest
        node = _el(top, "Layer", queryable="0", opaque="0")
        _el(node, "Name", layer_id)
        _el(node, "Title", f"{layer.title} ({layer.aoi})")
        _bounding_box(node, layer.bounds)
        _el(node, "Dimension", ",".join(entry.dates), name="time", units="ISO8601", default=layer.date)
        style = _el(node, "Style")
        _el(style, "Name", "default")
        _el(style, "Title", "default")
        legend = _el(style, "LegendURL")
        _el(legend, "Format", "image/png")
        _online(legend, f"{base_url}/layers/{layer_id}/{layer.date}/legend.png")
    return serialise(root, NS)


def _union(boxes: Iterable[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    wests, souths, easts, norths = zip(*boxes, strict=True)
    return min(wests), min(souths), max(easts), max(norths)


def _bounding_box(node: ET.Element, bounds: tuple[float, float, float, float]) -> None:
    west, south, east, north = bounds
    geographic = _el(node, "EX_GeographicBoundingBox")
    for tag, value in (
        ("westBoundLongitude", west), ("eastBoundLongitude", east),
        ("southBoundLatitude", south), ("northBoundLatitude", north),
    ):  # fmt: skip
        _el(geographic, tag, repr(float(value)))
    _el(
        node,
        "BoundingBox",
        CRS="CRS:84",
        minx=repr(west),
        miny=repr(south),
        maxx=repr(east),
        maxy=repr(north),
    )


def parse_get_map(params: dict[str, str], layers: dict[str, LayerDates]) -> MapRequest:
    """A GetMap request's parameters (keys lower-cased) checked against the published layers."""
    version = params.get("version", "1.3.0")
    crs_key = "crs" if version == "1.3.0" else "srs"
    for key in ("layers", crs_key, "bbox", "width", "height"):
        if not params.get(key):
            raise WmsError("MissingParameterValue", f"{key.upper()} is required")
    image_format = params.get("format", "image/png")
    if image_format not in MAP_FORMATS:
        raise WmsError("InvalidFormat", f"FORMAT must be one of {', '.join(MAP_FORMATS)}")
    try:
        width, height = int(params["width"]), int(params["height"])
        bbox = tuple(float(v) for v in params["bbox"].split(","))
    except ValueError as exc:
        raise WmsError("InvalidParameterValue", "WIDTH, HEIGHT and BBOX must be numbers") from exc
    if not (0 < width <= MAX_SIZE and 0 < height <= MAX_SIZE):
        raise WmsError("InvalidParameterValue", f"WIDTH and HEIGHT must be 1 to {MAX_SIZE}")
    if len(bbox) != 4 or not (bbox[0] < bbox[2] and bbox[1] < bbox[3]):
        raise WmsError("InvalidParameterValue", "BBOX must be minx,miny,maxx,maxy with min < max")
    if not (math.isfinite(bbox[2] - bbox[0]) and math.isfinite(bbox[3] - bbox[1])):
        raise WmsError("InvalidParameterValue", "BBOX must be finite numbers")
    crs = _crs(params[crs_key])
    if version == "1.3.0" and _lat_first(params[crs_key]):
        bbox = (bbox[1], bbox[0], bbox[3], bbox[2])
    time = params.get("time")
    chosen = []
    for layer_id in params["layers"].split(","):
        entry = layers.get(layer_id)
        if entry is None:
            raise WmsError("LayerNotDefined", f"no layer {layer_id[:100]!r}", status=404)
        date = time or entry.latest.date
        if date not in entry.dates:
            raise WmsError(
                "InvalidDimensionValue", f"TIME {date[:40]!r} is not a date of {layer_id}", status=404
            )
        chosen.append((layer_id, date))
    transparent = params.get("transparent", "FALSE").upper() == "TRUE"
    box = (bbox[0], bbox[1], bbox[2], bbox[3])
    return MapRequest(
        chosen, crs, box, width, height, transparent and image_format == "image/png", image_format
    )


def _crs(text: str) -> CRS:
    if text.upper() == "CRS:84":
        return CRS.from_epsg(4326)
    if not text.upper().startswith("EPSG:") or not text[5:].isdigit():
        raise WmsError("InvalidCRS", f"CRS {text[:40]!r}: give EPSG:code or CRS:84")
    try:
        return CRS.from_epsg(int(text[5:]))
    except Exception as exc:  # rasterio's CRSError for an unknown code
        raise WmsError("InvalidCRS", f"unknown CRS {text[:40]!r}") from exc


def _lat_first(text: str) -> bool:
    """Whether WMS 1.3.0 orders this CRS's BBOX latitude first (EPSG:4326 does, CRS:84 does not)."""
    if text.upper() == "CRS:84":
        return False
    try:
        axes = ProjCRS.from_user_input(text).axis_info
    except CRSError:
        return False
    return bool(axes) and axes[0].direction.lower() == "north"


def exception_report(error: WmsError) -> bytes:
    """A WMS ServiceExceptionReport (never naming a server path)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ServiceExceptionReport version="1.3.0" xmlns="http://www.opengis.net/ogc">'
        f'<ServiceException code="{error.code}">{escape(str(error))}</ServiceException></ServiceExceptionReport>'
    ).encode()
