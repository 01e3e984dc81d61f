"""Sentinel Hub (commercial, or Copernicus Data Space): Catalog API search, Process API downloads.

Downloads are tiled (at most ``max_request_px`` a side), cached by request hash with atomic writes,
and registered as in-memory STAC items, so pixels load through the same odc-stac path as any archive.
Credentials come from ``SH_CLIENT_ID`` / ``SH_CLIENT_SECRET`` only and are never logged or written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import pystac
from odc.geo.geobox import GeoBox, GeoboxTiles
from sentinelhub import (
    CRS,
    BBox,
    DataCollection,
    MimeType,
    SentinelHubCatalog,
    SentinelHubDownloadClient,
    SentinelHubRequest,
    SHConfig,
)
from sentinelhub.exceptions import DownloadFailedException, OutOfRequestsException
from shapely.geometry import box, mapping

from sensing.config import SourceConfig
from sensing.errors import ConfigError, FatalError, RetryableError, SceneError
from sensing.models import SceneRef
from sensing.publish.locks import file_lock, slot
from sensing.publish.stac import EXTENSIONS
from sensing.publish.storage import atomic_path
from sensing.secrets import redact_secrets_in_logs
from sensing.sources.stac import CLASS_BANDS, _StacItems, group_acquisitions
from sensing.waterbodies import to_lonlat

__all__ = [
    "CREDENTIAL_VARIABLES",
    "SentinelHubSource",
    "evalscript",
    "processing_units",
    "require_credentials",
]

CREDENTIAL_VARIABLES = ("SH_CLIENT_ID", "SH_CLIENT_SECRET")
COLLECTIONS = {
    "sentinel-2-l2a": DataCollection.SENTINEL2_L2A,
    "sentinel-2-l1c": DataCollection.SENTINEL2_L1C,
    "sentinel-1-grd": DataCollection.SENTINEL1_IW,
}
RADAR_COLLECTIONS = ("sentinel-1-grd",)
DEM_INSTANCE = "COPERNICUS_30"
"""DEM used to orthorectify Sentinel-1 (and to flatten terrain for GAMMA0_TERRAIN)."""


def evalscript(sh_bands: list[str], radar: bool = False) -> str:
    """A V3 evalscript returning ``sh_bands`` wherever dataMask says there is data.

    Optical: UINT16 DN, 0 for no data. Radar: FLOAT32 linear power, NaN for no data.
    """
    inputs = json.dumps([*sh_bands, "dataMask"])
    values = ", ".join(f"s.{b}" for b in sh_bands)
    units, sample, empty = ("LINEAR_POWER", "FLOAT32", "NaN") if radar else ("DN", "UINT16", "0")
    return (
        "//VERSION=3\n"
        f'function setup() {{ return {{ input: [{{ bands: {inputs}, units: "{units}" }}], '
        f'output: {{ bands: {len(sh_bands)}, sampleType: "{sample}" }} }}; }}\n'
        f"function evaluatePixel(s) {{ return s.dataMask == 0 ? [{', '.join([empty] * len(sh_bands))}] : [{values}]; }}\n"
    )


def processing_units(width: int, height: int, n_bands: int, radar: bool = False) -> float:
    """Sentinel Hub's PU estimate of one request: (px / 512^2) x (bands / 3), at least 0.005.

    Radar requests count twice for their 32-bit float output and twice again for orthorectification.
    """
    factor = 4.0 if radar else 1.0
    return max(0.005, width * height / 512**2 * n_bands / 3 * factor)


def require_credentials() -> None:
    """ConfigError naming the credential variables that are not set."""
    missing = [name for name in CREDENTIAL_VARIABLES if not os.environ.get(name)]
    if missing:
        raise ConfigError(f"Sentinel Hub credentials: set the environment variable(s) {missing}")


class SentinelHubSource(_StacItems):
    """Scenes from Sentinel Hub. Picklable; the cache folder is shared by all processes.

    Unlike the STAC sources, ``load`` fetches: it downloads the scene's tiles (or finds them in the
    cache) in the calling thread, then returns the usual lazy dataset over the cached files.
    """

    def __init__(self, config: SourceConfig, cache_dir: Path) -> None:
        super().__init__(config)
        self.cache_dir = cache_dir
        if config.collection not in COLLECTIONS:
            raise ConfigError(f"source.collection: {config.collection!r} is not one of {sorted(COLLECTIONS)}")

    def __getstate__(self) -> dict[str, object]:
        return {"config": self.config, "cache_dir": self.cache_dir}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.config, self.cache_dir = state["config"], state["cache_dir"]  # type: ignore[assignment]

    def coverage(self) -> list[tuple[float, float, float, float]] | None:
        """Sentinel Hub's collections are worldwide."""
        return None

    def _sh_config(self) -> SHConfig:
        require_credentials()
        redact_secrets_in_logs(*CREDENTIAL_VARIABLES)
        return SHConfig(
            sh_client_id=os.environ["SH_CLIENT_ID"],
            sh_client_secret=os.environ["SH_CLIENT_SECRET"],
            sh_base_url=str(self.config.url).rstrip("/"),
            sh_token_url=str(self.config.token_url),
            max_retries=self.config.max_retries,  # unbounded by default: a 429 storm would never end
            max_download_attempts=3,
            download_timeout_seconds=self.config.timeout_s,
        )

    @property
    def _radar(self) -> bool:
        return self.config.collection in RADAR_COLLECTIONS

    def _processing(self) -> dict[str, object]:
        """Process API processing options: orthorectified backscatter, or harmonised L2A DN."""
        if self._radar:
            return {"backCoeff": self.config.backscatter, "orthorectify": True, "demInstance": DEM_INSTANCE}
        return {"harmonizeValues": True}  # L2A DN without the +1000 offset of baseline 04.00

    def _collection(self) -> DataCollection:
        base = COLLECTIONS[str(self.config.collection)]
        return base.define_from(f"{base.name}-{hashlib.sha1(str(self.config.url).encode()).hexdigest()[:6]}",
                                service_url=str(self.config.url).rstrip("/"))  # fmt: skip

    def search(
        self, bbox_lonlat: tuple[float, float, float, float], start: dt.date, end: dt.date
    ) -> list[SceneRef]:
        """Catalog API search: acquisitions over the box within the dates, oldest first."""
        catalog = SentinelHubCatalog(config=self._sh_config())
        cloud = self.config.max_cloud_cover
        try:
            results = catalog.search(
                self._collection(),
                bbox=BBox(bbox_lonlat, crs=CRS.WGS84),
                time=(start.isoformat(), end.isoformat()),
                filter=f"eo:cloud_cover <= {cloud}" if cloud < 100 and not self._radar else None,
                fields={"include": ["id", "properties.datetime", "properties.eo:cloud_cover"], "exclude": []},
            )
            features = list(results)
        except (DownloadFailedException, OutOfRequestsException) as exc:
            raise RetryableError(f"Sentinel Hub catalog search at {self.config.url} failed: {exc}") from exc
        refs = [
            SceneRef(
                id=f["id"],
                datetime=dt.datetime.fromisoformat(f["properties"]["datetime"].replace("Z", "+00:00")),
                href=f"sentinelhub://{self.config.collection}/{f['id']}",
                collection=str(self.config.collection),
                cloud_cover=f["properties"].get("eo:cloud_cover"),
                platform=str(self.config.collection)[: len("sentinel-n")],  # one scene per day and mission
            )
            for f in features
        ]
        # The Process API mosaics an acquisition's tiles itself: one scene per day, all its tiles as parts.
        return group_acquisitions(refs)

    def _band_keys(self, bands: list[str]) -> dict[str, str]:
        missing = [b for b in bands if b not in self.config.bands]
        if missing:
            raise ConfigError(f"source.bands: no Sentinel Hub band configured for {missing}")
        return {b: b for b in bands}  # cached tiles name their bands by common name

    def estimate(self, geobox: GeoBox, n_bands: int) -> float:
        """Processing units one scene costs on ``geobox`` with ``n_bands`` bands."""
        return sum(processing_units(t.shape.x, t.shape.y, n_bands, self._radar) for t in self._tiles(geobox))

    def check_budget(self, scenes: int, geobox: GeoBox, n_bands: int) -> None:
        """Refuse a run whose estimated cost would exceed this month's configured PU budget."""
        budget = self.config.monthly_pu_budget
        if budget is None:
            return
        needed = scenes * self.estimate(geobox, n_bands)
        spent = self._ledger().get(_month(), 0.0)
        if spent + needed > budget:
            raise FatalError(
                f"Sentinel Hub budget: this run needs about {needed:.1f} PU for {scenes} scene(s), "
                f"{spent:.1f} of the monthly budget of {budget:.1f} PU are spent; refusing the run "
                f"(raise source.monthly_pu_budget, or narrow the AOI or period)"
            )

    def _tiles(self, geobox: GeoBox) -> list[GeoBox]:
        side = self.config.max_request_px
        tiles = GeoboxTiles(geobox, (side, side))
        out = []
        for idx in tiles.tiles(geobox.extent):
            tile = tiles[idx]
            assert isinstance(tile, GeoBox)  # tiles of an axis-aligned GeoBox are GeoBoxes
            out.append(tile)
        return out

    def _items_for(self, scene: SceneRef, bands: list[str], geobox: GeoBox | None) -> list[pystac.Item]:
        if geobox is None:
            return []
        wanted = [b for b in bands if b in self.config.bands]
        return [self._tile_item(scene, wanted, tile, n) for n, tile in enumerate(self._tiles(geobox))]

    def _tile_item(self, scene: SceneRef, bands: list[str], tile: GeoBox, n: int) -> pystac.Item:
        sh_bands = [self.config.bands[b] for b in bands]
        day = scene.datetime.astimezone(dt.UTC)
        request = SentinelHubRequest(
            evalscript=evalscript(sh_bands, self._radar),
            input_data=[
                SentinelHubRequest.input_data(
                    data_collection=self._collection(),
                    time_interval=(
                        day.replace(hour=0, minute=0, second=0),
                        day.replace(hour=23, minute=59, second=59),
                    ),
                    other_args={"processing": self._processing()},
                )
            ],
            responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
            bbox=BBox(_bounds(tile), crs=CRS(str(tile.crs))),
            size=(tile.shape.x, tile.shape.y),
            config=self._sh_config(),
        )
        download = request.download_list[0]
        key = hashlib.sha256(
            json.dumps(
                {"url": download.url, "payload": download.post_values}, sort_keys=True, default=str
            ).encode()
        ).hexdigest()
        path = self.cache_dir / f"{key}.tif"
        if not path.exists():
            units = processing_units(tile.shape.x, tile.shape.y, len(sh_bands), self._radar)
            self._download(request, path, scene, units)
        return _tile_stac_item(scene, tile, path, bands, n, self._radar)

    def _download(self, request: SentinelHubRequest, path: Path, scene: SceneRef, estimate: float) -> None:
        client = SentinelHubDownloadClient(config=self._sh_config())
        try:
            with slot(self.cache_dir / ".slots", self.config.max_concurrent_requests):
                (response,) = client.download(request.download_list, decode_data=False, show_progress=False)
        except OutOfRequestsException as exc:
            raise RetryableError(f"{scene.id}: Sentinel Hub rate limit: {exc}") from exc
        except DownloadFailedException as exc:
            raise RetryableError(f"{scene.id}: Sentinel Hub download failed: {exc}") from exc
        content = response.content
        if not content.startswith((b"II*\x00", b"MM\x00*")):
            raise SceneError(f"{scene.id}: Sentinel Hub answered {len(content)} bytes that are not a GeoTIFF")
        with atomic_path(path) as tmp:
            tmp.write_bytes(content)
        spent = float(response.headers.get("x-processingunits-spent", estimate))
        self._record(spent)

    def _ledger_path(self) -> Path:
        return self.cache_dir / "processing_units.json"

    def _ledger(self) -> dict[str, float]:
        path = self._ledger_path()
        return json.loads(path.read_text()) if path.exists() else {}

    def _record(self, units: float) -> None:
        with file_lock(self.cache_dir / ".ledger.lock"):
            ledger = self._ledger()
            ledger[_month()] = round(ledger.get(_month(), 0.0) + units, 4)
            with atomic_path(self._ledger_path()) as tmp:
                tmp.write_text(json.dumps(ledger, indent=2, sort_keys=True))


def _bounds(tile: GeoBox) -> tuple[float, float, float, float]:
    left, bottom, right, top = tile.extent.boundingbox
    return left, bottom, right, top


def _month() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m")


def _tile_stac_item(
    scene: SceneRef, tile: GeoBox, path: Path, bands: list[str], n: int, radar: bool
) -> pystac.Item:
    """An in-memory STAC item for one downloaded tile: one multi-band asset, bands by common name.

    Radar tiles hold float32 linear power (NaN nodata), optical tiles uint16 DN (reflectance x 10^4).
    """
    footprint = to_lonlat(box(*tile.extent.boundingbox), str(tile.crs))
    raster: list[dict[str, object]] = [
        {"data_type": "float32", "nodata": "nan"}
        if radar
        else {
            "data_type": "uint16",
            "nodata": 0,
            **({} if b in CLASS_BANDS else {"scale": 1e-4, "offset": 0.0}),
        }
        for b in bands
    ]
    asset = pystac.Asset(
        href=str(path),
        media_type=pystac.MediaType.GEOTIFF,
        roles=["data"],
        extra_fields={
            "proj:code": str(tile.crs),
            "proj:shape": [tile.shape.y, tile.shape.x],
            "proj:transform": list(tile.affine)[:6],
            "eo:bands": [{"name": b, "common_name": b} for b in bands],
            "raster:bands": raster,
        },
    )
    item = pystac.Item(
        f"{scene.id}-tile{n}", mapping(footprint), list(footprint.bounds), scene.datetime, {},
        stac_extensions=[EXTENSIONS["proj"], EXTENSIONS["eo"], EXTENSIONS["raster"]],
    )  # fmt: skip
    item.add_asset("image", asset)
    return item
