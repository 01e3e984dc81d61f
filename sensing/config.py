"""Typed settings loaded from YAML in ``configs/``; paths are relative to the YAML file.

Environment overrides: ``SENSING_DATA_DIR`` (data folder), ``SENSING_DASK_ADDRESS`` (Dask scheduler).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyproj
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sensing.errors import ConfigError

__all__ = [
    "ALGORITHM_VERSION",
    "AlertConfig",
    "AoiConfig",
    "DaskConfig",
    "DemoConfig",
    "IndexScale",
    "LandConfig",
    "LimitsConfig",
    "MaskConfig",
    "NightlyConfig",
    "QualityConfig",
    "SarConfig",
    "ScheduleConfig",
    "ScheduleGroup",
    "Settings",
    "SourceConfig",
    "TerrainConfig",
    "WaterConfig",
    "load_settings",
]

ALGORITHM_VERSION = "1.0.0"
"""Version of the processing algorithms; part of every output's version key."""

INDEX_PRODUCTS = ("ndwi", "mndwi", "ndvi")
OPTICAL_PRODUCTS = ("water", *INDEX_PRODUCTS)
"""The default products of an optical source."""
LAND_INDEX_PRODUCTS = ("evi", "nbr", "ndmi", "bi", "si_khan")
"""Optional per-scene land indices (configure them in ``products``): enhanced vegetation, burn ratio,
moisture, bare soil, salinity (sensing.compute.indices)."""
SAR_BANDS = ("vv", "vh")
SAR_PRODUCTS = ("water-sar", *SAR_BANDS)
"""Radar products: water classes from backscatter, and speckle-filtered backscatter in dB."""
PRODUCTS = (*OPTICAL_PRODUCTS, *LAND_INDEX_PRODUCTS, *SAR_PRODUCTS)
LAND_PRODUCTS = ("ndvi", *LAND_INDEX_PRODUCTS)
"""Products of the land-resources group (the rest belong to the water group)."""
CLASS_PRODUCTS = ("water", "water-sar")
"""Products whose layer is the water class raster (the others are scaled int16 values)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AoiConfig(_Model):
    """The area of interest and the grid every scene is loaded onto."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Identifier used in paths and URLs.")
    name: str = Field(description="Human-readable name.")
    crs: str = Field(description="Grid CRS, e.g. EPSG:32643 (UTM 43N).")
    bounds: tuple[float, float, float, float] = Field(description="minx, miny, maxx, maxy in the grid CRS.")
    resolution: float = Field(gt=0, description="Pixel size in CRS units (metres for UTM).")

    @field_validator("bounds")
    @classmethod
    def _ordered(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if v[0] >= v[2] or v[1] >= v[3]:
            raise ValueError("bounds must be minx < maxx and miny < maxy")
        return v

    @property
    def area_km2(self) -> float:
        """The AOI's area on the WGS84 ellipsoid (inf where its corners do not map to lon/lat)."""
        x0, y0, x1, y1 = self.bounds
        steps = np.linspace(0.0, 1.0, 33)
        xs = np.concatenate(
            [x0 + (x1 - x0) * steps, np.full(33, x1), x1 - (x1 - x0) * steps, np.full(33, x0)]
        )
        ys = np.concatenate(
            [np.full(33, y0), y0 + (y1 - y0) * steps, np.full(33, y1), y1 - (y1 - y0) * steps]
        )
        try:
            lons, lats = pyproj.Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
        except pyproj.exceptions.ProjError:
            return math.inf
        if not (np.all(np.isfinite(lons)) and np.all(np.isfinite(lats))):
            return math.inf
        area, _ = pyproj.Geod(ellps="WGS84").polygon_area_perimeter(lons, lats)
        return abs(area) / 1e6


class SourceConfig(_Model):
    """Where scenes come from: a static STAC catalog on disk, or a STAC API."""

    kind: Literal["static-stac", "stac-api", "sentinelhub"] = "static-stac"
    catalog: Path | None = Field(default=None, description="static-stac: path of the root catalog.json.")
    url: str | None = Field(
        default=None, description="stac-api: landing page; sentinelhub: service base URL."
    )
    token_url: str | None = Field(default=None, description="sentinelhub: OAuth2 token endpoint.")
    monthly_pu_budget: float | None = Field(
        default=None,
        gt=0,
        description="sentinelhub: processing units a calendar month may spend (None: no cap).",
    )
    max_retries: int = Field(
        default=3, ge=0, le=20, description="sentinelhub: attempts on HTTP 429 before failing."
    )
    max_request_px: int = Field(
        default=2500, ge=64, le=2500, description="sentinelhub: largest request side."
    )
    max_concurrent_requests: int = Field(
        default=2, ge=1, le=32,
        description="sentinelhub: requests in flight at once over every run sharing the data folder.",
    )  # fmt: skip
    collection: str | None = Field(default=None, description="Only scenes of this collection.")
    page_size: int = Field(default=100, ge=1, le=10000, description="stac-api: items per search page.")
    timeout_s: float = Field(default=60, gt=0, description="stac-api: timeout of each HTTP request.")
    sign: Literal["planetary-computer"] | None = Field(
        default=None, description="stac-api: sign asset URLs (needs the planetary-computer package)."
    )
    gdal_options: dict[str, str] = Field(
        default_factory=dict,
        description="GDAL settings for this provider's assets (e.g. AWS_REQUEST_PAYER); never secrets.",
    )
    max_cloud_cover: float = Field(default=100, ge=0, le=100, description="Skip scenes cloudier than this.")
    bands: dict[str, str] = Field(
        default={
            "blue": "B02",
            "green": "B03",
            "red": "B04",
            "nir": "B08",
            "swir16": "B11",
            "swir22": "B12",
            "scl": "SCL",
        },
        description="Common band name to the archive's asset key.",
    )

    backscatter: Literal["SIGMA0_ELLIPSOID", "GAMMA0_ELLIPSOID", "GAMMA0_TERRAIN"] = Field(
        default="GAMMA0_TERRAIN",
        description="sentinelhub, Sentinel-1: backscatter coefficient (orthorectified on Copernicus DEM 30 m).",
    )

    @property
    def sensor(self) -> Literal["optical", "sar"]:
        """``sar`` when the bands are radar polarisations (vv, vh), ``optical`` otherwise."""
        return "sar" if set(self.bands) & set(SAR_BANDS) else "optical"

    @model_validator(mode="after")
    def _location(self) -> SourceConfig:
        if self.kind == "static-stac" and self.catalog is None:
            raise ValueError("a static-stac source needs 'catalog'")
        remote = self.kind in ("stac-api", "sentinelhub")
        if remote and not (self.url or "").startswith(("http://", "https://")):
            raise ValueError(f"a {self.kind} source needs 'url' (http:// or https://)")
        if remote and not self.collection:
            raise ValueError(f"a {self.kind} source needs 'collection'")
        if self.kind == "sentinelhub" and not (self.token_url or "").startswith(("http://", "https://")):
            raise ValueError("a sentinelhub source needs 'token_url' (http:// or https://)")
        if self.sensor == "sar" and set(self.bands) - set(SAR_BANDS):
            raise ValueError(
                f"bands: radar polarisations {list(SAR_BANDS)} cannot be mixed with optical bands "
                f"{sorted(set(self.bands) - set(SAR_BANDS))} in one source"
            )
        return self


class TerrainConfig(_Model):
    """Terrain vetoes against false water in mountains (``sensing.compute.terrain``); off without a DEM."""

    dem: Path | None = Field(
        default=None, description="DEM GeoTIFF (any CRS; e.g. Copernicus DEM GLO-30), relative to the config."
    )
    stac_url: str | None = Field(
        default=None,
        description="Or a STAC API whose DEM collection is read over the AOI (e.g. Earth Search).",
    )
    collection: str = Field(default="cop-dem-glo-30", description="The DEM collection of ``stac_url``.")
    asset: str = Field(default="data", description="The DEM asset key of its items.")
    max_slope_deg: float = Field(default=8.0, gt=0, le=90, description="Steeper: water becomes dry.")
    min_hillshade: float = Field(
        default=0.1, ge=-1, le=1, description="Sun incidence below this (self-shadow): water becomes shadow."
    )
    max_height_above_m: float = Field(
        default=15.0,
        gt=0,
        description="Water this far above its water body's surface becomes dry (Blue Dot).",
    )
    max_shadow_m: float = Field(
        default=3000.0,
        ge=0,
        description="Longest cast shadow traced (m): a ridge this far toward the sun can shade a pixel "
        "(3 km: a 1 km ridge with the sun 18 degrees high). Blocks overlap by this much.",
    )

    @model_validator(mode="after")
    def _one_dem(self) -> TerrainConfig:
        if self.dem is not None and self.stac_url is not None:
            raise ValueError("give either 'dem' (a file) or 'stac_url', not both")
        if self.stac_url is not None and not self.stac_url.startswith(("http://", "https://")):
            raise ValueError("'stac_url' must be an http(s) URL of a STAC API")
        return self

    @property
    def enabled(self) -> bool:
        """Whether a DEM is configured."""
        return self.dem is not None or self.stac_url is not None

    @property
    def dem_name(self) -> str | None:
        """What the outputs record as the DEM: the file's name, or the STAC collection and URL."""
        if self.dem is not None:
            return self.dem.name
        return f"{self.collection} at {self.stac_url}" if self.stac_url else None


class WaterConfig(_Model):
    """Water classifier parameters."""

    index: Literal["mndwi", "ndwi", "awei_nsh", "awei_sh"] = "mndwi"
    method: Literal["otsu", "canny-otsu", "fixed"] = Field(
        default="otsu",
        description="otsu: over every valid pixel; canny-otsu: over pixels near Canny edges of the index "
        "(balanced land/water samples), falling back to otsu, then to the fixed threshold; fixed: "
        "fixed_threshold.",
    )
    canny_sigma: float = Field(
        default=4.0, gt=0, le=10, description="Gaussian sigma (px) of the Canny filter."
    )
    edge_buffer_px: int = Field(default=4, ge=0, le=20, description="Pixels around edges sampled for Otsu.")
    min_edge_pixels: int = Field(
        default=500, ge=1, description="Fewer edge samples: fall back to global Otsu."
    )
    otsu_bounds: tuple[float, float] = (-0.2, 0.5)
    fixed_threshold: float = 0.0
    min_mapping_unit_px: int = Field(
        default=4, ge=0, le=500,
        description="Water specks and dry holes smaller than this (8-connected pixels) are reclassified.",
    )  # fmt: skip
    core_margin_m: float = Field(
        default=300.0, ge=0,
        description="canny-otsu: water inside a water body's outline counts only where it connects to the "
        "outline's core (the outline shrunk by this many metres, or the whole outline where that leaves "
        "nothing); 0 turns the test off.",
    )  # fmt: skip
    min_class_fraction: float = Field(default=0.005, ge=0, lt=0.5)
    histogram_bins: int = Field(default=512, ge=16)
    snow_min_green: float = Field(
        default=0.2, description="Green reflectance above which bright MNDWI>0.4 is snow/ice."
    )


class SarConfig(_Model):
    """Water from Sentinel-1 backscatter: Otsu on speckle-filtered dB, water below the threshold."""

    polarization: Literal["vv", "vh"] = Field(
        default="vv", description="Polarisation classified (VV separates calm water from land best)."
    )
    units: Literal["auto", "linear", "db"] = Field(
        default="auto",
        description="Units of the archive's backscatter: linear power, dB, or auto (told from the values).",
    )
    speckle_filter_px: int = Field(
        default=5, ge=0, le=15, description="Lee filter window (odd, pixels); 0 disables filtering."
    )
    looks: float = Field(
        default=4.4, gt=0, description="Equivalent number of looks of the input (GRD IW: 4.4)."
    )
    otsu_bounds: tuple[float, float] = (-24.0, -12.0)
    fixed_threshold: float = -18.0
    min_class_fraction: float = Field(default=0.005, ge=0, lt=0.5)
    histogram_bins: int = Field(default=500, ge=16)
    histogram_range: tuple[float, float] = (-40.0, 10.0)
    min_mapping_unit_px: int = Field(
        default=4, ge=0, le=500, description="Water specks and dry holes smaller than this are reclassified."
    )

    @field_validator("speckle_filter_px")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v and v % 2 == 0:
            raise ValueError("speckle_filter_px must be odd (or 0)")
        return v


class MaskConfig(_Model):
    """Cloud and shadow masking."""

    cloud_dilation_px: int = Field(
        default=0,
        ge=0,
        le=50,
        description="Grow cloud/shadow masks by this many pixels (edges that SCL misses).",
    )


class QualityConfig(_Model):
    """Thresholds of the per-water-body quality flag."""

    max_invalid_fraction: float = Field(
        default=0.10, ge=0, le=1,
        description="An outline less observed than 1 - this (cloud, shadow, nodata) is kept but not used.",
    )  # fmt: skip
    ice_min_fraction: float = Field(default=0.2, ge=0, le=1, description="Ice over this fraction: frozen.")


class IndexScale(_Model):
    """How a float index is stored as int16: value = stored * scale + offset."""

    scale: float = 0.0001
    offset: float = 0.0


class DaskConfig(_Model):
    """Where Dask work runs: empty address = a local cluster sized to the machine."""

    address: str = ""
    chunk: int = Field(default=1024, ge=128)
    n_workers: int | None = None
    gdal_cache_mb: int = Field(
        default=128, ge=8,
        description="GDAL block cache per worker process (MB); GDAL's default is 5 % of the machine's memory.",
    )  # fmt: skip
    worker_memory_mb: int | None = Field(
        default=None,
        ge=256,
        description="Memory limit per local worker process (MB): Dask spills to disk, then pauses, above it; "
        "None: the machine's memory split between the workers.",
    )


class AlertConfig(_Model):
    """When a water body's area departs from its same-month baseline, and who is told."""

    low_percentile: float = Field(default=10, ge=0, le=50, description="Below this baseline percentile: low.")
    high_percentile: float = Field(default=90, ge=50, le=100, description="Above this one: high.")
    min_z: float = Field(default=1.5, ge=0, description="And at least this many standard deviations away.")
    min_baseline_years: int = Field(default=3, ge=1, description="Years of the same month needed to judge.")
    webhook_url: str | None = Field(
        default=None, pattern=r"^https?://", description="POST every run's alerts here as JSON (optional)."
    )
    failure_webhook_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="POST here when a run fails, crashes or fails scenes (optional; env "
        "SENSING_FAILURE_WEBHOOK_URL overrides).",
    )


class NightlyConfig(_Model):
    """Which acquisitions a nightly run looks at."""

    since: dt.date | None = Field(default=None, description="Earliest acquisition date considered.")
    lookback_days: int | None = Field(
        default=None, ge=1, description="Only the last N days (None: no limit)."
    )


def _five_cron_fields(line: str) -> str:
    if len(line.split()) != 5:
        raise ValueError(f"expected five cron fields (minute hour day month weekday), got {line!r}")
    return line


class LandConfig(_Model):
    """Land products derived from the published NDVI layers (docs/land.md)."""

    baseline_years: tuple[int, int] | None = Field(
        default=None,
        description="First and last year of the baseline the monthly NDVI anomaly and VCI compare against "
        "(default: every other year with a composite of that month).",
    )
    baseline_min_years: int = Field(
        default=3,
        ge=1,
        description="Years of the same month the baseline needs before anomalies are published.",
    )
    snow_season: tuple[str, str] = Field(
        default=("11-01", "03-31"),
        description="Snow season as MM-DD start and end (the end in the next year).",
    )
    growing_months: tuple[int, int] = Field(
        default=(5, 9), description="Growing season of the NDVI trend (months)."
    )
    seasonal_cron: str = Field(
        default="0 5 1 * *", description="When the land-season deployment runs (cron, schedule.timezone)."
    )
    parcels: Path | None = Field(
        default=None,
        description="Parcel polygons (GeoParquet, GeoPackage, GeoJSON; relative to the data folder) the "
        "land-season flow labels after each growing season (parcel-labels layer and tables).",
    )
    parcel_id_column: str = Field(default="parcel_id", description="Column of unique ids in ``parcels``.")
    parcel_months: tuple[int, int] = Field(
        default=(4, 10),
        description="Months of the season parcels are labelled over: wider than the growing season, so "
        "that the bare soil before sowing and after harvest is seen.",
    )

    @field_validator("snow_season")
    @classmethod
    def _month_days(cls, v: tuple[str, str]) -> tuple[str, str]:
        for day in v:
            try:
                dt.date.fromisoformat(f"2001-{day}")
            except ValueError:
                raise ValueError(f"{day!r} is not a MM-DD day of the year") from None
        return v

    @field_validator("seasonal_cron")
    @classmethod
    def _valid_cron(cls, v: str) -> str:
        return _five_cron_fields(v)

    @field_validator("growing_months", "parcel_months")
    @classmethod
    def _months(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= v[0] <= v[1] <= 12:
            raise ValueError(f"{list(v)} is not a range of months (first <= last, 1-12)")
        return v

    @field_validator("baseline_years")
    @classmethod
    def _ordered(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and v[0] > v[1]:
            raise ValueError(f"first year {v[0]} is after last year {v[1]}")
        return v


class ScheduleGroup(_Model):
    """One nightly deployment: the products it publishes and when it runs (cron, or every N seconds)."""

    products: tuple[str, ...] = Field(min_length=1)
    cron: str | None = Field(default=None, description="Cron line in schedule.timezone, e.g. '30 1 * * *'.")
    interval_s: int | None = Field(default=None, ge=1, description="Instead of cron: every N seconds.")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, v: str | None) -> str | None:
        return v if v is None else _five_cron_fields(v)

    @model_validator(mode="after")
    def _one_timing(self) -> ScheduleGroup:
        if (self.cron is None) == (self.interval_s is None):
            raise ValueError("give exactly one of cron and interval_s")
        return self


class ScheduleConfig(_Model):
    """Deployments served by ``sensing schedule`` (a local Prefect server) or by workers."""

    timezone: str = "Asia/Almaty"
    groups: dict[str, ScheduleGroup] = Field(
        default_factory=dict,
        description="Project groups, one nightly deployment each (nightly-<group>); default: "
        "Settings.schedule_groups().",
    )
    backfill_concurrency: int = Field(
        default=2, ge=1, le=32, description="Partitions (month x AOI) a backfill runs at once."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (an IANA name such as Asia/Almaty)") from None
        return v


class PublishConfig(_Model):
    """What the catalogue keeps."""

    keep_superseded: int | None = Field(
        default=None, ge=0,
        description="Superseded versions kept per layer and date after reprocessing (newest first); "
        "none: keep every version.",
    )  # fmt: skip
    summaries: bool = Field(
        default=True,
        description="Yearly summaries of the class layers: occurrence, water-months, max-extent, change "
        "since monitoring began (gap filling reads them too); off: each scene's products only.",
    )
    composites: bool = Field(
        default=True,
        description="Monthly NDVI composites (median, maximum, clear count) of the months a run's NDVI "
        "layers fall in; they need the water class layers of the same dates.",
    )


class LimitsConfig(_Model):
    """What one run may ask for; larger requests are refused before any work starts."""

    max_aoi_km2: float = Field(
        default=3_000_000, gt=0,
        description="Largest AOI (km2, on the ellipsoid). The default holds all of Kazakhstan (2.72 M km2); "
        "lower it for on-demand services.",
    )  # fmt: skip

    def aoi_too_large(self, aoi: AoiConfig) -> str | None:
        """Why ``aoi`` is over ``max_aoi_km2``, or None when it is not."""
        area = aoi.area_km2
        if area <= self.max_aoi_km2:
            return None
        return f"the AOI covers {area:,.0f} km2, more than limits.max_aoi_km2 ({self.max_aoi_km2:,.0f} km2)"


class DemoConfig(_Model):
    """Parameters of the generated demo archive."""

    archive: Path
    start: dt.date = dt.date(2021, 8, 1)
    years: int = Field(default=1, ge=1, le=30)
    dates_per_year: int = Field(default=10, ge=2, le=36)
    resolution: float = 10.0
    size: int | None = Field(default=None, ge=64, description="Side in pixels (default: the AOI's extent).")
    seed: int = 20210801
    sentinel1: bool = Field(
        default=False, description="Also simulate a Sentinel-1 RTC pass (VV, VH) on each scene's day."
    )


class Settings(_Model):
    """Everything a run needs. Build with :func:`load_settings`."""

    name: str
    data_dir: Path
    aoi: AoiConfig
    water_bodies: Path = Field(
        description="Water-body registry (YAML, see configs/water_bodies/) or a vector file of outlines (id, name)."
    )
    hydrography: Path | None = Field(
        default=None,
        description="Hydrography file the registry's outlines come from (overrides its default).",
    )
    source: SourceConfig
    products: tuple[str, ...] = Field(
        default=(), description="Products to publish (default: every product of the source's sensor)."
    )
    water: WaterConfig = WaterConfig()
    terrain: TerrainConfig = TerrainConfig()
    sar: SarConfig = SarConfig()
    masks: MaskConfig = MaskConfig()
    quality: QualityConfig = QualityConfig()
    indices: dict[str, IndexScale] = Field(
        default_factory=lambda: {k: IndexScale() for k in INDEX_PRODUCTS},
        description="int16 scale of each index product (land indices without an entry: 1e-4).",
    )
    dask: DaskConfig = DaskConfig()
    nightly: NightlyConfig = NightlyConfig()
    alerts: AlertConfig = AlertConfig()
    publish: PublishConfig = PublishConfig()
    land: LandConfig = LandConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    limits: LimitsConfig = LimitsConfig()
    demo: DemoConfig | None = None

    @field_validator("products")
    @classmethod
    def _known_products(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(v) - set(PRODUCTS))
        if unknown:
            raise ValueError(f"unknown product(s) {unknown}; known: {list(PRODUCTS)}")
        return v

    @model_validator(mode="after")
    def _products_of_sensor(self) -> Settings:
        allowed = SAR_PRODUCTS if self.source.sensor == "sar" else (*OPTICAL_PRODUCTS, *LAND_INDEX_PRODUCTS)
        wrong = [p for p in self.products if p not in allowed]
        if wrong:
            raise ValueError(
                f"products: {wrong} cannot be made from a {self.source.sensor} source; choose from {list(allowed)}"
            )
        for group, spec in self.schedule.groups.items():
            odd = [p for p in spec.products if p not in allowed]
            if odd:
                raise ValueError(f"schedule.groups.{group}.products: {odd} are not products of this source")
        too_large = self.limits.aoi_too_large(self.aoi)
        if too_large:
            raise ValueError(f"aoi.bounds: {too_large}")
        missing = [p for p in self.published_products if p in INDEX_PRODUCTS and p not in self.indices]
        if missing:
            raise ValueError(f"indices: no scale configured for {missing}")
        return self

    @property
    def published_products(self) -> tuple[str, ...]:
        """The configured products, or every product the source's sensor supports."""
        if self.products:
            return self.products
        return SAR_PRODUCTS if self.source.sensor == "sar" else OPTICAL_PRODUCTS

    def schedule_groups(self) -> dict[str, ScheduleGroup]:
        """The configured nightly groups; by default water (classes, water indices) at 01:30 and,
        for optical sources, land (NDVI) at 03:30, each limited to the published products."""
        if self.schedule.groups:
            return self.schedule.groups
        published = self.published_products
        water = tuple(p for p in published if p not in LAND_PRODUCTS)
        land = tuple(p for p in published if p in LAND_PRODUCTS)
        groups = {"water": ScheduleGroup(products=water, cron="30 1 * * *")} if water else {}
        if land:
            groups["land"] = ScheduleGroup(products=land, cron="30 3 * * *")
        return groups

    @property
    def output_dir(self) -> Path:
        """Root of everything published (COGs, STAC, tables)."""
        return self.data_dir / "outputs"

    def config_hash(self) -> str:
        """Short hash of every setting that changes output pixels or tables."""
        relevant = {
            "algorithm": ALGORITHM_VERSION,
            "aoi": self.aoi.model_dump(mode="json"),
            "water": self.water.model_dump(mode="json"),
            "terrain": self.terrain.model_dump(mode="json") | {"dem": self.terrain.dem_name},
            "masks": self.masks.model_dump(mode="json"),
            "quality": self.quality.model_dump(mode="json"),
            "indices": {k: v.model_dump(mode="json") for k, v in sorted(self.indices.items())},
            "bands": self.source.bands,
        }
        if self.source.sensor == "sar":
            relevant["sar"] = self.sar.model_dump(mode="json")
        digest = hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()
        return digest[:8]

    def version_key(self) -> str:
        """Version directory name of outputs: algorithm version plus config hash."""
        return f"v{ALGORITHM_VERSION}-{self.config_hash()}"


def _resolve(base: Path, value: object) -> object:
    return str((base / str(value)).resolve()) if value is not None else None


def load_settings(path: str | Path, **overrides: object) -> Settings:
    """Read a YAML config, resolve relative paths against its folder and apply env overrides.

    Raises ConfigError naming the file and the offending field.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    base = path.resolve().parent
    raw = {**raw, **{k: v for k, v in overrides.items() if v is not None}}
    if os.environ.get("SENSING_DATA_DIR"):
        raw["data_dir"] = os.environ["SENSING_DATA_DIR"]
        base_data = Path.cwd()
    else:
        base_data = base
    raw["data_dir"] = _resolve(base_data, raw.get("data_dir", "data"))
    raw["water_bodies"] = _resolve(base, raw.get("water_bodies"))
    if raw.get("hydrography") is not None:
        raw["hydrography"] = _resolve(base, raw["hydrography"])
    if isinstance(raw.get("terrain"), dict) and raw["terrain"].get("dem") is not None:
        raw["terrain"] = {**raw["terrain"], "dem": _resolve(base, raw["terrain"]["dem"])}
    if isinstance(raw.get("source"), str):
        raw["source"] = _named_source(base, raw["source"])
    data_dir = Path(str(raw["data_dir"]))
    for section, key in (("source", "catalog"), ("demo", "archive"), ("land", "parcels")):
        if isinstance(raw.get(section), dict) and raw[section].get(key) is not None:
            raw[section] = {**raw[section], key: _resolve_data(data_dir, raw[section][key])}
    if os.environ.get("SENSING_DASK_ADDRESS") is not None:
        raw["dask"] = {**(raw.get("dask") or {}), "address": os.environ["SENSING_DASK_ADDRESS"]}
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: invalid configuration: {fields}") from exc


def _named_source(base: Path, name: str) -> dict[str, object]:
    """``source: NAME`` reads ``sources/NAME.yaml`` beside the config."""
    path = base / "sources" / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (base / "sources").glob("*.yaml"))
        raise ConfigError(f"source: unknown source {name!r}; known: {known}")
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping")
    return doc


def _resolve_data(data_dir: Path, value: object) -> str:
    """Paths of data (archives, catalogs) are relative to the data folder."""
    return str((data_dir / str(value)).resolve())
