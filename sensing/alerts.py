"""Early warning: a water body's area against its same-month baseline from earlier years.

Only usable observations (quality ``ok``) are judged and used as baseline. An observation is an
alert when its area falls outside the baseline's percentiles (``low``: below, ``high``: above) and
its z-score says the same by at least ``alerts.min_z``, so a narrow baseline cannot raise alerts on
noise. Alerts are upserted into ``tables/alerts.parquet`` (+ CSV) and, where configured, POSTed as
JSON to a webhook.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import requests

from sensing.config import AlertConfig
from sensing.models import WaterBodyArea

__all__ = ["ALERT_KEY", "Alert", "alert_rows", "evaluate_alerts", "post_alerts", "post_json"]

ALERT_KEY = ["water_body", "date", "sensor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    """One observation that departs from its water body's normal for the month."""

    water_body: str
    date: str
    sensor: str
    kind: str
    """``low`` (less water than normal) or ``high`` (more: flooding, or a filling reservoir)."""
    water_km2: float
    baseline_median_km2: float
    baseline_low_km2: float
    baseline_high_km2: float
    z_score: float
    percent_of_median: float
    baseline_years: int
    scene_id: str


def evaluate_alerts(
    table: pd.DataFrame, observations: Iterable[WaterBodyArea], cfg: AlertConfig
) -> list[Alert]:
    """Alerts among ``observations`` against the usable rows of ``table`` in the same calendar month of
    other years, for the same water body and sensor."""
    history = table[table.usable.astype(bool)].copy()
    history["when"] = pd.to_datetime(history.date)
    alerts = []
    for obs in observations:
        if not obs.usable:
            continue
        same = history[
            (history.water_body == obs.water_body) & (history.sensor == obs.sensor)
            & (history.when.dt.month == obs.date.month) & (history.when.dt.year != obs.date.year)
        ]  # fmt: skip
        if same.when.dt.year.nunique() < cfg.min_baseline_years:
            continue
        areas = same.water_km2.to_numpy(dtype=float)
        low, high = np.percentile(areas, [cfg.low_percentile, cfg.high_percentile])
        median, spread = float(np.median(areas)), float(np.std(areas, ddof=1))
        z = (obs.water_km2 - float(np.mean(areas))) / spread if spread > 0 else 0.0
        kind = (
            "low"
            if obs.water_km2 < low and z <= -cfg.min_z
            else "high"
            if obs.water_km2 > high and z >= cfg.min_z
            else ""
        )
        if kind:
            alerts.append(
                Alert(
                    obs.water_body, obs.date.isoformat(), obs.sensor, kind, obs.water_km2, round(median, 4),
                    round(float(low), 4), round(float(high), 4), round(z, 2),
                    round(100 * obs.water_km2 / median, 1) if median else float("nan"),
                    int(same.when.dt.year.nunique()), obs.scene_id,
                )
            )  # fmt: skip
    return alerts


def post_alerts(alerts: list[Alert], url: str, *, context: dict[str, object], timeout_s: float = 10) -> str:
    """POST the alerts as JSON to ``url`` (3 attempts); return ``sent`` or why not, never raise."""
    return post_json(url, {"alerts": [dataclasses.asdict(a) for a in alerts], **context}, timeout_s=timeout_s)


def post_json(url: str, body: dict[str, object], *, timeout_s: float = 10) -> str:
    """POST ``body`` as JSON to a webhook (3 attempts on errors and 5xx); ``sent`` or why not, never raise."""
    for attempt in range(3):
        try:
            response = requests.post(url, data=json.dumps(body, default=str), timeout=timeout_s,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
            if response.status_code < 500:
                response.raise_for_status()
                return "sent"
            reason = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            reason = f"{type(exc).__name__}: {exc}"
        log.warning("webhook %s attempt %d failed: %s", url, attempt + 1, reason)
    return f"not sent: {reason}"


def alert_rows(alerts: list[Alert], at: dt.datetime) -> pd.DataFrame:
    """The alerts as table rows, stamped with when they were raised."""
    frame = pd.DataFrame(
        [dataclasses.asdict(a) for a in alerts], columns=[f.name for f in dataclasses.fields(Alert)]
    )
    frame["raised_at"] = at.isoformat(timespec="seconds")
    return frame
