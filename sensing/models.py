"""Frozen value objects passed between steps: references and small summaries, never arrays."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

__all__ = ["LayerRef", "SceneRef", "SceneResult", "WaterBodyArea", "sensor_name"]


def sensor_name(platform: str, family: str) -> str:
    """The sensor recorded beside a measurement: ``sentinel-1``, ``sentinel-2``, ``landsat-8``...

    Units of a constellation (Sentinel-2A, 2B, 2C) are one sensor; an unknown platform falls back to
    the sensor family (``optical`` or ``sar``).
    """
    name = platform.strip().lower().replace("_", "-")
    match = re.fullmatch(r"(sentinel-[123])[a-d]?", name)
    if match:
        return match.group(1)
    return name or family


@dataclass(frozen=True)
class SceneRef:
    """A reference to one acquisition in an archive."""

    id: str
    """Archive identifier of the scene (the STAC item id)."""
    datetime: dt.datetime
    """Acquisition time (UTC)."""
    href: str
    """Where the scene's metadata lives (STAC item file or URL)."""
    collection: str = ""
    """Archive collection the scene belongs to."""
    cloud_cover: float | None = None
    """Scene-level cloud cover in percent, as the archive reports it."""
    platform: str = ""
    """Platform as the archive names it (``sentinel-2a``, ``SENTINEL-1A``, ``landsat-8``), if known."""
    parts: tuple[tuple[str, str], ...] = ()
    """(id, href) of every archive item of this acquisition when it spans several tiles or UTM
    zones; empty when the scene is the single item ``id`` at ``href``."""

    @property
    def items(self) -> tuple[tuple[str, str], ...]:
        """(id, href) of every archive item making up the scene."""
        return self.parts or ((self.id, self.href),)

    @property
    def date(self) -> dt.date:
        """Acquisition date (UTC)."""
        return self.datetime.date()


@dataclass(frozen=True)
class LayerRef:
    """One published raster layer (a COG) of one product, AOI and date."""

    product: str
    """Product name, e.g. ``water`` or ``ndwi``."""
    aoi: str
    """AOI identifier."""
    date: dt.date
    """Acquisition date the layer describes."""
    href: str
    """Path of the COG, relative to the output root."""
    version: str
    """Algorithm version and configuration hash that produced the layer."""


@dataclass(frozen=True)
class WaterBodyArea:
    """One water body on one date: its water area, how much of it was seen, and whether to trust it."""

    water_body: str
    """Water body identifier."""
    date: dt.date
    """Acquisition date."""
    water_km2: float
    """Area classified as open water, in km2 (grid pixel areas); NaN when the scene failed."""
    ice_km2: float
    """Area classified as snow or ice inside the outline, in km2."""
    valid_fraction: float
    """Fraction of the outline observed (not nodata, cloud or shadow), 0..1."""
    quality: str
    """``ok``, ``partial`` (outside the swath), ``cloudy``, ``frozen`` or ``failed`` (see ``reason``)."""
    scene_id: str = ""
    """Scene the area was measured on."""
    method: str = ""
    """How the water threshold was chosen (``otsu``, ``canny-otsu`` or ``fixed``)."""
    threshold: float = float("nan")
    """Threshold that separated water from land (index value, or backscatter in dB for radar)."""
    sensor: str = ""
    """Sensor of the scene (``sentinel-2``, ``sentinel-1``, ``landsat-8``...): optical and radar
    areas of one date are separate rows of the same series."""
    nominal_fraction: float = float("nan")
    """Water area over the nominal outline's area (on the grid)."""
    cloud_fraction: float = float("nan")
    """Fraction of the outline under cloud or shadow."""
    ice_fraction: float = float("nan")
    """Fraction of the observed outline covered by snow or ice."""
    usable: bool = False
    """Whether the area may be used as a value of the series (quality ``ok``); other rows are kept
    for the record but not used."""
    reason: str = ""
    """Why a row is not usable (a failed scene's error, or what hid the water body)."""
    version: str = ""
    """Algorithm version and configuration hash that produced the row."""
    filled_km2: float = float("nan")
    """Water area with the pixels hidden on the date filled from the occurrence prior (km2); equals
    ``water_km2`` when the whole outline was seen (see ``sensing.gapfill``)."""
    filled_low_km2: float = float("nan")
    """Lower bound of the fill: hidden pixels filled where occurrence is at least 0.75."""
    filled_high_km2: float = float("nan")
    """Upper bound: hidden pixels filled where occurrence is at least 0.25, or never seen clear."""
    fill_level: float = float("nan")
    """Occurrence level the estimate filled at, calibrated on the pixels seen that date."""
    level_m: float = float("nan")
    """Water level (m) from the area (gap-filled where filled) and the water body's curve, if any."""
    volume_mcm: float = float("nan")
    """Stored volume (million m3) from the same curve."""
    gauge_level_m: float = float("nan")
    """Gauge reading of the date (or nearest within a day), where imported (``sensing gauges import``)."""
    ice_from: str = ""
    """For radar rows: the optical look (sensor and date) that saw the water body frozen within a
    week; radar cannot tell ice from water, so such rows are not usable."""
    excluded: bool = False
    """Whether an analyst excluded the observation (see ``sensing.exclusions``); never usable then."""
    exclusion: str = ""
    """Who excluded it, when and why."""


@dataclass(frozen=True)
class SceneResult:
    """What processing one scene produced, or why it failed."""

    scene_id: str
    """Archive identifier of the scene."""
    date: dt.date
    """Acquisition date."""
    status: str
    """``processed``, ``skipped`` (already published) or ``failed``."""
    reason: str = ""
    """Why a scene failed or was skipped."""
    layers: tuple[LayerRef, ...] = field(default=())
    """Layers published for the scene."""
    areas: tuple[WaterBodyArea, ...] = field(default=())
    """Water areas measured on the scene."""
    sensor: str = ""
    """Sensor of the scene (see :func:`sensor_name`)."""
