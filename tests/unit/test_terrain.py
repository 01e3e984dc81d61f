"""Terrain: the sun's position, slope and hillshade of known planes (chunk-exact), zone surface heights."""

from __future__ import annotations

import datetime as dt
import math

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from sensing.compute.terrain import cast_shadow, hillshade, slope_deg, solar_position, zone_reference_heights


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


@pytest.mark.parametrize("chunks", [-1, (17, 23), (60, 40)])
def test_a_ridge_casts_its_shadow_away_from_the_sun(chunks: int | tuple[int, int]) -> None:
    """A 500 m wall on a plain, the sun 30 degrees high: 500 m / tan 30 = 866 m = 28.9 px of shadow."""
    dem = np.zeros((60, 200), dtype="float32")
    dem[:, 100] = 500.0
    array = xr.DataArray(da.from_array(dem, chunks=chunks), dims=("y", "x"))
    morning = cast_shadow(array, 30.0, sun_elevation=30, sun_azimuth=90, max_distance_m=3000).values
    np.testing.assert_array_equal(np.flatnonzero(morning.any(axis=0)), np.arange(72, 100))
    assert morning[:, 72:100].all()
    evening = cast_shadow(array, 30.0, sun_elevation=30, sun_azimuth=270, max_distance_m=3000).values
    np.testing.assert_array_equal(np.flatnonzero(evening.any(axis=0)), np.arange(101, 129))
    short = cast_shadow(array, 30.0, sun_elevation=30, sun_azimuth=90, max_distance_m=300).values
    assert short.sum(axis=1).max() == 10  # rays traced 300 m only


def test_water_in_a_cast_shadow_is_not_seen() -> None:
    from sensing.compute.terrain import terrain_vetoes
    from sensing.config import TerrainConfig

    dem = np.zeros((60, 200), dtype="float32")
    dem[:, 100:103] = 500.0
    classes = np.ones(dem.shape, dtype="uint8")  # water everywhere, as shadow looks
    out = terrain_vetoes(
        xr.DataArray(da.from_array(classes, chunks=50), dims=("y", "x")),
        xr.DataArray(da.from_array(dem, chunks=50), dims=("y", "x")),
        30.0, (30.0, 90.0), None, 0, TerrainConfig(),
    ).values  # fmt: skip
    assert (out[:, 72:99] == 3).all()  # shaded by the ridge (the ridge's own flanks are steep: dry)
    assert (out[:, :70] == 1).all() and (out[:, 104:] == 1).all()  # lit, flat: still water


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
