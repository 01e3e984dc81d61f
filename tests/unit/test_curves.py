"""Area-level-volume curves: interpolation, no extrapolation, checks; the demo's curve is its bathymetry."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sensing.curves import read_curve
from sensing.demo.landscape import reservoir_curve
from sensing.errors import ConfigError
from tests.conftest import ROOT

DEMO_CURVE = ROOT / "configs" / "water_bodies" / "curves" / "kapchagay_demo.csv"


def test_area_to_level_and_volume_interpolates_and_never_extrapolates(tmp_path: Path) -> None:
    path = tmp_path / "curve.csv"
    pd.DataFrame(
        {"level_m": [480.0, 482.0, 484.0], "area_km2": [100.0, 200.0, 250.0], "volume_mcm": [0, 300, 750]}
    ).to_csv(path, index=False)
    curve = read_curve(path)
    assert curve.at_area(150.0) == (481.0, 150.0)
    assert curve.at_area(225.0) == (483.0, 525.0)
    assert all(math.isnan(v) for v in curve.at_area(260.0)) and all(
        math.isnan(v) for v in curve.at_area(float("nan"))
    )


def test_curves_that_cannot_be_inverted_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "curve.csv"
    pd.DataFrame({"level_m": [480.0, 482.0, 484.0], "area_km2": [100.0, 90.0, 250.0]}).to_csv(
        path, index=False
    )
    with pytest.raises(ConfigError, match="area_km2 must increase"):
        read_curve(path)
    pd.DataFrame({"height": [1.0], "area_km2": [1.0]}).to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"lacks column\(s\) \['level_m'\]"):
        read_curve(path)


def test_the_demo_curve_is_the_simulated_bathymetry() -> None:
    committed = pd.read_csv(DEMO_CURVE)
    recomputed = pd.DataFrame(
        reservoir_curve((669000, 4845000, 699000, 4875000), 30.0, committed.level_m.to_numpy() - 485.0)
    )
    assert np.allclose(committed.area_km2, recomputed.area_km2, rtol=0.01)
    assert np.allclose(committed.volume_mcm, recomputed.volume_mcm, rtol=0.01)
