"""The tile server: published layers only, as XYZ PNG tiles (rio-tiler), TileJSON, the water bodies' series
and a viewer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import morecantile
import rasterio
from fastapi import FastAPI, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from rio_tiler.colormap import cmap
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

from sensing import __version__
from sensing.serve.registry import Layer, LayerRegistry
from sensing.serve.series import series_router

__all__ = ["TILE_MATRIX_SETS", "create_app"]

STATIC = Path(__file__).with_name("static")
TILE_MATRIX_SETS = ("WebMercatorQuad", "WGS1984Quad")
TILE_SIZE = 256
GDAL_ENV: dict[str, Any] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # never list folders looking for sidecar files
    "GDAL_CACHEMAX": 256,  # MB of block cache shared by all requests
}

LayerId = Annotated[str, PathParam(pattern=r"^[a-z0-9-]{1,100}$")]
Date = Annotated[str, PathParam(pattern=r"^\d{4}-\d{2}-\d{2}$")]
Tms = Annotated[str, PathParam(pattern="^(" + "|".join(TILE_MATRIX_SETS) + ")$")]
Zoom = Annotated[int, PathParam(ge=0, le=24)]
Index = Annotated[int, PathParam(ge=0, lt=2**24)]


def _layer(registry: LayerRegistry, layer_id: str, date: str) -> Layer:
    layer = registry.get(layer_id, date)
    if layer is None:
        raise HTTPException(404, f"no published layer {layer_id!r} on {date}")
    return layer


def _render(layer: Layer, tms: morecantile.TileMatrixSet, x: int, y: int, z: int) -> bytes:
    """One PNG tile: class layers with their colour table, indices unscaled, rescaled and colour-mapped."""
    with rasterio.Env(**GDAL_ENV), Reader(str(layer.cog), tms=tms) as src:
        if not src.tile_exists(x, y, z):
            raise TileOutsideBounds(f"tile {z}/{x}/{y} is outside {layer.id} {layer.date}")
        if layer.rescale is None:
            image = src.tile(x, y, z, tilesize=TILE_SIZE, resampling_method="nearest")
            return image.render(img_format="PNG", colormap=src.colormap)
        image = src.tile(x, y, z, tilesize=TILE_SIZE, unscale=True, resampling_method="bilinear")
        image = image.rescale(in_range=(layer.rescale,))
        return image.render(img_format="PNG", colormap=cmap.get(layer.colormap_name or "viridis"))


def create_app(output_root: Path) -> FastAPI:
    """The FastAPI application serving the layers published under ``output_root``."""
    registry = LayerRegistry(output_root)
    app = FastAPI(title="sensing tiles", version=__version__, docs_url="/docs", redoc_url=None)
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
        tiles = str(request.url_for("tile", layer_id=layer_id, date=date, tms=tms, z="{z}", x="{x}", y="{y}"))
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

    @app.get("/layers/{layer_id}/{date}/tiles/{tms}/{z}/{x}/{y}.png", name="tile")
    def tile(layer_id: LayerId, date: Date, tms: Tms, z: Zoom, x: Index, y: Index) -> Response:
        """One 256 px PNG tile."""
        layer = _layer(registry, layer_id, date)
        try:
            content = _render(layer, morecantile.tms.get(tms), x, y, z)
        except TileOutsideBounds as exc:
            raise HTTPException(404, str(exc)) from exc
        return Response(content, media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/layers/{layer_id}/{date}/legend.json", name="legend")
    def legend(layer_id: LayerId, date: Date) -> dict[str, Any]:
        """Legend: classes with colours, or the colour ramp of an index with its value range."""
        layer = _layer(registry, layer_id, date)
        if layer.rescale is None:
            return {"type": "classes", "title": layer.title, "classes": layer.legend}
        ramp = cmap.get(layer.colormap_name or "viridis")
        stops = [[int(c) for c in ramp[i]] for i in (*range(0, 256, 32), 255)]
        return {"type": "ramp", "title": layer.title, "range": list(layer.rescale), "colors": stops}

    @app.get("/", include_in_schema=False)
    def viewer() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.exception_handler(TileOutsideBounds)
    def outside(_: Request, exc: TileOutsideBounds) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    return app
