"""Tile requests shared by the serving tests."""

from __future__ import annotations

from typing import Any

import httpx
import morecantile
from fastapi.testclient import TestClient


def centre_tile(client: TestClient, entry: dict[str, Any], zoom: int = 10) -> httpx.Response:
    """The WebMercatorQuad tile at ``zoom`` under the centre of a published layer (a /layers entry)."""
    tilejson = client.get(entry["tilejson"]).json()
    west, south, east, north = tilejson["bounds"]
    tile = morecantile.tms.get("WebMercatorQuad").tile((west + east) / 2, (south + north) / 2, zoom)
    return client.get(tilejson["tiles"][0].format(z=tile.z, x=tile.x, y=tile.y))
