"""Cross-sensor checks on the water-area series: radar cannot tell lake ice from open water (both can
be bright or dark depending on wind and ice type), so a Sentinel-1 observation near an optical one
that saw the water body frozen is not used as an area (column ``ice_from`` says which look)."""

from __future__ import annotations

import pandas as pd

__all__ = ["ICE_WINDOW_DAYS", "RADAR_SENSORS", "flag_radar_ice"]

ICE_WINDOW_DAYS = 7
"""An optical look this close (days) to a radar one vouches for the ice."""
RADAR_SENSORS = ("sentinel-1",)


def flag_radar_ice(table: pd.DataFrame, days: int = ICE_WINDOW_DAYS) -> pd.DataFrame:
    """The series with ``ice_from`` set on radar rows that an optical row of the same water body
    within ``days`` saw frozen (and those rows unusable); recomputed from scratch each time."""
    table = table.copy()
    table["ice_from"] = ""
    radar = table.sensor.isin(RADAR_SENSORS)
    frozen = table[~radar & (table.quality == "frozen")]
    if frozen.empty or not radar.any():
        return table
    when = pd.to_datetime(table.date)
    for row in frozen.itertuples():
        near = (
            radar
            & (table.water_body == row.water_body)
            & ((when - pd.Timestamp(str(row.date))).abs().dt.days <= days)
        )
        table.loc[near & (table.ice_from == ""), "ice_from"] = f"{row.sensor} {row.date}"
    table.loc[table.ice_from != "", "usable"] = False
    return table
