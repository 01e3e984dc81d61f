"""Season statistics of a parcel's NDVI series and the rule that says whether the land is worked.

Input: one row per parcel and date (``parcel_id``, ``date``, ``ndvi_median``, ``clear_fraction``), as
:func:`sensing.parcels.parcel_observations` writes it. A date counts for a parcel when at least
``min_clear_fraction`` of its area was clear. Pure pandas, no I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

__all__ = ["LABELS", "ParcelRule", "classify_parcels", "season_statistics"]

LABELS = ("cultivated", "grassland", "not_used", "uncertain")
"""Parcel labels: worked cropland, green land without a bare phase (pasture, meadow, also woody
cover), land that never greens up, and too few clear observations to say."""


@dataclass(frozen=True)
class ParcelRule:
    """Thresholds of the parcel rule (docs/land.md explains each)."""

    min_clear_fraction: float = 0.5
    """A date counts for a parcel when at least this share of its area is clear."""
    min_clear_observations: int = 4
    """Fewer counted dates in the season: ``uncertain``."""
    green_min_ndvi: float = 0.35
    """Season maximum below this: ``not_used`` (never green)."""
    bare_max_ndvi: float = 0.25
    """A counted date with the parcel's median NDVI below this is bare soil."""
    cultivated_min_amplitude: float = 0.3
    """Cultivated needs a season amplitude (max - min NDVI) of at least this, and a bare date."""

    def __post_init__(self) -> None:
        if not 0 < self.min_clear_fraction <= 1:
            raise ValueError(f"parcel rule min_clear_fraction: {self.min_clear_fraction} is not in (0, 1]")
        if self.min_clear_observations < 1:
            raise ValueError(f"parcel rule min_clear_observations: {self.min_clear_observations} is below 1")
        if not self.bare_max_ndvi < self.green_min_ndvi:
            raise ValueError(
                f"parcel rule: bare_max_ndvi {self.bare_max_ndvi} must be below green_min_ndvi {self.green_min_ndvi}"
            )


def _crossing(dates: pd.Series, values: pd.Series, level: float) -> pd.Timestamp | None:
    """Date where the series first reaches ``level`` from below, linearly interpolated between the
    observation before and the one at/after; None where it starts at or above it."""
    above = (values >= level).to_numpy()
    first = int(np.argmax(above)) if above.any() else -1
    if first <= 0:
        return None
    t0, t1 = dates.iloc[first - 1], dates.iloc[first]
    v0, v1 = values.iloc[first - 1], values.iloc[first]
    return pd.Timestamp(t0 + (t1 - t0) * ((level - v0) / (v1 - v0)))


def _one_parcel(obs: pd.DataFrame, rule: ParcelRule) -> dict[str, object]:
    counted = obs[(obs["clear_fraction"] >= rule.min_clear_fraction) & obs["ndvi_median"].notna()]
    counted = counted.sort_values("date")
    row: dict[str, object] = {"n_dates": len(obs), "n_clear": len(counted)}
    if counted.empty:
        return row
    ndvi, dates = counted["ndvi_median"].reset_index(drop=True), counted["date"].reset_index(drop=True)
    peak = int(ndvi.to_numpy().argmax())
    low, high = float(ndvi.min()), float(ndvi.iloc[peak])
    half = low + 0.5 * (high - low)
    green_up = _crossing(dates.iloc[: peak + 1], ndvi.iloc[: peak + 1], half)
    # harvest: the same level crossed downwards after the peak (the mirrored series crossed upwards)
    harvest = _crossing(dates.iloc[peak:], -ndvi.iloc[peak:], -half) if high > low else None
    row.update(
        max_ndvi=high, max_ndvi_date=dates.iloc[peak], min_ndvi=low, amplitude=high - low,
        green_up_date=green_up, harvest_date=harvest,
        bare_soil_fraction=float((ndvi < rule.bare_max_ndvi).mean()),
    )  # fmt: skip
    return row


def season_statistics(observations: pd.DataFrame, rule: ParcelRule | None = None) -> pd.DataFrame:
    """Per parcel over the observations given (one season): counted dates, max NDVI and its date, min,
    amplitude, green-up and harvest dates (half-amplitude crossings) and the bare-soil fraction."""
    rule = rule or ParcelRule()
    rows = {pid: _one_parcel(obs, rule) for pid, obs in observations.groupby("parcel_id", sort=True)}
    columns = ["n_dates", "n_clear", "max_ndvi", "max_ndvi_date", "min_ndvi", "amplitude",
               "green_up_date", "harvest_date", "bare_soil_fraction"]  # fmt: skip
    frame = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns)
    frame.index.name = "parcel_id"
    for column in ("max_ndvi_date", "green_up_date", "harvest_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def _label(stats: pd.Series, rule: ParcelRule) -> tuple[str, str]:
    if stats["n_clear"] < rule.min_clear_observations:
        return "uncertain", f"{stats['n_clear']} clear dates < {rule.min_clear_observations}"
    peak, amplitude, bare = stats["max_ndvi"], stats["amplitude"], stats["bare_soil_fraction"]
    if peak < rule.green_min_ndvi:
        return "not_used", f"max NDVI {peak:.2f} < {rule.green_min_ndvi}: never green"
    if amplitude >= rule.cultivated_min_amplitude and bare > 0:
        return "cultivated", (
            f"NDVI {stats['min_ndvi']:.2f} -> {peak:.2f} (amplitude {amplitude:.2f}), "
            f"bare on {bare:.0%} of {stats['n_clear']} clear dates"
        )
    reason = "no bare date" if bare == 0 else f"amplitude {amplitude:.2f} < {rule.cultivated_min_amplitude}"
    return "grassland", f"green (max NDVI {peak:.2f}), {reason}"


def classify_parcels(stats: pd.DataFrame, rule: ParcelRule | None = None) -> pd.DataFrame:
    """``stats`` with ``label`` (one of :data:`LABELS`) and ``evidence`` (the numbers that decided it),
    plus the rule's thresholds as ``rule_*`` columns so the table explains itself."""
    rule = rule or ParcelRule()
    labelled = stats.copy()
    decided = [_label(row, rule) for _, row in stats.iterrows()]
    labelled["label"] = [label for label, _ in decided]
    labelled["evidence"] = [evidence for _, evidence in decided]
    for name, value in asdict(rule).items():
        labelled[f"rule_{name}"] = value
    return labelled
