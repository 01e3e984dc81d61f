"""Terrain: the sun's position, slope and hillshade of known planes (chunk-exact), zone surface heights."""

from __future__ import annotations

import datetime as dt
import math

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from sensing.compute.terrain import hillshade, slope_deg, solar_position, zone_reference_heights


def test_sun_at_solar_noon_over_kapchagay() -> None:
    # 1 August: declination about +18 deg; solar noon at 77 E is near 06:58 UTC
    elevation, azimuth = solar_position(dt.datetime(2021, 8, 1, 6, 58, tzinfo=dt.UTC), 77.0, 43.9)
    assert elevation == pytest.approx(90 - 43.9 + 18.0, abs=0.7) and azimuth == pytest.approx(180, abs=2)
    morning = solar_position(dt.datetime(2021, 8, 1, 5, 40, tzinfo=dt.UTC), 77.0, 43.9)  # Sentinel-2's pass
    assert 55 < morning[0] < 62 and 120 < morning[1] < 160
    assert solar_position(dt.datetime(2021, 12, 21, 20, 0, tzinfo=dt.UTC), 77.0, 43.9)[0] < 0  # night


def _plane(rise_per_px: float, chunks: int | tuple[int, int]) -> xr.DataArray:
    _, x = np.mgrid[0:300, 0:400]
    return xr.DataArray(da.from_array((x * rise_per_px).astype("float32"), chunks=chunks), dims=("y", "x"))


def test_slope_and_hillshade_of_a_plane_rising_eastwards() -> None:
    slope = slope_deg(_plane(1.0, 128), 10.0).compute().values
    assert np.allclose(slope, math.degrees(math.atan(0.1)), atol=1e-3)
    np.testing.assert_array_equal(slope, slope_deg(_plane(1.0, -1), 10.0).compute().values)  # chunk-exact
    steep = _plane(20.0, 128)  # 63 deg, facing west
    morning = hillshade(steep, 10.0, sun_elevation=30, sun_azimuth=100).compute().values
    evening = hillshade(steep, 10.0, sun_elevation=30, sun_azimuth=260).compute().values
    assert (morning < 0).all() and (evening > 0.5).all()  # a west face is in its own shadow in the morning


def test_zone_surface_height_is_a_low_quantile_of_the_outline() -> None:
    dem = np.full((100, 100), 480.0, dtype="float32")
    dem[:, 80:] = 530.0  # a fifth of the outline is hillside
    dem[0, 0] = np.nan
    zones = np.ones((100, 100), dtype="uint16")
    zones[:, :10] = 0
    heights = zone_reference_heights(
        xr.DataArray(da.from_array(dem, chunks=40), dims=("y", "x")), da.from_array(zones, chunks=40), 1
    )
    assert heights[1] == 480.0


def test_one_dem_source_at_a_time() -> None:
    from pathlib import Path

    from pydantic import ValidationError

    from sensing.config import TerrainConfig

    with pytest.raises(ValidationError, match="either 'dem'"):
        TerrainConfig(dem=Path("dem.tif"), stac_url="https://earth-search.aws.element84.com/v1")
    with pytest.raises(ValidationError, match="http"):
        TerrainConfig(stac_url="earth-search")
    assert not TerrainConfig().enabled and TerrainConfig(dem=Path("x/dem.tif")).dem_name == "dem.tif"
