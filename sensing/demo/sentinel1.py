"""Simulated Sentinel-1 RTC scenes (gamma0 VV and VH, float32 linear power) over the demo landscape.

Each optical overpass gets a radar pass on the same day (a descending pass near 00:53 UTC), so both
sensors see the same water: calm water around -21 dB VV with wind roughening, lake ice near -14 dB,
land from -13 dB (bare steppe) to -6 dB (crops at peak), VH about 7 dB below VV; multiplicative
speckle of a 4.4-look GRD product. Layout and metadata follow Planetary Computer's ``sentinel-1-rtc``
collection: assets ``vv`` and ``vh``, float32 COGs with nodata -32768 outside the swath.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pystac
from numpy.typing import NDArray
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from shapely.geometry import box, mapping

from sensing.demo.landscape import Acquisition, Surface, _Noise
from sensing.waterbodies import to_lonlat

__all__ = ["COLLECTION", "LOOKS", "NODATA", "backscatter_db", "sar_item", "speckled"]

COLLECTION = "sentinel-1-rtc-demo"
NODATA = -32768.0
LOOKS = 4.4
"""Equivalent number of looks of Sentinel-1 IW GRD high resolution."""
SAR_EXTENSION = "https://stac-extensions.github.io/sar/v1.0.0/schema.json"
SAT_EXTENSION = "https://stac-extensions.github.io/sat/v1.0.0/schema.json"


def backscatter_db(
    surface: Surface, x: NDArray[np.float64], y: NDArray[np.float64], seed: int
) -> dict[str, NDArray[np.float64]]:
    """Speckle-free VV and VH gamma0 (dB) of a rendered cloud-free surface at map coordinates x, y."""
    red, nir = surface.reflectance[2].astype(np.float64), surface.reflectance[3].astype(np.float64)
    ndvi = np.clip((nir - red) / np.maximum(nir + red, 1e-6), 0.0, 0.8)
    vv = -13.0 + 7.0 * ndvi / 0.8
    wind = 1.2 * _Noise(seed + 7, 5000.0)(x, y)
    vv = np.where(surface.truth == 1, -21.0 + wind, vv)
    vv = np.where(surface.truth == 2, -14.0, vv)
    vh = np.where(surface.truth == 1, vv - 7.5, vv - 6.5)
    return {"vv": vv, "vh": vh}


def speckled(db: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.float64]:
    """Linear power with the multiplicative speckle of a LOOKS-look intensity image (gamma, mean 1)."""
    return np.asarray(10.0 ** (db / 10.0) * rng.gamma(LOOKS, 1.0 / LOOKS, db.shape))


def sar_item(
    acq: Acquisition,
    crs: str,
    bounds: tuple[float, float, float, float],
    transform: list[float],
    size: int,
    item_dir: Path,
) -> pystac.Item:
    """The STAC item of one simulated radar pass, in the manner of Planetary Computer's RTC items."""
    platform = "SENTINEL-1A" if acq.index % 2 == 0 else "SENTINEL-1B"
    when = dt.datetime.combine(acq.date, dt.time(0, 53, 0), tzinfo=dt.UTC)
    footprint = to_lonlat(box(*bounds), crs)
    item = pystac.Item(
        id=f"S1{platform[-1]}_IW_GRDH_1SDV_{when:%Y%m%dT%H%M%S}_rtc",
        geometry=mapping(footprint),
        bbox=list(footprint.bounds),
        datetime=when,
        properties={
            "platform": platform,
            "constellation": "Sentinel-1",
            "sar:instrument_mode": "IW",
            "sar:frequency_band": "C",
            "sar:polarizations": ["VV", "VH"],
            "sar:product_type": "GRD",
            "sar:looks_equivalent_number": LOOKS,
            "sat:orbit_state": "descending",
            "sensing:simulated": True,
        },
        stac_extensions=[SAR_EXTENSION, SAT_EXTENSION],
    )
    ProjectionExtension.ext(item, add_if_missing=True).code = crs
    RasterExtension.add_to(item)
    for pol in ("vv", "vh"):
        asset = pystac.Asset(
            href=str(item_dir / f"{pol}.tif"),
            media_type=pystac.MediaType.COG,
            roles=["data"],
            title=f"{pol.upper()}: terrain-corrected gamma naught (linear power)",
        )
        proj = ProjectionExtension.ext(asset)
        proj.shape = [size, size]
        proj.transform = transform
        RasterExtension.ext(asset).bands = [RasterBand.create(nodata=NODATA, data_type=DataType.FLOAT32)]
        item.add_asset(pol, asset)
    return item
