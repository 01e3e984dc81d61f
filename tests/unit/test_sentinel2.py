"""Sentinel-2 L2A harmonisation across processing baseline 04.00."""

from __future__ import annotations

import datetime as dt

import pytest

from sensing.sources.sentinel2 import l2a_offset, processing_baseline


@pytest.mark.parametrize(
    ("props", "date", "offset"),
    [
        ({"s2:processing_baseline": "03.01"}, dt.date(2021, 12, 1), 0.0),
        ({"s2:processing_baseline": "04.00"}, dt.date(2022, 2, 1), -0.1),
        ({"s2:processing_baseline": "05.09"}, dt.date(2023, 6, 1), -0.1),
        ({}, dt.date(2022, 1, 24), 0.0),
        ({}, dt.date(2022, 1, 25), -0.1),
        # The baseline wins over the date (reprocessed collections carry new baselines on old dates).
        ({"s2:processing_baseline": "05.00"}, dt.date(2019, 5, 1), -0.1),
    ],
)
def test_offset_follows_the_baseline(props: dict, date: dt.date, offset: float) -> None:
    scale, add = l2a_offset(props, date)
    assert scale == pytest.approx(1e-4) and add == pytest.approx(offset)


def test_baseline_falls_back_to_the_date() -> None:
    assert processing_baseline({}, dt.date(2021, 1, 1)) == "03.01"
