"""The markdown summary of every benchmark result: bench/results/*.json -> bench/results/summary.md.

Usage: python bench/summary.py [RESULTS_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import national

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("wall_s", "cpu_s", "peak_rss_mb")


def _table(contenders: dict[str, dict[str, Any]], fields: tuple[str, ...]) -> list[str]:
    rows = [f"| contender | {' | '.join(fields)} |", f"|---|{'---|' * len(fields)}"]
    for name, result in contenders.items():
        cells = [str(result.get(field, result.get("skipped", ""))) for field in fields]
        rows.append(f"| {name} | {' | '.join(cells)} |")
    return rows


def section(doc: dict[str, Any]) -> list[str]:
    """One workload's results as markdown."""
    workload = doc.get("workload", "?")
    lines = [f"## {workload}", ""]
    if "input" in doc:
        lines += [f"Input: `{json.dumps(doc['input'])}`", ""]
    contenders = doc.get("contenders", {})
    if workload == "w2":
        for name, by_size in contenders.items():
            lines += [f"### {name}", "", *_table({f"{s} px": r for s, r in by_size.items()}, FIELDS), ""]
        lines += [f"Time exponent (wall ~ pixels^k): {doc.get('time_exponent')}; peak RSS growth from "
                  f"1/4 tile to the largest: {doc.get('peak_rss_growth_from_quarter_tile')}", ""]  # fmt: skip
    elif workload in ("w4", "tiles"):
        fields = (
            "cold_tiles_per_s",
            "warm_tiles_per_s",
            "p99_ms_16_cold",
            "p99_ms_16_warm",
            "errors",
            "peak_rss_mb",
        )
        lines += [*_table(contenders, fields), ""]
    elif workload == "memory":
        fields = ("scene_uint16_mb", "scene_float32_mb", "worker_peak_rss_mb", "worker_restarts",
                  "scheduler_peak_rss_mb", "client_peak_rss_mb", "wall_s")  # fmt: skip
        lines += [*_table({f"{s} px": r for s, r in doc["runs"].items()}, fields), ""]
        lines += [
            f"Peak worker RSS growth from the smallest to the largest scene: {doc['peak_worker_rss_growth']}",
            "",
        ]
    elif workload == "national":
        lines += [national.markdown(doc), ""]
    elif contenders and all(isinstance(c, dict) for c in contenders.values()):
        fields = FIELDS + tuple(
            k for k in ("outputs_valid_cog", "area_error_pct") if any(k in c for c in contenders.values())
        )
        if not any(f in c for f in FIELDS for c in contenders.values()):  # a workload with its own measures
            fields = tuple(dict.fromkeys(k for c in contenders.values() for k in c))
        lines += [*_table(contenders, fields), ""]
    for key in (
        "ratios",
        "series_vs_library",
        "throughput_ratio_sensing_over_titiler",
        "prefect_server_startup_s",
        "targets",
    ):
        if key in doc:
            lines += [f"{key}: `{json.dumps(doc[key])}`", ""]
    return lines


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "results"
    lines = ["# Benchmark results", "", "Written by bench/summary.py from the JSON files beside it.", ""]
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text())
        if isinstance(doc, dict) and "workload" in doc:
            lines += section(doc)
    (folder / "summary.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
