"""The published STAC catalog as a STAC API (core, collections, item search), read from the static
catalog files: STAC-aware clients (pystac-client, QGIS's STAC browser) search the outputs.

Asset hrefs become this server's ``/stac/files/...`` URLs, which serve only files that a catalogued
item names as an asset (the path is checked against that item, never trusted).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from sensing.publish.layout import OutputLayout
from sensing.publish.stac import read_items

__all__ = ["stac_router"]

CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
MAX_LIMIT = 1000
CollectionId = Annotated[str, PathParam(pattern=r"^[a-z0-9-]{1,100}$")]
ItemId = Annotated[str, PathParam(pattern=r"^[a-z0-9-]{1,200}$")]


def _interval(text: str | None) -> tuple[str, str]:
    """A STAC datetime parameter as an inclusive ISO string interval (".." or empty: open)."""
    if not text:
        return "", "~"
    start, _, end = text.partition("/") if "/" in text else (text, "", text)
    for value in (start, end):
        if value not in ("", "..") and not _is_datetime(value):
            raise HTTPException(400, f"datetime: {value[:40]!r} is not an RFC 3339 date-time")
    low = "" if start in ("", "..") else start
    high = "~" if end in ("", "..") else (end if "T" in end else f"{end}T23:59:59Z")
    return low, high


def _is_datetime(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _matches(
    item: dict[str, Any], bbox: list[float] | None, interval: tuple[str, str], ids: set[str] | None
) -> bool:
    if ids is not None and item["id"] not in ids:
        return False
    props = item["properties"]
    start = props.get("start_datetime") or props["datetime"]
    end = props.get("end_datetime") or props["datetime"]
    if end < interval[0] or start > interval[1]:
        return False
    if bbox is not None:
        west, south, east, north = item["bbox"]
        return not (east < bbox[0] or west > bbox[2] or north < bbox[1] or south > bbox[3])
    return True


def stac_router(output_root: Path) -> APIRouter:
    """``/stac``: landing page, conformance, collections, items, search, and the assets' files."""
    layout = OutputLayout(output_root)
    root = layout.root.resolve()
    router = APIRouter(prefix="/stac")

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/") + "/stac"

    def collection_ids() -> list[str]:
        return sorted(p.parent.name for p in layout.stac_root.glob("*/collection.json"))

    def collection(request: Request, cid: str) -> dict[str, Any]:
        path = layout.collection(cid)
        if cid not in collection_ids():
            raise HTTPException(404, f"no collection {cid!r}")
        doc = json.loads(path.read_text())
        url = f"{base(request)}/collections/{cid}"
        doc["links"] = [
            {"rel": "self", "href": url, "type": "application/json"},
            {"rel": "root", "href": base(request), "type": "application/json"},
            {"rel": "parent", "href": base(request), "type": "application/json"},
            {"rel": "items", "href": f"{url}/items", "type": "application/geo+json"},
        ]
        return doc

    def api_item(request: Request, item: dict[str, Any]) -> dict[str, Any]:
        """The item with API links and asset hrefs served by this router."""
        props = item["properties"]
        path = layout.item(
            item["collection"], props["sensing:aoi"], dt.date.fromisoformat(props["datetime"][:10])
        )
        out = dict(item)
        out["assets"] = {
            key: asset
            | {"href": f"{base(request)}/files/{(path.parent / asset['href']).resolve().relative_to(root)}"}
            for key, asset in item["assets"].items()
        }
        url = f"{base(request)}/collections/{item['collection']}"
        out["links"] = [
            {"rel": "self", "href": f"{url}/items/{item['id']}", "type": "application/geo+json"},
            {"rel": "collection", "href": url, "type": "application/json"},
            {"rel": "parent", "href": url, "type": "application/json"},
            {"rel": "root", "href": base(request), "type": "application/json"},
        ]
        return out

    def search(request: Request, params: dict[str, Any], method: str) -> dict[str, Any]:
        limit = int(params.get("limit") or 10)
        if not 1 <= limit <= MAX_LIMIT:
            raise HTTPException(400, f"limit must be 1 to {MAX_LIMIT}")
        offset = int(params.get("token") or 0) if str(params.get("token") or "0").isdigit() else -1
        if offset < 0:
            raise HTTPException(400, "token: not one this server gave")
        bbox = params.get("bbox")
        if bbox is not None and (len(bbox) != 4 or bbox[0] > bbox[2] or bbox[1] > bbox[3]):
            raise HTTPException(400, "bbox: west,south,east,north in degrees")
        published = collection_ids()
        wanted = [cid for cid in params.get("collections") or published if cid in published]
        ids = set(params["ids"]) if params.get("ids") else None
        interval = _interval(params.get("datetime"))
        matched = [
            item
            for cid in wanted
            for item in read_items(layout, cid)
            if _matches(item, bbox, interval, ids)
        ]  # fmt: skip
        page = matched[offset : offset + limit]
        doc: dict[str, Any] = {
            "type": "FeatureCollection", "features": [api_item(request, i) for i in page],
            "numberMatched": len(matched), "numberReturned": len(page), "links": [],
        }  # fmt: skip
        if offset + limit < len(matched):
            following = {k: v for k, v in params.items() if v is not None} | {"token": str(offset + limit)}
            if method == "POST":
                doc["links"].append(
                    {"rel": "next", "href": f"{base(request)}/search", "method": "POST", "body": following}
                )
            else:
                query = "&".join(
                    f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in following.items()
                )
                doc["links"].append(
                    {"rel": "next", "href": f"{base(request)}/search?{query}", "method": "GET"}
                )
        return doc

    @router.get("")
    def landing(request: Request) -> dict[str, Any]:
        """The STAC API landing page."""
        return {
            "type": "Catalog", "id": "sensing", "stac_version": "1.0.0", "conformsTo": CONFORMANCE,
            "description": "Water and land monitoring layers of Kazakhstan",
            "links": [
                {"rel": "self", "href": base(request), "type": "application/json"},
                {"rel": "root", "href": base(request), "type": "application/json"},
                {"rel": "conformance", "href": f"{base(request)}/conformance", "type": "application/json"},
                {"rel": "data", "href": f"{base(request)}/collections", "type": "application/json"},
                {"rel": "search", "href": f"{base(request)}/search", "type": "application/geo+json", "method": "GET"},
                {"rel": "search", "href": f"{base(request)}/search", "type": "application/geo+json", "method": "POST"},
                *({"rel": "child", "href": f"{base(request)}/collections/{c}", "type": "application/json"} for c in collection_ids()),
            ],
        }  # fmt: skip

    @router.get("/conformance")
    def conformance() -> dict[str, Any]:
        return {"conformsTo": CONFORMANCE}

    @router.get("/collections")
    def collections(request: Request) -> dict[str, Any]:
        """Every published collection."""
        return {"collections": [collection(request, c) for c in collection_ids()], "links": []}

    @router.get("/collections/{cid}")
    def one_collection(request: Request, cid: CollectionId) -> dict[str, Any]:
        return collection(request, cid)

    @router.get("/collections/{cid}/items")
    def items(
        request: Request, cid: CollectionId, limit: int = 10, token: str | None = None,
        bbox: str | None = None, datetime: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """A collection's items (ogcapi-features), filtered and paged like a search."""
        collection(request, cid)
        return search(request, _query_params(cid, limit, token, bbox, datetime, None), "GET")

    @router.get("/collections/{cid}/items/{item_id}")
    def one_item(request: Request, cid: CollectionId, item_id: ItemId) -> dict[str, Any]:
        collection(request, cid)
        found = [i for i in read_items(layout, cid) if i["id"] == item_id]
        if not found:
            raise HTTPException(404, f"no item {item_id!r} in {cid!r}")
        return api_item(request, found[0])

    @router.get("/search")
    def search_get(
        request: Request, limit: int = 10, token: str | None = None, bbox: str | None = None,
        datetime: str | None = None, collections: str | None = None, ids: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Item search (GET): bbox, datetime, collections, ids, limit, token."""
        params = _query_params(None, limit, token, bbox, datetime, ids)
        params["collections"] = collections.split(",") if collections else None
        return search(request, params, "GET")

    @router.post("/search")
    def search_post(request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """Item search (POST, JSON body)."""
        allowed = {"limit", "token", "bbox", "datetime", "collections", "ids"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise HTTPException(400, f"unsupported search fields {unknown}; supported: {sorted(allowed)}")
        return search(request, body, "POST")

    @router.get("/files/{relative:path}")
    def files(relative: str) -> FileResponse:
        """A catalogued item's asset file (and nothing else)."""
        try:
            target = (root / relative).resolve()
            asset = target.is_relative_to(root) and target.is_file() and _is_asset(layout, root, target)
        except (OSError, ValueError):  # not a name the file system takes: over 255 bytes, a NUL byte
            asset = False
        if not asset:
            raise HTTPException(404, "not a published asset")
        return FileResponse(target)

    return router


def _query_params(
    cid: str | None, limit: int, token: str | None, bbox: str | None, datetime: str | None, ids: str | None
) -> dict[str, Any]:
    try:
        box = [float(v) for v in bbox.split(",")] if bbox else None
    except ValueError as exc:
        raise HTTPException(400, "bbox: four numbers, west,south,east,north") from exc
    return {
        "limit": limit, "token": token, "bbox": box, "datetime": datetime,
        "collections": [cid] if cid else None, "ids": ids.split(",") if ids else None,
    }  # fmt: skip


def _is_asset(layout: OutputLayout, root: Path, target: Path) -> bool:
    """Whether the item of ``target``'s product, AOI and date names it as an asset
    (``layers|vectors/<product>/<aoi>/<yyyy>/<date>/<version>/<file>``)."""
    parts = target.relative_to(root).parts
    if len(parts) != 7 or parts[0] not in ("layers", "vectors"):
        return False
    try:
        item_path = layout.item(parts[1], parts[2], dt.date.fromisoformat(parts[4]))
        item = json.loads(item_path.read_text())
    except (ValueError, OSError):
        return False
    return any((item_path.parent / a["href"]).resolve() == target for a in item["assets"].values())
