"""A simulated landscape around the Kapchagay dam: land cover, water level and weather by date.

Everything is a pure function of map coordinates (EPSG:32643 metres) and the acquisition date, so any
window of any size and resolution can be rendered independently and deterministically. The geometry
follows the real reservoir loosely (dam at the west end near Konaev, widening to the east, the Ili
leaving westwards); spectra are typical surface reflectances of Sentinel-2 bands B02 B03 B04 B08 B11 B12.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from shapely import affinity
from shapely.geometry import Point, Polygon, box
from shapely.geometry.base import BaseGeometry

__all__ = [
    "BANDS",
    "ORIGIN",
    "SCALE_M",
    "Acquisition",
    "Surface",
    "burn_scar",
    "demo_fields",
    "nominal_outlines",
    "render",
    "reservoir_curve",
    "true_levels",
    "water_level",
]

BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
ORIGIN = (669000.0, 4845000.0)
"""South-west corner of the 30 km reference window (EPSG:32643); u, v are measured from here."""
SCALE_M = 30000.0
"""Length of one unit of the normalized coordinates u, v."""
DAM_U = 0.06
"""The dam: reservoir east of it, the Ili river west of it."""

Array = NDArray[np.float64]

# Surface reflectance of the six bands, B02 B03 B04 B08 B11 B12.
WATER_CLEAR = np.array([0.055, 0.045, 0.025, 0.012, 0.006, 0.004])
WATER_TURBID = np.array([0.085, 0.105, 0.095, 0.045, 0.018, 0.012])
VEGETATION = np.array([0.030, 0.065, 0.035, 0.420, 0.210, 0.100])
SOIL = np.array([0.100, 0.140, 0.185, 0.245, 0.330, 0.270])
SALT_CRUST = np.array([0.360, 0.385, 0.400, 0.415, 0.370, 0.290])
URBAN = np.array([0.085, 0.095, 0.105, 0.150, 0.190, 0.170])
SNOW = np.array([0.880, 0.860, 0.830, 0.760, 0.080, 0.060])
LAKE_ICE = np.array([0.450, 0.440, 0.420, 0.350, 0.040, 0.030])
CLOUD = np.array([0.500, 0.480, 0.470, 0.520, 0.400, 0.300])
CHAR = np.array([0.040, 0.050, 0.060, 0.080, 0.160, 0.160])
"""Freshly burned steppe: dark in the visible and NIR, bright in SWIR2 (NBR about -0.33)."""
FIRE_DATE = dt.date(2022, 7, 5)
"""A steppe fire north-west of the reservoir; the scar fades back to steppe over a year."""
FIRE_CENTRE, FIRE_RADII = (0.15, 0.92), (0.08, 0.05)
"""The scar: an ellipse in normalized coordinates (2.4 km x 1.5 km semi-axes)."""

# Scene classification (Sen2Cor SCL) codes used by the simulator.
SCL_NODATA, SCL_SHADOW, SCL_VEG, SCL_BARE, SCL_WATER = 0, 3, 4, 5, 6
SCL_CLOUD_MED, SCL_CLOUD_HIGH, SCL_SNOW = 8, 9, 11


@dataclass(frozen=True)
class Acquisition:
    """The conditions of one simulated overpass."""

    date: dt.date
    index: int
    """Position in the archive's date sequence (drives weather and swath)."""
    cloud_amount: float
    """0 = clear sky; larger values cover more of the window with cloud."""
    swath_edge: bool
    """Whether the window's north-east corner lies outside the orbit's swath."""
    seed: int

    @property
    def frozen(self) -> bool:
        """Winter overpass: lake ice and snow on land."""
        return self.date.month in (12, 1, 2)


@dataclass(frozen=True)
class Surface:
    """One rendered window: reflectance, scene classification and truth."""

    reflectance: NDArray[np.float32]
    """(6, rows, cols) surface reflectance as the sensor sees it (clouds included)."""
    scl: NDArray[np.uint8]
    """Scene classification as Sen2Cor would report it."""
    truth: NDArray[np.uint8]
    """0 dry land, 1 open water, 2 ice-covered water."""
    cloud: NDArray[np.bool_]
    """Cloud or cloud shadow (flagged in SCL)."""
    nodata: NDArray[np.bool_]
    """Outside the swath."""


class _Noise:
    """Smooth deterministic noise: a sum of random plane waves, evaluable on any window."""

    def __init__(self, seed: int, wavelength_m: float, waves: int = 10) -> None:
        rng = np.random.default_rng(seed)
        angles = rng.uniform(0, np.pi, waves)
        k = 2 * np.pi / (wavelength_m * rng.uniform(0.6, 1.6, waves))
        self._kx, self._ky = k * np.cos(angles), k * np.sin(angles)
        self._phase = rng.uniform(0, 2 * np.pi, waves)
        self._norm = np.sqrt(waves / 2)

    def __call__(self, x: Array, y: Array) -> Array:
        out = np.zeros(np.broadcast_shapes(x.shape, y.shape))
        for kx, ky, ph in zip(self._kx, self._ky, self._phase, strict=True):
            out += np.sin(kx * x + ky * y + ph)
        return out / self._norm


def water_level(date: dt.date, start: dt.date) -> float:
    """Reservoir level below full supply (metres, <= 0): summer filling, winter drawdown, slow decline."""
    doy = date.timetuple().tm_yday
    years = (date - start).days / 365.25
    level = -2.5 + 2.2 * np.sin(2 * np.pi * (doy - 120) / 365.0) - 0.6 * years
    return float(np.clip(level, -7.0, 0.0))


FULL_SUPPLY_M = 485.0
"""Kapchagay's normal retention level (m above the Baltic datum): the simulated level's zero."""
POND_DATUM_M = 531.0
"""Height of the pond's simulated level zero (m)."""


def true_levels(date: dt.date, start: dt.date) -> dict[str, float]:
    """Water level (m) of each simulated water body on ``date``: what a gauge would read."""
    return {
        "kapchagay": round(FULL_SUPPLY_M + water_level(date, start), 3),
        "pond-north": round(POND_DATUM_M + _pond_level(date), 3),
    }


def reservoir_curve(
    bounds: tuple[float, float, float, float], resolution: float, levels: Array
) -> list[dict[str, float]]:
    """Area-level-volume curve of the reservoir inside ``bounds`` (its mean bed, without the
    per-date bumps), as a bathymetric survey would give it: level (m), area (km2), volume (million m3)."""
    x = np.arange(bounds[0] + resolution / 2, bounds[2], resolution)
    y = np.arange(bounds[1] + resolution / 2, bounds[3], resolution)
    u = ((x - ORIGIN[0]) / SCALE_M)[None, :]
    v = ((y - ORIGIN[1]) / SCALE_M)[:, None]
    centre = 0.52 + 0.06 * np.sin(2.5 * u)
    s = np.abs(v - centre) / (0.04 + 0.22 * np.clip(u, 0, 1.6) ** 0.8)
    bed = np.where(u > DAM_U, (25.0 - 15.0 * np.clip(u, 0, 1)) * (s**2 - 1.0), np.inf)
    pixel = resolution**2
    rows = []
    for level in levels:
        depth = np.clip(level - bed, 0, None)
        rows.append(
            {
                "level_m": round(FULL_SUPPLY_M + float(level), 3),
                "area_km2": round(float(np.count_nonzero(depth > 0)) * pixel / 1e6, 4),
                "volume_mcm": round(float(depth.sum()) * pixel / 1e6, 3),
            }
        )
    return rows


def _pond_level(date: dt.date) -> float:
    doy = date.timetuple().tm_yday
    return -0.5 - 2.0 * max(0.0, float(np.sin(2 * np.pi * (doy - 150) / 365.0)))


def _phenology(doy: int, peak: Array | float, width: float = 45.0) -> Array:
    return np.asarray(np.exp(-0.5 * ((doy - np.asarray(peak)) / width) ** 2))


def _water_masks(u: Array, v: Array, x: Array, y: Array, level: float, pond: float, seed: int) -> Array:
    """Depth of water (metres, > 0 where wet) for the reservoir, the Ili below the dam and a pond."""
    centre = 0.52 + 0.06 * np.sin(2.5 * u)
    width = 0.04 + 0.22 * np.clip(u, 0, 1.6) ** 0.8
    s = np.abs(v - centre) / width
    bed_depth = 25.0 - 15.0 * np.clip(u, 0, 1)
    bumps = 1.5 * _Noise(seed + 1, 2500.0)(x, y)
    bed = bed_depth * (s**2 - 1.0) + bumps
    reservoir = np.where(u > DAM_U, level - bed, -1.0)
    river_centre = 0.50 + 0.03 * np.sin(9.0 * u)
    river = np.where((u <= DAM_U) & (np.abs(v - river_centre) < 0.0035), 1.0, -1.0)
    r2 = ((u - 0.35) ** 2 + (v - 0.88) ** 2) / 0.035**2
    pond_depth = pond - 3.0 * (r2 - 1.0)
    return np.asarray(np.maximum(np.maximum(reservoir, river), pond_depth))


FIELD_M = (600.0, 400.0)
"""Width and height of the simulated fields (map metres; fields are whole cells of this grid)."""
SOWN_BELOW = 0.8
"""A field whose value is below this is sown (about 80 %); the others lie fallow as steppe."""


def _field_value(col: Array, row: Array, seed: int) -> Array:
    """A field's pseudo-random value in [0, 1): whether it is sown and its crop calendar."""
    return np.asarray(np.modf(np.abs(np.sin(col * 12.9898 + row * 78.233 + seed % 997) * 43758.5453))[0])


def _in_crop_zone(u: Array, v: Array) -> NDArray[np.bool_]:
    """The irrigated zone south of the reservoir (normalized coordinates)."""
    return np.asarray((v < 0.30) & (u > 0.15) & (v > 0.02))


def demo_fields(bounds: tuple[float, float, float, float], seed: int) -> list[tuple[Polygon, bool]]:
    """The simulated fields wholly inside the irrigated zone and ``bounds`` (EPSG:32643), each with
    whether it is sown (its truth: cultivated, or fallow steppe that never greens)."""
    fields = []
    for col in range(int(np.ceil(bounds[0] / FIELD_M[0])), int(bounds[2] // FIELD_M[0])):
        for row in range(int(np.ceil(bounds[1] / FIELD_M[1])), int(bounds[3] // FIELD_M[1])):
            cell = box(col * FIELD_M[0], row * FIELD_M[1], (col + 1) * FIELD_M[0], (row + 1) * FIELD_M[1])
            corners = np.array(cell.exterior.coords)
            u, v = (corners[:, 0] - ORIGIN[0]) / SCALE_M, (corners[:, 1] - ORIGIN[1]) / SCALE_M
            if _in_crop_zone(u, v).all():
                fields.append((cell, bool(_field_value(np.array(col), np.array(row), seed) < SOWN_BELOW)))
    return fields


def _char_fraction(date: dt.date) -> float:
    """Share of char in the scar's reflectance: 1 on the fire's day, back to 0 a year later."""
    days = (date - FIRE_DATE).days
    return float(np.clip(1 - days / 365.0, 0, 1)) if days >= 0 else 0.0


def _in_burn_scar(u: Array, v: Array) -> NDArray[np.bool_]:
    return np.asarray(
        ((u - FIRE_CENTRE[0]) / FIRE_RADII[0]) ** 2 + ((v - FIRE_CENTRE[1]) / FIRE_RADII[1]) ** 2 < 1
    )


def burn_scar() -> Polygon:
    """The simulated fire's scar (EPSG:32643), burned on :data:`FIRE_DATE`."""
    circle = Point(0, 0).buffer(1.0, quad_segs=64)
    ellipse = affinity.scale(circle, FIRE_RADII[0], FIRE_RADII[1], origin=(0, 0))
    uv = affinity.translate(ellipse, *FIRE_CENTRE)
    return Polygon(affinity.affine_transform(uv, [SCALE_M, 0, 0, SCALE_M, ORIGIN[0], ORIGIN[1]]))


def _land_cover(u: Array, v: Array, x: Array, y: Array, doy: int, seed: int) -> Array:
    """Surface reflectance (rows, cols, 6) of dry land on a day of year."""
    texture = _Noise(seed + 2, 900.0)(x, y)
    # Rain-fed steppe: soil with a weak spring green-up.
    fveg = np.clip(0.12 * _phenology(doy, 130.0) + 0.04 * texture, 0, 1)
    # Irrigated parcels south of the reservoir, 600 m x 400 m, each with its own crop calendar.
    parcel = _field_value(np.floor(x / FIELD_M[0]), np.floor(y / FIELD_M[1]), seed)
    crop = _in_crop_zone(u, v) & (parcel < SOWN_BELOW)
    peak = 170.0 + 70.0 * parcel
    fcrop = np.clip((0.55 + 0.4 * parcel) * _phenology(doy, peak, 35.0), 0, 1)
    fveg = np.where(crop, fcrop, fveg)
    refl = fveg[..., None] * VEGETATION + (1 - fveg[..., None]) * SOIL
    urban = (u > -0.02) & (u < 0.12) & (v > 0.22) & (v < 0.38) & (texture > -1.2)
    refl = np.where(urban[..., None], URBAN, refl)
    salt = ((u - 0.80) ** 2 / 0.09**2 + (v - 0.90) ** 2 / 0.05**2 + 0.25 * texture) < 1.0
    refl = np.where(salt[..., None], SALT_CRUST, refl)
    return np.asarray(refl * (1 + 0.06 * texture[..., None]))


def render(acq: Acquisition, start: dt.date, x: Array, y: Array, window_uv: tuple[Array, Array]) -> Surface:
    """Render reflectance, SCL and truth at map coordinates ``x``, ``y`` (2-D, pixel centres).

    ``window_uv`` are the same pixels in coordinates normalized to the rendered window (0..1), which
    place the swath edge and nothing else.
    """
    u, v = (x - ORIGIN[0]) / SCALE_M, (y - ORIGIN[1]) / SCALE_M
    doy = acq.date.timetuple().tm_yday
    depth = _water_masks(u, v, x, y, water_level(acq.date, start), _pond_level(acq.date), acq.seed)
    wet = depth > 0
    turbidity = np.clip((u - 0.55) / 0.4, 0, 1) * np.clip(
        0.7 + 0.3 * _Noise(acq.seed + 3, 3000.0)(x, y), 0, 1
    )
    water = WATER_CLEAR + turbidity[..., None] * (WATER_TURBID - WATER_CLEAR)
    refl = np.where(wet[..., None], water, _land_cover(u, v, x, y, doy, acq.seed))
    truth = wet.astype(np.uint8)
    snow = np.zeros_like(wet)
    if acq.frozen:
        ice = wet & (u > DAM_U - 0.01)
        refl = np.where(ice[..., None], LAKE_ICE, refl)
        truth = np.where(ice, 2, truth).astype(np.uint8)
        snow = ~wet & (_Noise(acq.seed + acq.index + 4, 4000.0)(x, y) > -0.8)
        refl = np.where(snow[..., None], SNOW, refl)
        snow = snow | ice
    char = _char_fraction(acq.date)
    if char > 0:
        scar = _in_burn_scar(u, v) & ~wet & ~snow
        refl = np.where(scar[..., None], char * CHAR + (1 - char) * refl, refl)
    fveg = (refl[..., 3] - refl[..., 2]) / (refl[..., 3] + refl[..., 2])
    scl = np.where(wet, SCL_WATER, np.where(fveg > 0.4, SCL_VEG, SCL_BARE)).astype(np.uint8)
    scl[snow] = SCL_SNOW

    cloud = np.zeros_like(wet)
    if acq.cloud_amount > 0:
        field = _Noise(acq.seed + 100 + acq.index, 7000.0)
        opacity = np.clip(field(x, y) + 1.6 * acq.cloud_amount - 1.0, 0, 1)
        # Shadows fall about 2.3 km north-west of their clouds (morning sun from the south-east).
        shadow_opacity = np.clip(field(x + 1500.0, y - 1800.0) + 1.6 * acq.cloud_amount - 1.0, 0, 1)
        shadow = (shadow_opacity > 0.35) & (opacity < 0.05)
        refl = np.where(shadow[..., None], refl * 0.35, refl)
        refl = refl * (1 - opacity[..., None]) + CLOUD * opacity[..., None]
        thick = opacity > 0.25
        scl[shadow] = SCL_SHADOW
        scl[thick] = np.where(opacity[thick] > 0.6, SCL_CLOUD_HIGH, SCL_CLOUD_MED)
        cloud = thick | shadow

    nodata = np.zeros_like(wet)
    if acq.swath_edge:
        wu, wv = window_uv
        nodata = (wu + 0.35 * wv) > 1.05
        scl[nodata] = SCL_NODATA
    refl = np.moveaxis(refl, -1, 0).astype(np.float32)
    return Surface(reflectance=refl, scl=scl, truth=truth, cloud=cloud, nodata=nodata)


def nominal_outlines(bounds: tuple[float, float, float, float]) -> dict[str, BaseGeometry]:
    """Maximum extents of the simulated water bodies (EPSG:32643), clipped to ``bounds``.

    The reservoir's outline allows for the deepest bed bumps (s < 1.25), the pond's for its full level.
    """
    u = np.linspace(DAM_U, (bounds[2] - ORIGIN[0]) / SCALE_M + 0.05, 200)
    centre = 0.52 + 0.06 * np.sin(2.5 * u)
    half = 1.25 * (0.04 + 0.22 * np.clip(u, 0, 1.6) ** 0.8)
    ring_uv = np.concatenate([np.c_[u, centre + half], np.c_[u[::-1], (centre - half)[::-1]]])
    pond = Point(0.35, 0.88).buffer(0.035 * 1.1, quad_segs=16)
    clip = box(*bounds)

    def to_map(geom: BaseGeometry) -> BaseGeometry:
        return affinity.affine_transform(geom, [SCALE_M, 0, 0, SCALE_M, ORIGIN[0], ORIGIN[1]])

    return {
        "kapchagay": to_map(Polygon(ring_uv)).intersection(clip),
        "pond-north": to_map(pond).intersection(clip),
    }
