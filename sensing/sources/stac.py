"""STAC archives loaded with odc-stac: a static catalog on disk, or a STAC API searched with pystac-client."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from typing import Any

import numpy as np
import pystac
import rasterio
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.stac import load as odc_load
from odc.stac._mdtools import StacAuxReader, StacMDParser
from pystac_client import Client
from pystac_client.conformance import ConformanceClasses
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from rasterio.errors import RasterioError
from shapely.geometry import box, shape
from urllib3.util.retry import Retry

from sensing.cluster import GDAL_READ_OPTIONS, configure_reads
from sensing.config import SourceConfig
from sensing.errors import ConfigError, FatalError, RetryableError, SceneError
from sensing.models import SceneRef
from sensing.sources.inputs import AllowListRioDriver, header_problem, open_input, pixel_problem
from sensing.sources.sentinel2 import is_sentinel2_l2a, l2a_offset

__all__ = ["StacApiSource", "StaticStacSource", "band_scaling", "group_acquisitions"]

CLASS_BANDS = {"scl": "uint8", "qa_pixel": "uint16"}
"""Bands of classes or bit flags, loaded as integers, never scaled."""
LANDSAT_C2_L2 = (0.0000275, -0.2)
"""Landsat Collection 2 Level-2 surface reflectance: DN * 0.0000275 - 0.2."""


def band_scaling(item: pystac.Item, band: str, date: dt.date) -> tuple[float, float]:
    """``reflectance = DN * scale + offset`` for an asset key or a common band name of ``item``.

    Sentinel-2 L2A items follow their processing baseline (never "offset applied" flags); other items
    follow their ``raster:bands`` scale and offset; Landsat Collection 2 Level-2 items without them
    get the USGS scaling; anything else is taken as reflectance already (1 and 0).
    """
    if is_sentinel2_l2a(item.properties, item.collection_id):
        return l2a_offset(item.properties, date)
    for key, asset in item.assets.items():
        raster = asset.extra_fields.get("raster:bands") or []
        names = _band_names(asset)
        index = names.index(band) if band in names else 0 if key == band else None
        declared = raster[index] if index is not None and index < len(raster) else {}
        if "scale" in declared or "offset" in declared:
            return float(declared.get("scale", 1.0)), float(declared.get("offset", 0.0))
    if item.properties.get("landsat:correction") == "L2SP" or "landsat-c2-l2" in (item.collection_id or ""):
        return LANDSAT_C2_L2
    return 1.0, 0.0


def _band_names(asset: pystac.Asset) -> list[str]:
    return [b.get("common_name") or b.get("name") for b in asset.extra_fields.get("eo:bands") or []]


def _asset_with(item: pystac.Item, key: str) -> pystac.Asset | None:
    """The asset named ``key``, or the asset holding a band (common) named ``key``."""
    if key in item.assets:
        return item.assets[key]
    return next((a for a in item.assets.values() if key in _band_names(a)), None)


def _has_band(item: pystac.Item, key: str) -> bool:
    """Whether ``key`` is an asset of the item or a (common) band name inside one of its assets."""
    return _asset_with(item, key) is not None


def group_acquisitions(refs: list[SceneRef]) -> list[SceneRef]:
    """One SceneRef per acquisition: items of one collection, platform and day (adjacent tiles, or
    the same pass in two UTM zones) become the parts of a single scene. Oldest first."""
    groups: dict[tuple[str, str, dt.date], list[SceneRef]] = {}
    for ref in refs:
        groups.setdefault((ref.collection, ref.platform, ref.date), []).append(ref)
    scenes = []
    for members in groups.values():
        members.sort(key=lambda r: r.id)
        first = members[0]
        if len(members) == 1:
            scenes.append(first)
            continue
        covers = [m.cloud_cover for m in members if m.cloud_cover is not None]
        scenes.append(
            SceneRef(
                id=first.id, datetime=first.datetime, href=first.href, collection=first.collection,
                cloud_cover=max(covers) if covers else None, platform=first.platform,
                parts=tuple((m.id, m.href) for m in members),
            )
        )  # fmt: skip
    return sorted(scenes, key=lambda r: (r.datetime, r.id))


def _scene_ref(item: pystac.Item) -> SceneRef:
    when = item.datetime or dt.datetime.fromisoformat(str(item.properties["start_datetime"]))
    return SceneRef(
        id=item.id,
        datetime=when,
        href=item.get_self_href() or "",
        collection=item.collection_id or "",
        cloud_cover=item.properties.get("eo:cloud_cover"),
        platform=str(item.properties.get("platform", "")),
    )


class _StacItems:
    """Loading and failure diagnosis shared by every STAC source (holds only configuration)."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config

    def __getstate__(self) -> dict[str, object]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.config = state["config"]  # type: ignore[assignment]

    def _item(self, scene: SceneRef, href: str) -> pystac.Item:
        try:
            return pystac.Item.from_file(href)
        except Exception as exc:
            raise SceneError(f"{scene.id}: cannot read STAC item {href}: {exc}") from exc

    def check_budget(self, scenes: int, geobox: GeoBox, n_bands: int) -> None:
        """STAC archives have no per-pixel quota."""

    def _items_for(self, scene: SceneRef, bands: list[str], geobox: GeoBox | None) -> list[pystac.Item]:
        """The STAC items holding the scene's pixels (one per tile or UTM zone of the acquisition).

        ``geobox`` None: only what is already at hand, without fetching (for failure diagnosis).
        """
        return [self._item(scene, href) for _, href in scene.items]

    def _band_keys(self, bands: list[str]) -> dict[str, str]:
        """Asset key or band name in the items -> common band name."""
        missing = [b for b in bands if b not in self.config.bands]
        if missing:
            raise ConfigError(f"source.bands: no asset configured for band(s) {missing}")
        return {self.config.bands[b]: b for b in bands}

    def load(
        self, scene: SceneRef, bands: list[str], geobox: GeoBox, chunk: int, optional: tuple[str, ...] = ()
    ) -> xr.Dataset:
        """Lazy reflectance (float32, NaN nodata) and SCL for the scene on ``geobox``.

        Bands in ``optional`` are left out when the source or the item does not have them. Every
        input's header is opened first (allowed GDAL drivers only, checked against the catalog, see
        sensing.sources.inputs): a bad file fails the scene here, its band and file named.
        """
        assets = self._band_keys([b for b in bands if b not in optional or b in self.config.bands])
        items = self._items_for(scene, list(assets.values()), geobox)
        item = items[0]
        assets = {key: b for key, b in assets.items() if b not in optional or _has_band(item, key)}
        absent = sorted(key for key in assets if not _has_band(item, key))
        if absent:
            raise SceneError(f"{scene.id}: item {scene.href} has no asset or band {absent}")
        configure_reads(self.config.gdal_options)
        self._check_inputs(scene, items, assets)
        raw = odc_load(
            items,
            bands=list(assets),
            geobox=geobox,
            chunks={"x": chunk, "y": chunk},
            # Nearest for every band: exact classes in SCL, and no land SWIR smeared into shoreline
            # pixels (bilinear 20 m -> 10 m SWIR biased a small pond's area by -8 % on the demo).
            resampling="nearest",
            fail_on_error=True,
            groupby="solar_day",  # tiles of one acquisition are fused into one mosaic
            # odc-stac's rasterio reader, but opening files with the allowed GDAL drivers only
            driver=AllowListRioDriver(md_parser=StacMDParser({}), aux_reader=StacAuxReader()),
        )
        raw = raw.isel(time=0).rename({a: b for a, b in assets.items()})
        out = {}
        for key, name in assets.items():
            band = raw[name]
            if name in CLASS_BANDS:
                out[name] = band.astype(CLASS_BANDS[name])
                continue
            scale, offset = band_scaling(item, key, scene.date)
            nodata = band.attrs.get("nodata")
            valid = band.notnull() if nodata is None or np.isnan(nodata) else band != nodata
            out[name] = (band.astype("float32") * scale + offset).where(valid).astype("float32")
            out[name].attrs = {"scale": scale, "offset": offset}
        return xr.Dataset(out, attrs={"scene_id": scene.id})

    def _inputs(
        self, items: list[pystac.Item], keys: dict[str, str]
    ) -> Iterator[tuple[str, str, pystac.Asset, pystac.Item, str]]:
        """(band, href, asset, item, asset key or band name) of every input file; ``keys``: key -> band."""
        for item in items:
            for key, band in keys.items():
                asset = _asset_with(item, key)
                if asset is not None:
                    yield band, asset.get_absolute_href() or asset.href, asset, item, key

    def _check_inputs(self, scene: SceneRef, items: list[pystac.Item], keys: dict[str, str]) -> None:
        """Open every input's header with the allowed drivers and check it against the catalog (see
        sensing.sources.inputs); a SceneError names the first bad band, its file and what is wrong."""
        with rasterio.Env(**GDAL_READ_OPTIONS, **self.config.gdal_options):
            for band, href, asset, item, key in self._inputs(items, keys):
                try:
                    with open_input(href) as ds:
                        problem = header_problem(ds, asset, item, key)
                except RasterioError as exc:
                    problem = str(exc)
                if problem:
                    raise SceneError(f"{scene.id}: bad input: band {band} ({href}): {problem}")

    def explain_failure(self, scene: SceneRef, bands: list[str]) -> str | None:
        """Check and read every block of every input until one fails; name that file and band."""
        keys = {self.config.bands[b]: b for b in bands if b in self.config.bands}
        with rasterio.Env(**GDAL_READ_OPTIONS, **self.config.gdal_options):
            for band, href, asset, item, key in self._inputs(
                self._items_for(scene, list(keys.values()), None), keys
            ):
                try:
                    with open_input(href) as ds:
                        problem = header_problem(ds, asset, item, key) or pixel_problem(ds)
                except RasterioError as exc:
                    problem = str(exc)
                if problem:
                    return f"band {band} ({href}): {problem}"
        return None


def _extent_boxes(collections: Iterable[pystac.Collection]) -> list[tuple[float, float, float, float]] | None:
    """The overall spatial extent of each collection; None when there is none or one spans the world."""
    boxes = []
    for collection in collections:
        bbox = collection.extent.spatial.bboxes[0] if collection.extent.spatial.bboxes else None
        if bbox is None or len(bbox) not in (4, 6):
            return None
        x0, y0, x1, y1 = (bbox[0], bbox[1], bbox[3], bbox[4]) if len(bbox) == 6 else bbox
        if x1 - x0 >= 359 or x0 > x1:  # worldwide, or crossing the antimeridian: no useful bound
            return None
        boxes.append((float(x0), float(y0), float(x1), float(y1)))
    return boxes or None


class StaticStacSource(_StacItems):
    """Scenes of a static catalog on disk. Thread-safe and picklable."""

    @cached_property
    def _catalog(self) -> pystac.Catalog:
        try:
            return pystac.Catalog.from_file(str(self.config.catalog))
        except FileNotFoundError as exc:
            raise ConfigError(f"source.catalog: no catalog at {self.config.catalog}") from exc

    def coverage(self) -> list[tuple[float, float, float, float]] | None:
        """The spatial extents of the catalog's collections (the configured one only, when set)."""
        collections = [
            c for c in self._catalog.get_all_collections() if self.config.collection in (None, c.id)
        ]
        return _extent_boxes(collections)

    def search(
        self, bbox_lonlat: tuple[float, float, float, float], start: dt.date, end: dt.date
    ) -> list[SceneRef]:
        """Items of the configured collection that intersect the box within the dates, oldest first."""
        area = box(*bbox_lonlat)
        refs: list[SceneRef] = []
        for item in self._catalog.get_items(recursive=True):
            if self.config.collection and item.collection_id != self.config.collection:
                continue
            ref = _scene_ref(item)
            if not (start <= ref.date <= end) or item.geometry is None:
                continue
            if not shape(item.geometry).intersects(area):
                continue
            if ref.cloud_cover is not None and ref.cloud_cover > self.config.max_cloud_cover:
                continue
            refs.append(ref)
        return group_acquisitions(refs)


MAX_RETRY_AFTER_S = 60.0
"""Longest wait honoured from a Retry-After header; a server asking for more gets a retry sooner."""
MAX_PAGES = 10_000
"""A search that pages further than this is broken, not large."""


class _BoundedRetry(Retry):
    """urllib3 Retry whose Retry-After wait is capped, so a server cannot stall a night."""

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, MAX_RETRY_AFTER_S)


def _retry_policy() -> Retry:
    """3 retries of any request (searches are idempotent) on connection errors, read timeouts, 429 and
    5xx, with exponential backoff and Retry-After honoured up to MAX_RETRY_AFTER_S."""
    return _BoundedRetry(
        total=3, connect=3, read=3, status=3, backoff_factor=0.5, backoff_max=30,
        status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None, respect_retry_after_header=True,
    )  # fmt: skip


class StacApiSource(_StacItems):
    """Scenes found by a STAC API item search (pystac-client: paging, bounded retries, timeouts)."""

    def _signer(self) -> Callable[[Any], Any] | None:
        """Planetary Computer's URL signing (short-lived SAS tokens), when configured."""
        if self.config.sign != "planetary-computer":
            return None
        try:
            import planetary_computer
        except ImportError as exc:
            raise ConfigError(
                "source.sign: planetary-computer signing needs `pip install planetary-computer`"
            ) from exc
        return planetary_computer.sign_inplace

    def _item(self, scene: SceneRef, href: str) -> pystac.Item:
        item = super()._item(scene, href)
        signer = self._signer()
        return signer(item) if signer else item

    def _client(self) -> Client:
        io = StacApiIO(max_retries=_retry_policy(), timeout=self.config.timeout_s)
        try:
            return Client.open(str(self.config.url), stac_io=io, modifier=self._signer())
        except APIError as exc:
            raise RetryableError(f"source.url: STAC API {self.config.url} answered: {exc}") from exc

    def search(
        self, bbox_lonlat: tuple[float, float, float, float], start: dt.date, end: dt.date
    ) -> list[SceneRef]:
        """Items of the configured collection intersecting the box within the dates, oldest first.

        A cloud-cover limit below 100 goes to the server as a CQL2 filter or a query, whichever it
        conforms to, and is checked again on the results (servers with neither get it client-side).
        """
        client = self._client()
        limit = self.config.max_cloud_cover
        extra: dict[str, object] = {}
        if limit < 100 and client.conforms_to(ConformanceClasses.FILTER):
            extra = {
                "filter": {"op": "<=", "args": [{"property": "eo:cloud_cover"}, limit]},
                "filter_lang": "cql2-json",
            }
        elif limit < 100 and client.conforms_to(ConformanceClasses.QUERY):
            extra = {"query": {"eo:cloud_cover": {"lte": limit}}}
        search = client.search(
            collections=[str(self.config.collection)],
            bbox=bbox_lonlat,
            datetime=f"{start.isoformat()}T00:00:00Z/{end.isoformat()}T23:59:59.999Z",
            limit=self.config.page_size,
            **extra,  # type: ignore[arg-type]
        )
        items = [pystac.Item.from_dict(f) for page in self._pages(search) for f in page["features"]]
        refs = [_scene_ref(i) for i in items]
        return group_acquisitions([r for r in refs if r.cloud_cover is None or r.cloud_cover <= limit])

    def coverage(self) -> list[tuple[float, float, float, float]] | None:
        """The configured collection's spatial extent as the API describes it (None if it cannot say)."""
        try:
            collection = self._client().get_collection(str(self.config.collection))
        except (APIError, RetryableError, OSError, ValueError):
            return None  # the search itself will report an unreachable or odd API
        return _extent_boxes([collection]) if collection is not None else None

    def _pages(self, search: Any) -> Iterator[dict[str, Any]]:
        """Search result pages; a page whose next link repeats an earlier one ends in a FatalError."""
        seen: set[str] = set()
        try:
            for number, page in enumerate(search.pages_as_dicts(), start=1):
                yield page
                nxt = next((link for link in page.get("links", []) if link.get("rel") == "next"), None)
                key = json.dumps(nxt, sort_keys=True) if nxt else None
                if key in seen or number >= MAX_PAGES:
                    raise FatalError(
                        f"STAC API search on {self.config.url}: page {number} links back to an earlier page"
                    )
                if key:
                    seen.add(key)
        except APIError as exc:
            raise RetryableError(f"STAC API search on {self.config.url} failed: {exc}") from exc
