"""The tile server: published layers only, as XYZ PNG tiles (rio-tiler), TileJSON, the water bodies' series
and a viewer."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import Annotated, Any

import anyio
import morecantile
from fastapi import FastAPI, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from rasterio.errors import RasterioIOError
from rio_tiler.errors import TileOutsideBounds

from sensing import __version__
from sensing.serve import render as rendering
from sensing.serve import wms
from sensing.serve.cache import TileCache
from sensing.serve.query import query_router
from sensing.serve.registry import Layer, LayerRegistry
from sensing.serve.series import series_router
from sensing.serve.stac_api import stac_router
from sensing.serve.wmts import WMTS_FORMAT, capabilities, group_layers

__all__ = ["TILE_MATRIX_SETS", "create_app"]

STATIC = Path(__file__).with_name("static")
TILE_MATRIX_SETS = ("WebMercatorQuad", "WGS1984Quad")
PUBLIC_TABLES = ("water_areas", "water_bodies", "alerts", "floods", "water_change", "exclusions")
"""Tables downloadable as CSV (by name from this list, never a path)."""
CACHE_CONTROL = "public, max-age=3600"
"""Clients revalidate hourly (a reprocessed date replaces a layer's file; the ETag tells)."""
RENDERERS = anyio.CapacityLimiter(os.cpu_count() or 1)
"""Tiles and legends rendered at once, process-wide: rendering is CPU-bound."""

LayerId = Annotated[str, PathParam(pattern=r"^[a-z0-9-]{1,100}$")]
Date = Annotated[str, PathParam(pattern=r"^\d{4}-\d{2}-\d{2}$")]
Tms = Annotated[str, PathParam(pattern="^(" + "|".join(TILE_MATRIX_SETS) + ")$")]
Zoom = Annotated[int, PathParam(ge=0, le=24)]
Index = Annotated[int, PathParam(ge=0, lt=2**24)]
TileFormat = Annotated[str, PathParam(pattern="^(png|tif)$")]


def _layer(registry: LayerRegistry, layer_id: str, date: str) -> Layer:
    layer = registry.get(layer_id, date)
    if layer is None:
        raise HTTPException(404, f"no published layer {layer_id!r} on {date}")
    return layer


def _etag(layer: Layer, *parts: object) -> str:
    """A validator that changes when the layer's file does (a reprocessed date is a new file)."""
    stat = layer.cog.stat()
    key = "/".join(map(str, (__version__, layer.cog, stat.st_mtime_ns, stat.st_size, *parts)))
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


async def _cached(
    request: Request, cache: TileCache, etag: str, content: Callable[[], bytes], media_type: str
) -> Response:
    """``content`` with its ETag, or 304 Not Modified when the client holds it already. A cached
    image is answered from the event loop at once; rendering runs in a worker thread, at most one
    per CPU at a time (more would only share the CPUs and lengthen every render)."""
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = cache.get(etag)
    if body is None:
        body = await anyio.to_thread.run_sync(content, limiter=RENDERERS)
        cache.put(etag, body)
    return Response(body, media_type=media_type, headers=headers)


def create_app(
    output_root: Path, cors_origins: Sequence[str] = (), tile_cache_mb: int = 256, block_cache_mb: int = 256
) -> FastAPI:
    """The FastAPI application serving the layers published under ``output_root``; browsers on
    ``cors_origins`` (e.g. ``https://maps.example.kz``, or ``*``) may call it from their pages;
    rendered tiles and legends are kept in a ``tile_cache_mb`` MB memory cache, decoded COG blocks
    in GDAL's ``block_cache_mb`` MB cache."""
    rendering.set_block_cache(block_cache_mb)
    registry = LayerRegistry(output_root)
    cache = TileCache(tile_cache_mb * 2**20)
    app = FastAPI(title="sensing tiles", version=__version__, docs_url="/docs", redoc_url=None)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "If-None-Match"], expose_headers=["ETag"],
        )  # fmt: skip
    app.add_middleware(  # JSON, XML and the viewer's files; images are compressed already
        GZipMiddleware,
        minimum_size=1024,
        exclude_content_types=("image/png", "image/tiff", "text/event-stream"),
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(series_router(output_root))
    app.include_router(query_router(registry))
    app.include_router(stac_router(output_root))

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "layers": len(registry.all())}

    @app.get("/layers")
    def layers(request: Request) -> dict[str, Any]:
        """Every published layer and date with the URL of its TileJSON."""
        return {
            "layers": [
                {
                    "id": layer.id,
                    "product": layer.product,
                    "title": layer.title,
                    "aoi": layer.aoi,
                    "date": layer.date,
                    "bounds": layer.bounds,
                    "tilejson": str(
                        request.url_for("tilejson", layer_id=layer.id, date=layer.date, tms="WebMercatorQuad")
                    ),
                    "legend": str(request.url_for("legend", layer_id=layer.id, date=layer.date)),
                    "cog": str(request.url_for("download_cog", layer_id=layer.id, date=layer.date)),
                    "item": str(request.url_for("download_item", layer_id=layer.id, date=layer.date)),
                }
                for layer in registry.all()
            ]
        }

    @app.get("/layers/{layer_id}/{date}/{tms}/tilejson.json", name="tilejson")
    def tilejson(request: Request, layer_id: LayerId, date: Date, tms: Tms) -> dict[str, Any]:
        """TileJSON 3.0.0 of one layer and date."""
        layer = _layer(registry, layer_id, date)
        matrix_set = morecantile.tms.get(tms)
        with rendering.open_cog(layer.cog, matrix_set) as src:
            minzoom, maxzoom = src.minzoom, src.maxzoom
        tiles = str(
            request.url_for(
                "tile", layer_id=layer_id, date=date, tms=tms, z="{z}", x="{x}", y="{y}", fmt="png"
            )
        )
        west, south, east, north = layer.bounds
        return {
            "tilejson": "3.0.0",
            "name": f"{layer.title} {layer.aoi} {layer.date}",
            "version": "1.0.0",
            "scheme": "xyz",
            "tiles": [tiles.replace("%7B", "{").replace("%7D", "}")],
            "minzoom": minzoom,
            "maxzoom": maxzoom,
            "bounds": [west, south, east, north],
            "center": [(west + east) / 2, (south + north) / 2, minzoom],
        }

    @app.get("/layers/{layer_id}/{date}/tiles/{tms}/{z}/{x}/{y}.{fmt}", name="tile")
    async def tile(
        request: Request,
        layer_id: LayerId,
        date: Date,
        tms: Tms,
        z: Zoom,
        x: Index,
        y: Index,
        fmt: TileFormat,
    ) -> Response:
        """One 256 px tile: ``png`` rendered for display, ``tif`` the layer's values (classes, or indices in
        physical units). ETag and Cache-Control; 304 when the client's copy is current."""
        layer = _layer(registry, layer_id, date)
        matrix_set = morecantile.tms.get(tms)
        draw, media_type = rendering.TILE_FORMATS[fmt]
        return await _cached(
            request,
            cache,
            _etag(layer, tms, z, x, y, fmt),
            lambda: draw(layer, matrix_set, x, y, z),
            media_type,
        )

    @app.get("/wms", name="wms")
    def wms_endpoint(request: Request) -> Response:
        """OGC WMS 1.3.0: GetCapabilities (every layer, its dates as the time dimension, its legend) and
        GetMap (one or more layers, one date, any EPSG CRS, PNG)."""
        params = {k.lower(): v for k, v in request.query_params.items()}
        try:
            if params.get("service", "WMS").upper() != "WMS":
                raise wms.WmsError("InvalidParameterValue", "SERVICE must be WMS")
            operation = params.get("request", "GetCapabilities")
            layers = group_layers(registry.all())
            if operation == "GetCapabilities":
                document = wms.capabilities(layers, str(request.base_url).rstrip("/"))
                return Response(document, media_type="text/xml")
            if operation != "GetMap":
                raise wms.WmsError("OperationNotSupported", f"unknown REQUEST {operation[:40]!r}")
            return _get_map(wms.parse_get_map(params, layers))
        except wms.WmsError as error:
            return Response(wms.exception_report(error), status_code=error.status, media_type="text/xml")

    def _get_map(query: wms.MapRequest) -> Response:
        canvas = Image.new("RGBA", (query.width, query.height), (0, 0, 0, 0))
        for layer_id, date in query.layers:
            layer = _layer(registry, layer_id, date)
            image = rendering.render_map(layer, query.bbox, query.crs, query.width, query.height)
            canvas = Image.alpha_composite(canvas, image)
        if not query.transparent:
            canvas = Image.alpha_composite(Image.new("RGBA", canvas.size, (255, 255, 255, 255)), canvas)
        buffer = io.BytesIO()
        image = canvas if query.transparent else canvas.convert("RGB")
        image.save(buffer, format=wms.MAP_FORMATS[query.format])
        return Response(buffer.getvalue(), media_type=query.format, headers={"Cache-Control": CACHE_CONTROL})

    @app.get("/wmts/1.0.0/WMTSCapabilities.xml", name="wmts_rest")
    @app.get("/wmts", name="wmts")
    async def wmts(request: Request) -> Response:
        """OGC WMTS: GetCapabilities (every layer, its dates as the Time dimension, its legend) and
        KVP GetTile; the RESTful tiles are the XYZ tiles above."""
        params = {k.lower(): v for k, v in request.query_params.items()}
        operation = params.get("request", "GetCapabilities")
        if params.get("service", "WMTS").upper() != "WMTS":
            return _ows_exception("InvalidParameterValue", "service", "SERVICE must be WMTS")
        if operation == "GetCapabilities":
            base = str(request.base_url).rstrip("/")
            document = await anyio.to_thread.run_sync(
                lambda: capabilities(group_layers(registry.all()), base, _zoom_range, TILE_MATRIX_SETS)
            )
            return Response(document, media_type="application/xml")
        if operation != "GetTile":
            return _ows_exception("OperationNotSupported", "request", f"unknown REQUEST {operation[:40]!r}")
        return await _kvp_tile(request, params)

    def _zoom_range(layer: Layer, tms: morecantile.TileMatrixSet) -> tuple[int, int]:
        return rendering.zoom_range(layer.cog, str(tms.id))

    async def _kvp_tile(request: Request, params: dict[str, str]) -> Response:
        missing = [
            k for k in ("layer", "tilematrixset", "tilematrix", "tilerow", "tilecol") if k not in params
        ]
        if missing:
            return _ows_exception("MissingParameterValue", missing[0], f"{missing[0].upper()} is required")
        if params.get("format", WMTS_FORMAT) != WMTS_FORMAT:
            return _ows_exception("InvalidParameterValue", "format", f"FORMAT must be {WMTS_FORMAT}")
        if params["tilematrixset"] not in TILE_MATRIX_SETS:
            return _ows_exception("InvalidParameterValue", "tilematrixset", "unknown TILEMATRIXSET")
        try:
            z, row, col = (int(params[k]) for k in ("tilematrix", "tilerow", "tilecol"))
        except ValueError:
            return _ows_exception(
                "InvalidParameterValue", "tilematrix", "TILEMATRIX, TILEROW, TILECOL are integers"
            )
        entry = group_layers(registry.all()).get(params["layer"])
        if entry is None:
            return _ows_exception("InvalidParameterValue", "layer", "unknown LAYER", status=404)
        date = params.get("time", entry.latest.date)
        if date not in entry.dates:
            return _ows_exception(
                "InvalidParameterValue", "time", "TIME is not one of the layer's dates", status=404
            )
        matrix_set = morecantile.tms.get(params["tilematrixset"])
        if not (0 <= z <= 24 and matrix_set.is_valid(morecantile.Tile(col, row, z), strict=False)):
            return _ows_exception("TileOutOfRange", "tilematrix", "tile outside the tile matrix", status=400)
        return await tile(request, params["layer"], date, params["tilematrixset"], z, col, row, "png")

    @app.get("/layers/{layer_id}/{date}/legend.png", name="legend_png")
    async def legend_png(request: Request, layer_id: LayerId, date: Date) -> Response:
        """The legend as an image (what GIS clients show from the WMTS LegendURL)."""
        layer = _layer(registry, layer_id, date)
        return await _cached(
            request, cache, _etag(layer, "legend"), lambda: rendering.legend_png(layer), "image/png"
        )

    @app.get("/layers/{layer_id}/{date}/cog.tif", name="download_cog")
    def download_cog(layer_id: LayerId, date: Date) -> FileResponse:
        """The published COG itself (for QGIS, Python, archiving)."""
        layer = _layer(registry, layer_id, date)
        return FileResponse(layer.cog, media_type="image/tiff; application=geotiff; profile=cloud-optimized",
                            filename=f"{layer_id}-{date}.tif", headers={"Cache-Control": CACHE_CONTROL})  # fmt: skip

    @app.get("/layers/{layer_id}/{date}/item.json", name="download_item")
    def download_item(layer_id: LayerId, date: Date) -> FileResponse:
        """The layer's STAC item."""
        layer = _layer(registry, layer_id, date)
        if layer.item is None or not layer.item.exists():
            raise HTTPException(404, f"no STAC item for {layer_id!r} on {date}")
        return FileResponse(layer.item, media_type="application/geo+json")

    @app.get("/tables/{name}.csv", name="table_csv")
    def table_csv(name: str) -> FileResponse:
        """A published table as CSV (UTF-8 with BOM, opens in Excel with Cyrillic and Kazakh names)."""
        path = output_root / "tables" / f"{name}.csv"
        if name not in PUBLIC_TABLES or not path.exists():
            raise HTTPException(404, f"no table {name[:60]!r}")
        return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"{name}.csv")

    @app.get("/layers/{layer_id}/{date}/legend.json", name="legend")
    def legend(layer_id: LayerId, date: Date) -> dict[str, Any]:
        """Legend: classes with colours, or the colour ramp of an index with its value range."""
        layer = _layer(registry, layer_id, date)
        if layer.rescale is None:
            return {"type": "classes", "title": layer.title, "classes": layer.legend}
        ramp_colours = rendering.ramp(layer)
        stops = [list(ramp_colours[i]) for i in (*range(0, 256, 32), 255)]
        return {"type": "ramp", "title": layer.title, "range": list(layer.rescale), "colors": stops}

    @app.get("/", include_in_schema=False)
    def viewer() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.exception_handler(RasterioIOError)
    def unreadable(_: Request, exc: RasterioIOError) -> JSONResponse:
        # A published file GDAL cannot open as a GeoTIFF (damaged, or not a GeoTIFF at all): say so
        # without its path.
        return JSONResponse({"detail": "the layer's file cannot be read"}, status_code=500)

    @app.exception_handler(TileOutsideBounds)
    def outside(_: Request, exc: TileOutsideBounds) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    return app


def _ows_exception(code: str, locator: str, text: str, status: int = 400) -> Response:
    """An OWS 1.1 ExceptionReport (what WMTS clients parse), never naming a server path."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ExceptionReport xmlns="http://www.opengis.net/ows/1.1" version="1.1.0">'
        f'<Exception exceptionCode="{code}" locator="{locator}"><ExceptionText>{escape(text)}</ExceptionText>'
        "</Exception></ExceptionReport>"
    )
    return Response(body, status_code=status, media_type="application/xml")
