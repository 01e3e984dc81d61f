"""The tile server: published layers only, as XYZ PNG tiles (rio-tiler), TileJSON, the water bodies' series
and a viewer."""

from __future__ import annotations

import functools
import hashlib
import io
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Annotated, Any, cast

import morecantile
import numpy as np
import rasterio
from fastapi import FastAPI, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image, ImageDraw
from rasterio.io import MemoryFile
from rio_tiler.colormap import cmap
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

from sensing import __version__
from sensing.serve.registry import Layer, LayerRegistry
from sensing.serve.series import series_router
from sensing.serve.wmts import WMTS_FORMAT, capabilities, group_layers

__all__ = ["TILE_MATRIX_SETS", "create_app"]

STATIC = Path(__file__).with_name("static")
TILE_MATRIX_SETS = ("WebMercatorQuad", "WGS1984Quad")
TILE_SIZE = 256
CACHE_CONTROL = "public, max-age=3600"
"""Clients revalidate hourly (a reprocessed date replaces a layer's file; the ETag tells)."""
GDAL_ENV: dict[str, Any] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # never list folders looking for sidecar files
    "GDAL_CACHEMAX": 256,  # MB of block cache shared by all requests
}

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


@functools.lru_cache(maxsize=4096)
def _zooms(cog: Path, tms_id: str) -> tuple[int, int]:
    """A COG's (minzoom, maxzoom) in a tile matrix set (published files never change in place)."""
    with rasterio.Env(**GDAL_ENV), Reader(str(cog), tms=morecantile.tms.get(tms_id)) as src:
        return src.minzoom, src.maxzoom


def _etag(layer: Layer, *parts: object) -> str:
    """A validator that changes when the layer's file does (a reprocessed date is a new file)."""
    stat = layer.cog.stat()
    key = "/".join(map(str, (__version__, layer.cog, stat.st_mtime_ns, stat.st_size, *parts)))
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def _cached(request: Request, etag: str, content: Callable[[], bytes], media_type: str) -> Response:
    """``content`` with its ETag, or 304 Not Modified when the client holds it already."""
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(content(), media_type=media_type, headers=headers)


def _ramp(layer: Layer) -> list[tuple[int, int, int, int]]:
    """The 256 RGBA colours of an index layer's colour map."""
    colors = cmap.get(layer.colormap_name or "viridis")
    return [cast(tuple[int, int, int, int], tuple(int(c) for c in colors[i])) for i in range(256)]  # type: ignore[arg-type]


def _legend_png(layer: Layer) -> bytes:
    """The legend as a PNG: one swatch per class, or the colour ramp with its range."""
    if layer.rescale is None:
        rows = [(tuple(c["color"]), str(c["label"])) for c in layer.legend if c["color"][3] > 0]
        image = Image.new("RGBA", (220, 8 + 22 * len(rows)), (255, 255, 255, 255))
        draw = ImageDraw.Draw(image)
        for i, (color, label) in enumerate(rows):
            draw.rectangle((6, 6 + 22 * i, 24, 22 + 22 * i), fill=color, outline=(60, 60, 60, 255))
            draw.text((32, 8 + 22 * i), label, fill=(0, 0, 0, 255))
    else:
        ramp = _ramp(layer)
        image = Image.new("RGBA", (276, 44), (255, 255, 255, 255))
        draw = ImageDraw.Draw(image)
        for i in range(256):
            draw.line((10 + i, 6, 10 + i, 24), fill=ramp[i])
        low, high = layer.rescale
        draw.text((10, 28), f"{low:g}", fill=(0, 0, 0, 255))
        draw.text((230, 28), f"{high:g}", fill=(0, 0, 0, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _render(layer: Layer, tms: morecantile.TileMatrixSet, x: int, y: int, z: int) -> bytes:
    """One PNG tile: class layers with their colour table, indices unscaled, rescaled and colour-mapped."""
    with rasterio.Env(**GDAL_ENV), Reader(str(layer.cog), tms=tms) as src:
        _check_tile(src, layer, x, y, z)
        if layer.rescale is None:
            image = src.tile(x, y, z, tilesize=TILE_SIZE, resampling_method="nearest")
            return image.render(img_format="PNG", colormap=src.colormap)
        image = src.tile(x, y, z, tilesize=TILE_SIZE, unscale=True, resampling_method="bilinear")
        image = image.rescale(in_range=(layer.rescale,))
        return image.render(img_format="PNG", colormap=cmap.get(layer.colormap_name or "viridis"))


def _check_tile(src: Reader, layer: Layer, x: int, y: int, z: int) -> None:
    if not src.tile_exists(x, y, z):
        raise TileOutsideBounds(f"tile {z}/{x}/{y} is outside {layer.id} {layer.date}")


def _raw_tile(layer: Layer, tms: morecantile.TileMatrixSet, x: int, y: int, z: int) -> bytes:
    """One GeoTIFF tile of values, for analysis clients: classes as stored (255 no data), indices and
    backscatter in physical units as float32 (NaN no data); nearest resampling, so every value is one
    the layer holds."""
    with rasterio.Env(**GDAL_ENV), Reader(str(layer.cog), tms=tms) as src:
        _check_tile(src, layer, x, y, z)
        classes = layer.rescale is None
        image = src.tile(x, y, z, tilesize=TILE_SIZE, unscale=not classes, resampling_method="nearest")
    values = image.array[0]
    data = values.filled(255).astype("uint8") if classes else values.astype("float32").filled(np.nan)
    profile = {
        "driver": "GTiff", "width": TILE_SIZE, "height": TILE_SIZE, "count": 1, "dtype": data.dtype.name,
        "crs": image.crs, "transform": image.transform, "nodata": 255 if classes else np.nan, "compress": "deflate",
    }  # fmt: skip
    with MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(data, 1)
        return bytes(memory.read())


TILE_FORMATS: dict[str, tuple[Callable[[Layer, morecantile.TileMatrixSet, int, int, int], bytes], str]] = {
    "png": (_render, "image/png"),
    "tif": (_raw_tile, "image/tiff"),
}
"""Tile format -> (renderer, media type)."""


def create_app(output_root: Path) -> FastAPI:
    """The FastAPI application serving the layers published under ``output_root``."""
    registry = LayerRegistry(output_root)
    app = FastAPI(title="sensing tiles", version=__version__, docs_url="/docs", redoc_url=None)
    app.add_middleware(  # JSON, XML and the viewer's files; images are compressed already
        GZipMiddleware,
        minimum_size=1024,
        exclude_content_types=("image/png", "image/tiff", "text/event-stream"),
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(series_router(output_root))

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
                }
                for layer in registry.all()
            ]
        }

    @app.get("/layers/{layer_id}/{date}/{tms}/tilejson.json", name="tilejson")
    def tilejson(request: Request, layer_id: LayerId, date: Date, tms: Tms) -> dict[str, Any]:
        """TileJSON 3.0.0 of one layer and date."""
        layer = _layer(registry, layer_id, date)
        matrix_set = morecantile.tms.get(tms)
        with rasterio.Env(**GDAL_ENV), Reader(str(layer.cog), tms=matrix_set) as src:
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
    def tile(
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
        render, media_type = TILE_FORMATS[fmt]
        return _cached(
            request, _etag(layer, tms, z, x, y, fmt), lambda: render(layer, matrix_set, x, y, z), media_type
        )

    @app.get("/wmts", name="wmts")
    def wmts(request: Request) -> Response:
        """OGC WMTS: GetCapabilities (every layer, its dates as the Time dimension, its legend) and
        KVP GetTile; the RESTful tiles are the XYZ tiles above."""
        params = {k.lower(): v for k, v in request.query_params.items()}
        operation = params.get("request", "GetCapabilities")
        if params.get("service", "WMTS").upper() != "WMTS":
            return _ows_exception("InvalidParameterValue", "service", "SERVICE must be WMTS")
        if operation == "GetCapabilities":
            base = str(request.base_url).rstrip("/")
            document = capabilities(group_layers(registry.all()), base, _zoom_range, TILE_MATRIX_SETS)
            return Response(document, media_type="application/xml")
        if operation != "GetTile":
            return _ows_exception("OperationNotSupported", "request", f"unknown REQUEST {operation[:40]!r}")
        return _kvp_tile(request, params)

    def _zoom_range(layer: Layer, tms: morecantile.TileMatrixSet) -> tuple[int, int]:
        return _zooms(layer.cog, tms.id)

    def _kvp_tile(request: Request, params: dict[str, str]) -> Response:
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
        if not (0 <= z <= 24 and 0 <= row < 2**z * 2 and 0 <= col < 2**z * 2):
            return _ows_exception("TileOutOfRange", "tilematrix", "tile outside the tile matrix", status=400)
        return tile(request, params["layer"], date, params["tilematrixset"], z, col, row, "png")

    @app.get("/layers/{layer_id}/{date}/legend.png", name="legend_png")
    def legend_png(request: Request, layer_id: LayerId, date: Date) -> Response:
        """The legend as an image (what GIS clients show from the WMTS LegendURL)."""
        layer = _layer(registry, layer_id, date)
        return _cached(request, _etag(layer, "legend"), lambda: _legend_png(layer), "image/png")

    @app.get("/layers/{layer_id}/{date}/legend.json", name="legend")
    def legend(layer_id: LayerId, date: Date) -> dict[str, Any]:
        """Legend: classes with colours, or the colour ramp of an index with its value range."""
        layer = _layer(registry, layer_id, date)
        if layer.rescale is None:
            return {"type": "classes", "title": layer.title, "classes": layer.legend}
        ramp = _ramp(layer)
        stops = [list(ramp[i]) for i in (*range(0, 256, 32), 255)]
        return {"type": "ramp", "title": layer.title, "range": list(layer.rescale), "colors": stops}

    @app.get("/", include_in_schema=False)
    def viewer() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

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
