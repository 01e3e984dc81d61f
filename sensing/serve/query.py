"""Values behind the map: a pixel's time series at a point, and statistics inside a drawn polygon.

Reads go through rio-tiler on the catalogued COGs only; the point and polygon are the only inputs.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, HTTPException, Query
from fastapi import Path as PathParam
from pyproj import Geod
from rasterio.warp import transform_bounds
from rio_tiler.errors import PointOutsideBounds
from shapely.geometry import box, shape
from shapely.validation import explain_validity

from sensing.serve.registry import Layer, LayerRegistry
from sensing.serve.render import open_cog
from sensing.serve.wmts import group_layers

__all__ = ["MAX_POLYGON_PIXELS", "query_router"]

MAX_POLYGON_PIXELS = 25_000_000
"""Largest polygon (in the layer's pixels) whose statistics are computed on request."""
GEOD = Geod(ellps="WGS84")
LayerId = Annotated[str, PathParam(pattern=r"^[a-z0-9-]{1,100}$")]
Date = Annotated[str, PathParam(pattern=r"^\d{4}-\d{2}-\d{2}$")]


def _value(layer: Layer, lon: float, lat: float) -> float | int | None:
    """The layer's value at a point: a class as stored, or an index in physical units; None where no data."""
    with open_cog(layer.cog) as src:
        point = src.point(lon, lat, unscale=layer.rescale is not None)
    if bool(np.ma.getmaskarray(point.array)[0]):
        return None
    value = point.array.data[0]
    return int(value) if layer.rescale is None else round(float(value), 4)


def _label(layer: Layer, value: float | int | None) -> str | None:
    if layer.rescale is not None or value is None:
        return None
    return next((str(c["label"]) for c in layer.legend if c["value"] == value), None)


def _polygon(feature: dict[str, Any]) -> dict[str, Any]:
    """The geometry of a GeoJSON Feature or geometry, checked: a valid (multi)polygon in lon/lat."""
    geometry = feature.get("geometry", feature) if feature.get("type") == "Feature" else feature
    try:
        polygon = shape(geometry)
    except Exception as exc:  # shapely raises several types on malformed GeoJSON
        raise HTTPException(422, f"not a GeoJSON geometry: {str(exc)[:200]}") from exc
    if polygon.geom_type not in ("Polygon", "MultiPolygon"):
        raise HTTPException(422, f"a Polygon or MultiPolygon is needed, not {polygon.geom_type}")
    if not polygon.is_valid:
        raise HTTPException(422, f"invalid polygon: {explain_validity(polygon)[:200]}")
    west, south, east, north = polygon.bounds
    if not (west >= -180 and east <= 180 and south >= -90 and north <= 90):
        raise HTTPException(422, "coordinates must be longitude, latitude (EPSG:4326)")
    return dict(geometry)


def _statistics(layer: Layer, geometry: dict[str, Any]) -> dict[str, Any]:
    """Class areas (km2) or index statistics of the layer's pixels inside ``geometry`` at full resolution."""
    with open_cog(layer.cog) as src:
        assert src.transform is not None  # open_cog opened the dataset
        res_x, res_y = abs(src.transform.a), abs(src.transform.e)
        crs = src.crs
        west, south, east, north = shape(geometry).bounds
        left, bottom, right, top = transform_bounds("EPSG:4326", crs, west, south, east, north)
        if (right - left) * (top - bottom) / (res_x * res_y) > MAX_POLYGON_PIXELS:
            raise HTTPException(
                413, f"the polygon covers more than {MAX_POLYGON_PIXELS} pixels of {layer.id}"
            )
        if not shape(geometry).intersects(box(*layer.bounds)):
            raise HTTPException(404, f"the polygon does not reach {layer.id}")
        image = src.feature(geometry, dst_crs=crs, unscale=layer.rescale is not None, max_size=None)
    values = image.array[0]
    inside = ~np.ma.getmaskarray(values)
    pixel_km2 = res_x * res_y / 1e6
    result: dict[str, Any] = {
        "layer": layer.id, "date": layer.date, "pixels": int(inside.sum()),
        "polygon_km2": round(abs(GEOD.geometry_area_perimeter(shape(geometry))[0]) / 1e6, 4),
    }  # fmt: skip
    if layer.rescale is None:
        counts = np.bincount(values.data[inside].astype(np.int64), minlength=256)
        result["classes"] = [
            {"value": c["value"], "label": c["label"], "km2": round(float(counts[c["value"]]) * pixel_km2, 4)}
            for c in layer.legend
            if counts[c["value"]]
        ]
        return result
    data = values.data[inside].astype("float64")
    if data.size:
        p10, p50, p90 = np.percentile(data, [10, 50, 90])
        result |= {"mean": round(float(data.mean()), 4), "min": round(float(data.min()), 4),
                   "max": round(float(data.max()), 4), "p10": round(float(p10), 4), "median": round(float(p50), 4),
                   "p90": round(float(p90), 4)}  # fmt: skip
    return result


def query_router(registry: LayerRegistry) -> APIRouter:
    """``GET /layers/{id}/point`` and ``POST /layers/{id}/{date}/statistics``."""
    router = APIRouter()

    @router.get("/layers/{layer_id}/point")
    def point(
        layer_id: LayerId,
        lon: Annotated[float, Query(ge=-180, le=180)],
        lat: Annotated[float, Query(ge=-90, le=90)],
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> dict[str, Any]:
        """The layer's value at lon/lat on every published date from ``start`` to ``end``: a pixel's
        time series (classes with their label, indices in physical units; null where not seen)."""
        entry = group_layers(registry.all()).get(layer_id)
        if entry is None:
            raise HTTPException(404, f"no published layer {layer_id!r}")
        if start and end and start > end:
            raise HTTPException(422, "start is after end")
        dates = [
            d for d in entry.dates
            if (start is None or d >= start.isoformat()) and (end is None or d <= end.isoformat())
        ]  # fmt: skip
        values = []
        for date in dates:
            layer = registry.get(layer_id, date)
            if layer is None:
                continue  # withdrawn between the two reads of the index
            try:
                value = _value(layer, lon, lat)
            except PointOutsideBounds as exc:
                raise HTTPException(404, f"{lon}, {lat} is outside {layer_id}") from exc
            values.append({"date": date, "value": value, "label": _label(layer, value)})
        return {"layer": layer_id, "lon": lon, "lat": lat, "values": values}

    @router.post("/layers/{layer_id}/{date}/statistics")
    def statistics(
        layer_id: LayerId, date: Date, feature: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        """Inside a GeoJSON polygon (lon/lat): area per class in km2 (e.g. water area inside a drawn
        polygon), or mean, min, max and percentiles of an index."""
        layer = registry.get(layer_id, date)
        if layer is None:
            raise HTTPException(404, f"no published layer {layer_id!r} on {date}")
        result = _statistics(layer, _polygon(feature))
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in result.items()}

    return router
