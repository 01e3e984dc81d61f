"""The run summary: a markdown artifact for Prefect and a JSON report on disk."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from sensing.alerts import Alert
from sensing.models import SceneResult

__all__ = ["number_cell", "run_summary", "summary_markdown"]


def run_summary(
    name: str, results: list[SceneResult], outputs: Path, table: pd.DataFrame, alerts: list[Alert]
) -> dict[str, Any]:
    """Counts per status, failures with reasons, this run's areas and alerts, where the outputs are."""
    counts = Counter(r.status for r in results)
    return {
        "alerts": [dataclasses.asdict(a) for a in alerts],
        "flow": name,
        "scenes": {s: counts.get(s, 0) for s in ("processed", "skipped", "failed")},
        "failed": [{"scene": r.scene_id, "reason": r.reason} for r in results if r.status == "failed"],
        "areas": [dataclasses.asdict(a) | {"date": a.date.isoformat()} for r in results for a in r.areas],
        "changes": water_body_changes(results, table),
        "layers": [str(outputs / layer.href) for r in results for layer in r.layers],
        "table_rows": len(table),
        "outputs": str(outputs),
    }


def water_body_changes(results: list[SceneResult], table: pd.DataFrame) -> list[dict[str, Any]]:
    """Per water body and sensor measured in this run: the area of its latest date in the run against
    the usable observation before it in the series (nothing where either is missing or not usable)."""
    latest: dict[tuple[str, str], str] = {}
    for area in (a for r in results for a in r.areas):
        key = (area.water_body, area.sensor)
        latest[key] = max(latest.get(key, ""), area.date.isoformat())
    if table.empty or not latest:
        return []
    usable = table[table.usable.astype(bool)].sort_values("date")
    changes = []
    for (body, sensor), day in sorted(latest.items()):
        series = usable[(usable.water_body == body) & (usable.sensor == sensor) & (usable.date <= day)]
        if len(series) < 2 or series.date.iloc[-1] != day:
            continue
        before, now = series.iloc[-2], series.iloc[-1]
        changes.append({
            "water_body": body, "sensor": sensor, "date": day, "water_km2": round(now.water_km2, 3),
            "previous_date": before.date, "previous_km2": round(before.water_km2, 3),
            "change_km2": round(now.water_km2 - before.water_km2, 3),
            "change_pct": round(100 * (now.water_km2 - before.water_km2) / before.water_km2, 2),
        })  # fmt: skip
    return changes


def summary_markdown(summary: dict[str, Any], table: pd.DataFrame) -> str:
    """Markdown for the Prefect artifact: counts, failures, the water-area series."""
    s = summary["scenes"]
    lines = [
        f"# {summary['flow']} run",
        "",
        f"Scenes: **{s['processed']} processed**, {s['skipped']} skipped, {s['failed']} failed.",
        f"Outputs: `{summary['outputs']}`",
        "",
    ]
    if summary["alerts"]:
        lines += [
            "## Alerts",
            "",
            "| water body | date | sensor | kind | area | baseline median | z |",
            "|---|---|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| {a['water_body']} | {a['date']} | {a['sensor']} | **{a['kind']}** | {a['water_km2']:.2f} "
            f"| {a['baseline_median_km2']:.2f} | {a['z_score']:.1f} |"
            for a in summary["alerts"]
        ] + [""]
    if summary["changes"]:
        lines += [
            "## Water-body changes",
            "",
            "| water body | date | km² | since | km² then | change |",
            "|---|---|---:|---|---:|---:|",
        ]
        lines += [
            f"| {c['water_body']} | {c['date']} | {c['water_km2']:.2f} | {c['previous_date']} "
            f"| {c['previous_km2']:.2f} | {c['change_pct']:+.1f} % |"
            for c in summary["changes"]
        ] + [""]
    if summary["failed"]:
        lines += ["## Failed scenes", "", "| scene | reason |", "|---|---|"]
        lines += [f"| {f['scene']} | {f['reason']} |" for f in summary["failed"]] + [""]
    if not table.empty:
        lines += [
            "## Water area (km²)",
            "",
            "| water body | date | sensor | water | ice | observed | quality | method |",
        ]
        lines += ["|---|---|---|---:|---:|---:|---|---|"]
        for row in table.itertuples():
            lines.append(
                f"| {row.water_body} | {row.date} | {row.sensor} | {number_cell(row.water_km2)} "
                f"| {number_cell(row.ice_km2)} | {number_cell(row.valid_fraction, '.0%')} | {row.quality} "
                f"| {row.method} |"
            )
    return "\n".join(lines) + "\n"


def number_cell(value: float | None, form: str = ".2f") -> str:
    """A table cell: ``value`` in ``form``, or "-" for none (a failed observation measured nothing)."""
    return "-" if value is None or pd.isna(value) else format(value, form)
