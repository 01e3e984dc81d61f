"""A local Sentinel Hub on 127.0.0.1: OAuth2 client-credentials token, Catalog API search and Process API,
rendering real pixels from a static STAC archive (the demo archive's Sentinel-2 L2A and Sentinel-1 RTC
COGs play ``sentinel-2-l2a`` and ``sentinel-1-grd``).

Implements what the documented endpoints do for the requests `sentinelhub` sends: bearer-token checks,
Catalog search per collection with paging through ``context.next``, multi-band GeoTIFF responses in
evalscript band order (UINT16 harmonised L2A DN with 0 for no data; FLOAT32 linear backscatter with
NaN for no data), ``x-processingunits-spent`` headers and injectable rate limits (429 with a
Retry-After header). Request bodies are kept in ``requests`` for tests to inspect.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import pystac
import rasterio
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds
from rasterio.warp import Resampling, reproject
from shapely.geometry import box, shape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "local-token-0123456789"
ARCHIVE_COLLECTIONS = {"sentinel-2-l2a": "sentinel-2-l2a-demo", "sentinel-1-grd": "sentinel-1-rtc-demo"}
"""Sentinel Hub collection -> the demo archive's collection that plays it."""


class SentinelHubServer:
    """State and handlers; ``app`` is the ASGI application."""

    def __init__(self, catalog: Path, client_id: str, client_secret: str) -> None:
        self.items = list(pystac.Catalog.from_file(str(catalog)).get_items(recursive=True))
        self.client_id, self.client_secret = client_id, client_secret
        self.process_calls = 0
        self.token_calls = 0
        self.rate_limits: list[dict[str, str]] = []
        self.failures: list[int] = []
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.delay_s = 0.0  # seconds each process request takes
        self.in_flight = self.most_in_flight = 0
        self.app = Starlette(
            routes=[
                Route("/oauth/token", self.token, methods=["POST"]),
                Route("/api/v1/catalog/1.0.0/search", self.search, methods=["POST"]),
                Route("/api/v1/process", self.process, methods=["POST"]),
            ]
        )

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            client_id, secret = base64.b64decode(auth[6:]).decode().split(":", 1)
        if form.get("grant_type") != "client_credentials" or (client_id, secret) != (
            self.client_id,
            self.client_secret,
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        with self.lock:
            self.token_calls += 1
        return JSONResponse({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    async def search(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse({"error": "unauthorised"}, status_code=401)
        body = await request.json()
        area = box(*body["bbox"])
        wanted = {ARCHIVE_COLLECTIONS[c] for c in body["collections"]}
        start, end = (
            dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in body["datetime"].split("/")
        )
        limit_cc = (
            float(m.group(1))
            if (m := re.search(r"eo:cloud_cover\s*<=\s*([\d.]+)", str(body.get("filter"))))
            else 100
        )
        hits = [
            i for i in sorted(self.items, key=lambda i: i.datetime)  # type: ignore[arg-type, return-value]
            if i.collection_id in wanted
            and start <= i.datetime <= end and shape(i.geometry).intersects(area)  # type: ignore[operator]
            and i.properties.get("eo:cloud_cover", 0) <= limit_cc
        ]  # fmt: skip
        offset, limit = int(body.get("next", 0)), int(body.get("limit", 100))
        page = hits[offset : offset + limit]
        keep = ("datetime", "eo:cloud_cover")
        features = [
            {"type": "Feature", "id": i.id, "properties": {k: i.properties.get(k) for k in keep}}
            for i in page
        ]
        context: dict[str, Any] = {"limit": limit, "returned": len(features)}
        if offset + limit < len(hits):
            context["next"] = offset + limit
        return JSONResponse(
            {"type": "FeatureCollection", "features": features, "links": [], "context": context}
        )

    async def process(self, request: Request) -> Response:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
            return await self._process(request)
        finally:
            with self.lock:
                self.in_flight -= 1

    async def _process(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse({"error": "unauthorised"}, status_code=401)
        with self.lock:
            self.process_calls += 1
            limit = self.rate_limits.pop(0) if self.rate_limits else None
            failure = self.failures.pop(0) if self.failures else None
        if limit is not None:
            return JSONResponse(
                {"error": {"status": 429, "reason": "Too Many Requests"}}, status_code=429, headers=limit
            )
        if failure is not None:
            return JSONResponse({"error": {"status": failure}}, status_code=failure)
        body = await request.json()
        with self.lock:
            self.requests.append(body)
        bands = [b for b in re.search(r"bands:\s*(\[[^\]]*\])", body["evalscript"]).group(1).strip("[]").replace('"', "").split(", ") if b != "dataMask"]  # type: ignore[union-attr]  # fmt: skip
        bounds = body["input"]["bounds"]
        crs = "EPSG:" + bounds["properties"]["crs"].rsplit("/", 1)[-1]
        width, height = body["output"]["width"], body["output"]["height"]
        data = body["input"]["data"][0]
        day = data["dataFilter"]["timeRange"]["from"][:10]
        item = next(
            i for i in self.items
            if i.collection_id == ARCHIVE_COLLECTIONS[data["type"]] and i.datetime.date().isoformat() == day  # type: ignore[union-attr]
        )  # fmt: skip
        transform = from_bounds(*bounds["bbox"], width, height)
        render = self._radar if data["type"] == "sentinel-1-grd" else self._optical
        out, factor = render(item, bands, (height, width), transform, crs)
        with MemoryFile() as memfile:
            with memfile.open(driver="GTiff", width=width, height=height, count=len(bands), dtype=out.dtype,
                              crs=crs, transform=transform) as dst:  # fmt: skip
                dst.write(out)
            content = memfile.read()
        units = max(0.005, width * height / 512**2 * len(bands) / 3 * factor)
        return Response(content, media_type="image/tiff", headers={"x-processingunits-spent": f"{units:.4f}"})

    def _optical(
        self, item: pystac.Item, bands: list[str], shape: tuple[int, int], transform: Any, crs: str
    ) -> tuple[np.ndarray, float]:
        """Harmonised L2A DN (UINT16), 0 where dataMask is 0."""
        harmonise = 1000 if item.properties["s2:processing_baseline"] >= "04.00" else 0
        out = np.zeros((len(bands), *shape), dtype="uint16")
        for n, band in enumerate(bands):
            with rasterio.open(item.assets[band].get_absolute_href()) as src:
                reproject(rasterio.band(src, 1), out[n], dst_transform=transform, dst_crs=crs,
                          resampling=Resampling.nearest, src_nodata=0, dst_nodata=0)  # fmt: skip
            if band != "SCL":
                out[n] = np.where(out[n] > 0, np.clip(out[n].astype("int32") - harmonise, 1, None), 0)
        out[:, out[0] == 0] = 0  # dataMask
        return out, 1.0

    def _radar(
        self, item: pystac.Item, bands: list[str], shape: tuple[int, int], transform: Any, crs: str
    ) -> tuple[np.ndarray, float]:
        """Linear backscatter (FLOAT32) of the archive's RTC assets, NaN where dataMask is 0; the
        PU factor of float output and orthorectification."""
        out = np.full((len(bands), *shape), np.nan, dtype="float32")
        for n, band in enumerate(bands):
            with rasterio.open(item.assets[band.lower()].get_absolute_href()) as src:
                reproject(rasterio.band(src, 1), out[n], dst_transform=transform, dst_crs=crs,
                          resampling=Resampling.nearest, src_nodata=src.nodata, dst_nodata=np.nan)  # fmt: skip
        return out, 4.0
