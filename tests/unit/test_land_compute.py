"""Land products on arrays with known answers: composites of clear pixels, anomalies and VCI,
Theil-Sen trends against scipy, dNBR severity classes, snow duration and the parcel rule."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from sensing.compute.burn import burn_severity, class_areas_km2, dnbr
from sensing.compute.composites import clear_count, max_ndvi_composite, percentile_composite
from sensing.compute.condition import anomalies, monthly_baseline, theil_sen_trend
from sensing.compute.phenology import ParcelRule, classify_parcels, season_statistics
from sensing.compute.snow import snow_duration_days


def _stack(
    values: np.ndarray, times: pd.DatetimeIndex, chunks: tuple[int, ...] | None = None
) -> xr.DataArray:
    data = da.from_array(values, chunks=chunks or (len(times), *(max(1, s // 2) for s in values.shape[1:])))
    return xr.DataArray(data, dims=("time", "y", "x"), coords={"time": times})


def test_the_max_ndvi_composite_takes_every_band_from_the_clear_date_of_largest_ndvi() -> None:
    times = pd.DatetimeIndex(["2021-06-03", "2021-06-13", "2021-06-23", "2021-07-03"])
    ndvi = np.array([0.3, 0.9, 0.6, 0.5], dtype="float32")[:, None, None] * np.ones((4, 2, 2), "float32")
    red = np.array([10, 20, 30, 40], dtype="float32")[:, None, None] * np.ones((4, 2, 2), "float32")
    clear = np.ones((4, 2, 2), bool)
    clear[1, 0, 0] = False  # the greenest date is cloudy at (0, 0): the next best (0.6, 30) wins
    clear[:3, 1, 1] = False  # nothing clear in June at (1, 1)
    stack = xr.Dataset({"ndvi": _stack(ndvi, times), "red": _stack(red, times)})
    out = max_ndvi_composite(stack, _stack(clear, times), "month").compute()
    june = out.sel(time="2021-06-01")
    assert float(june["red"][0, 0]) == 30 and float(june["ndvi"][0, 0]) == pytest.approx(0.6)
    assert float(june["red"][0, 1]) == 20 and float(june["day_of_year"][0, 1]) == 164  # 13 June
    assert np.isnan(float(june["red"][1, 1])) and np.isnan(float(june["day_of_year"][1, 1]))
    assert float(out.sel(time="2021-07-01")["red"][1, 1]) == 40


def test_percentiles_and_clear_counts_ignore_what_is_not_clear() -> None:
    rng = np.random.default_rng(3)
    times = pd.date_range("2021-03-01", "2021-08-31", freq="5D")
    values = rng.random((len(times), 6, 8)).astype("float32")
    clear = rng.random(values.shape) > 0.3
    clear[times.month == 4, 0, 0] = False
    stack = xr.Dataset({"nir": _stack(values, times)})
    seasons = percentile_composite(stack, _stack(clear, times), "season").compute()
    counts = clear_count(_stack(clear, times), "season").compute()
    spring = (times.month >= 3) & (times.month <= 5)
    expected = np.nanpercentile(np.where(clear[spring], values[spring], np.nan), [10, 50, 90], axis=0)
    got = seasons["nir"].sel(time="2021-03-01").transpose("quantile", ...).values
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert (counts.sel(time="2021-03-01").values == clear[spring].sum(axis=0)).all()
    assert counts.dtype == np.uint16
    gap = clear_count(_stack(clear[[0, -1]], times[[0, -1]]), "month").compute()  # March, then August
    assert gap.sizes["time"] == 6 and (gap.sel(time="2021-05-01").values == 0).all()
    with pytest.raises(ValueError, match="period"):
        clear_count(_stack(clear, times), "fortnight")


def test_anomalies_and_vci_against_the_same_month_of_the_baseline_years() -> None:
    times = pd.DatetimeIndex([f"{y}-07-01" for y in range(2016, 2022)])
    july = np.array([0.40, 0.50, 0.60, 0.50, 0.50, 0.30], dtype="float32")[:, None, None] * np.ones((6, 1, 2))
    series = _stack(july.astype("float32"), times)
    baseline = monthly_baseline(series, years=(2016, 2020)).compute()
    assert float(baseline["median"].sel(month=7)[0, 0]) == pytest.approx(0.5)
    out = anomalies(series.sel(time="2021"), baseline).compute()
    assert float(out["pct_of_median"][0, 0, 0]) == pytest.approx(60.0, rel=1e-5)
    assert float(out["vci"][0, 0, 0]) == pytest.approx(-50.0, rel=1e-5)  # below the baseline minimum
    sd = float(np.std([0.4, 0.5, 0.6, 0.5, 0.5], ddof=1))
    assert float(out["zscore"][0, 0, 0]) == pytest.approx((0.3 - 0.5) / sd, rel=1e-4)
    too_short = anomalies(series.sel(time="2021"), monthly_baseline(series, years=(2016, 2017)), min_years=3)
    assert np.isnan(too_short["zscore"].values).all()
    with pytest.raises(ValueError, match="baseline years"):
        monthly_baseline(series, years=(2020, 2016))


def test_theil_sen_slopes_and_mann_kendall_agree_with_scipy() -> None:
    rng = np.random.default_rng(7)
    times = pd.DatetimeIndex([f"{y}-07-15" for y in range(2000, 2020)])
    trend = np.linspace(0, -0.02 * 19, 20)[:, None, None]  # degradation: -0.02 NDVI per year
    values = (0.6 + trend + rng.normal(0, 0.03, (20, 4, 5))).astype("float32")
    values[[2, 7], 1, 1] = np.nan
    values[:, 3, 4] = 0.6 + rng.normal(0, 0.03, 20)  # no trend
    values[3:, 0, 4] = np.nan  # 3 observations: the minimum
    values[2:, 0, 3] = np.nan  # 2 observations: too few
    out = theil_sen_trend(_stack(values, times)).compute()
    years = np.array([t.year + (t.dayofyear - 1) / (366 if t.is_leap_year else 365) for t in times])
    for r, c in [(0, 0), (1, 1), (3, 4), (0, 4)]:
        y = values[:, r, c].astype("float64")
        ok = np.isfinite(y)
        assert float(out["slope_per_year"][r, c]) == pytest.approx(
            stats.theilslopes(y[ok], years[ok]).slope, abs=1e-6
        )
        n = ok.sum()
        s = stats.kendalltau(years[ok], y[ok]).statistic * n * (n - 1) / 2
        z = (s - np.sign(s)) / np.sqrt(n * (n - 1) * (2 * n + 5) / 18)
        assert float(out["p_value"][r, c]) == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-4)
    assert float(out["p_value"][0, 0]) < 0.001 and float(out["p_value"][3, 4]) > 0.05
    assert np.isnan(float(out["slope_per_year"][0, 3]))


def test_dnbr_severity_classes_follow_the_breaks_and_sum_to_areas() -> None:
    pre = xr.DataArray(np.array([[0.5, 0.5, 0.5, 0.5, 0.5, np.nan]], dtype="float32"), dims=("y", "x"))
    post = xr.DataArray(np.array([[0.45, 0.35, 0.20, 0.0, -0.5, 0.1]], dtype="float32"), dims=("y", "x"))
    change = dnbr(pre, post)
    classes = burn_severity(change.chunk({"x": 2}))
    assert classes.values.tolist() == [[0, 1, 2, 3, 4, 255]]  # dNBR 0.05 0.15 0.30 0.50 1.0 NaN
    on_breaks = xr.DataArray(np.array([0.0999, 0.10, 0.27, 0.44, 0.66], dtype="float32"))
    assert burn_severity(on_breaks).values.tolist() == [0, 1, 2, 3, 4]  # a break belongs to the class above
    steppe = burn_severity(change, breaks=(0.05, 0.2, 0.35, 0.6))
    assert steppe.values.tolist() == [[1, 1, 2, 3, 4, 255]]
    areas = class_areas_km2(classes, pixel_area_m2=100.0)
    assert areas == {"unburned": 1e-4, "low": 1e-4, "moderate-low": 1e-4, "moderate-high": 1e-4, "high": 1e-4}
    with pytest.raises(ValueError, match="burn breaks"):
        burn_severity(change, breaks=(0.3, 0.2, 0.4, 0.6))


def test_snow_duration_holds_each_clear_state_to_the_midpoints() -> None:
    times = pd.Timestamp("2020-11-01") + pd.to_timedelta([10, 20, 40, 80], "D")
    snow = np.array([[1, 1, 1, 0], [1, 1, 1, 1], [0, 1, 1, 0]], dtype=bool)[..., None].transpose(1, 0, 2)
    clear = np.array([[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)[..., None].transpose(1, 0, 2)
    days = snow_duration_days(_stack(snow, times), _stack(clear, times), "2020-11-01", "2021-02-09").compute()
    # pixel 0: clear on days 10, 40, 80 -> held [0, 25), [25, 60), [60, 100): snow 25 + 35
    # pixel 2: every date clear -> [0, 15) [15, 30) [30, 60) [60, 100): snow 15 + 30
    np.testing.assert_allclose(days.values[:, 0], [60.0, np.nan, 45.0])


def _series(pid: str, ndvi: list[float], clear: float = 1.0) -> pd.DataFrame:
    dates = pd.date_range("2022-04-01", periods=len(ndvi), freq="16D")
    return pd.DataFrame({"parcel_id": pid, "date": dates, "ndvi_median": ndvi, "clear_fraction": clear})


def test_the_parcel_rule_labels_each_kind_of_season_with_its_evidence() -> None:
    observations = pd.concat([
        _series("crop", [0.15, 0.20, 0.45, 0.75, 0.80, 0.60, 0.20, 0.15]),
        _series("meadow", [0.55, 0.60, 0.70, 0.72, 0.68, 0.65, 0.60, 0.58]),
        _series("fallow", [0.12, 0.14, 0.18, 0.22, 0.20, 0.16, 0.13, 0.12]),
        _series("cloudy", [0.15, 0.20, 0.45, 0.75, 0.80, 0.60, 0.20, 0.15], clear=0.3),
    ])  # fmt: skip
    labelled = classify_parcels(season_statistics(observations))
    assert labelled["label"].to_dict() == {
        "cloudy": "uncertain", "crop": "cultivated", "fallow": "not_used", "meadow": "grassland"
    }  # fmt: skip
    crop = labelled.loc["crop"]
    assert crop["max_ndvi"] == pytest.approx(0.80) and crop["amplitude"] == pytest.approx(0.65)
    # half amplitude 0.475 is crossed between 3 May (0.45) and 19 May (0.75): 1/12 of 16 days later
    assert abs(crop["green_up_date"] - pd.Timestamp("2022-05-04 08:00")) < pd.Timedelta(seconds=1)
    assert pd.Timestamp("2022-06-19") < crop["harvest_date"] < pd.Timestamp("2022-07-05")
    assert crop["bare_soil_fraction"] == pytest.approx(4 / 8)  # 0.15 0.20 ... 0.20 0.15 below 0.25
    assert "amplitude 0.65" in crop["evidence"] and "0 clear dates < 4" in labelled.loc["cloudy", "evidence"]
    assert labelled.loc["fallow", "rule_green_min_ndvi"] == ParcelRule().green_min_ndvi
    with pytest.raises(ValueError, match="bare_max_ndvi"):
        ParcelRule(bare_max_ndvi=0.5, green_min_ndvi=0.4)
