"""Cross-sensor checks on the water-area series: radar cannot tell lake ice from open water (both can
be bright or dark depending on wind and ice type), so a Sentinel-1 observation is not used as an area
(column ``ice_from`` says why) when

- an optical look of the same water body within a week saw it frozen, or, failing that,
- the water body's optical history calls its calendar month frozen: most of the decidable optical
  looks (``ok`` or ``frozen``) in that month were frozen, in at least two different years. A long
  cloudy winter leaves radar as the only look; the lake's own history says whether it is ice-bound.
"""

from __future__ import annotations

import calendar

import pandas as pd

__all__ = ["ICE_WINDOW_DAYS", "MIN_FROZEN_YEARS", "RADAR_SENSORS", "flag_radar_ice"]

ICE_WINDOW_DAYS = 7
"""An optical look this close (days) to a radar one vouches for the ice."""
MIN_FROZEN_YEARS = 2
"""Years with a frozen optical look in a month before the month counts as frozen."""
RADAR_SENSORS = ("sentinel-1",)


def flag_radar_ice(table: pd.DataFrame, days: int = ICE_WINDOW_DAYS) -> pd.DataFrame:
    """The series with ``ice_from`` set on radar rows that an optical row of the same water body within
    ``days`` saw frozen, or that fall in a month the body's optical history calls frozen (those rows
    unusable); recomputed from scratch each time."""
    table = table.copy()
    table["ice_from"] = ""
    radar = table.sensor.isin(RADAR_SENSORS)
    if not radar.any():
        return table
    when = pd.to_datetime(table.date)
    for row in table[~radar & (table.quality == "frozen")].itertuples():
        near = (
            radar
            & (table.water_body == row.water_body)
            & ((when - pd.Timestamp(str(row.date))).abs().dt.days <= days)
        )
        table.loc[near & (table.ice_from == ""), "ice_from"] = f"{row.sensor} {row.date}"
    months = _frozen_months(table[~radar], when[~radar])
    for i in table.index[radar & (table.ice_from == "")]:
        reason = months.get((str(table.at[i, "water_body"]), int(when[i].month)))
        if reason:
            table.at[i, "ice_from"] = reason
    table.loc[table.ice_from != "", "usable"] = False
    return table


def _frozen_months(optical: pd.DataFrame, when: pd.Series) -> dict[tuple[str, int], str]:
    """(water body, month) -> reason, for the months its decidable optical looks mostly saw frozen
    in at least :data:`MIN_FROZEN_YEARS` years."""
    decidable = optical.quality.isin(["ok", "frozen"])
    looks = pd.DataFrame(
        {
            "water_body": optical.water_body[decidable],
            "month": when[decidable].dt.month,
            "year": when[decidable].dt.year,
            "frozen": optical.quality[decidable] == "frozen",
        }
    )
    reasons = {}
    for key, group in looks.groupby(["water_body", "month"]):
        body, month = str(key[0]), int(str(key[1]))
        years = sorted(group.year[group.frozen].unique())
        if group.frozen.mean() > 0.5 and len(years) >= MIN_FROZEN_YEARS:
            reasons[(body, month)] = (
                f"frozen in {calendar.month_abbr[month]} ({group.frozen.sum()} of {len(group)} "
                f"optical looks, {', '.join(map(str, years))})"
            )
    return reasons
