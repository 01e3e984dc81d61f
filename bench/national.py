"""The national-scale cost model: a nightly Sentinel-2 run over all of Kazakhstan at 10 m, derived from
the per-chunk costs measured by W1 (bench/results/w1.json) and the worker memory (memory.json).

Usage: python bench/national.py [--results bench/results] [--out bench/results/national.json]

Prints the model as a markdown table (docs/national-scale.md explains each assumption).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

KAZAKHSTAN_KM2 = 2_724_900
PX_PER_KM2 = 10_000  # 10 m pixels
NIGHTLY_FRACTION = 0.4
"""Share of the country acquired per night: the Sentinel-2 pair's 5-day revisit at the equator, about
doubled by the overlap of adjacent orbits at 41-55 deg N."""
CHUNK_PX = 1024 * 1024
PU_PX = 512 * 512  # one processing unit: 512 x 512 px, 3 bands, 16-bit
PU_BANDS = 5  # B03 B04 B08 B11 SCL
SH_REQUEST_PX = 2500 * 2500  # Sentinel Hub's largest request
SH_FREE_PU_MONTH = 10_000
WINDOW_H = 4  # the night's window: 01:30-05:30 Asia/Almaty
CORES_PER_NODE = 16


def model(w1: dict[str, Any], memory: dict[str, Any] | None) -> dict[str, Any]:
    ours = w1["contenders"]["sensing_library"]
    tile_px = w1["input"]["size_px"] ** 2
    cpu_s_per_mpx = ours["cpu_s"] / (tile_px / 1e6)
    in_b_per_px = w1["input"]["input_mb"] * 2**20 / tile_px
    out_b_per_px = ours["output_mb"] * 2**20 / tile_px
    coverage_px = KAZAKHSTAN_KM2 * PX_PER_KM2
    night_px = coverage_px * NIGHTLY_FRACTION
    night_cpu_h = night_px / 1e6 * cpu_s_per_mpx / 3600
    pu_coverage = coverage_px / PU_PX * PU_BANDS / 3
    worker_mb = max(max(r["worker_peak_rss_mb"]) for r in memory["runs"].values()) if memory else None
    return {
        "workload": "national",
        "measured": {
            "cpu_s_per_mpx": round(cpu_s_per_mpx, 3),
            "cpu_s_per_1024_chunk": round(cpu_s_per_mpx * CHUNK_PX / 1e6, 3),
            "input_bytes_per_px": round(in_b_per_px, 2),
            "output_bytes_per_px": round(out_b_per_px, 2),
            "worker_peak_rss_mb": worker_mb,
            "from": "bench/results/w1.json (sensing_library, one full tile, 4 products), memory.json",
        },
        "coverage_mpx": round(coverage_px / 1e6),
        "coverage_chunks": math.ceil(coverage_px / CHUNK_PX),
        "night": {
            "mpx": round(night_px / 1e6),
            "cpu_hours": round(night_cpu_h, 1),
            "input_gb": round(night_px * in_b_per_px / 1e9, 1),
            "output_gb": round(night_px * out_b_per_px / 1e9, 1),
            "cores_for_window": math.ceil(night_cpu_h / WINDOW_H),
            "nodes_of_16_cores": math.ceil(night_cpu_h / WINDOW_H / CORES_PER_NODE),
            "input_mb_per_s_in_window": round(night_px * in_b_per_px / 1e6 / (WINDOW_H * 3600), 1),
        },
        "year": {
            "output_tb": round(night_px * out_b_per_px * 365 / 1e12, 1),
            "backfill_cpu_hours": round(night_cpu_h * 365),
        },
        "sentinel_hub": {
            "pu_per_coverage_3_bands": round(coverage_px / PU_PX),
            "pu_per_coverage": round(pu_coverage),
            "pu_per_night": round(pu_coverage * NIGHTLY_FRACTION),
            "pu_per_month": round(pu_coverage * NIGHTLY_FRACTION * 30),
            "requests_per_night": math.ceil(night_px / SH_REQUEST_PX),
            "free_quota_pu_month": SH_FREE_PU_MONTH,
            "times_free_quota": round(pu_coverage * NIGHTLY_FRACTION * 30 / SH_FREE_PU_MONTH),
        },
    }


def markdown(doc: dict[str, Any]) -> str:
    m, n, y, sh = doc["measured"], doc["night"], doc["year"], doc["sentinel_hub"]
    rows = [
        ("measured CPU per 1024 x 1024 chunk (4 products)", f"{m['cpu_s_per_1024_chunk']} CPU-s"),
        ("measured input / output per pixel", f"{m['input_bytes_per_px']} / {m['output_bytes_per_px']} B"),
        ("national coverage at 10 m", f"{doc['coverage_mpx']:,} Mpx ({doc['coverage_chunks']:,} chunks)"),
        ("a night (40 % of the country)", f"{n['mpx']:,} Mpx"),
        ("CPU per night", f"{n['cpu_hours']} CPU-hours"),
        ("read / written per night", f"{n['input_gb']} GB / {n['output_gb']} GB"),
        (f"cores to finish in {WINDOW_H} h", f"{n['cores_for_window']} ({n['nodes_of_16_cores']} x 16-core node)"),
        ("input rate in the window", f"{n['input_mb_per_s_in_window']} MB/s"),
        ("outputs per year (every night kept)", f"{y['output_tb']} TB"),
        ("a year's backfill", f"{y['backfill_cpu_hours']:,} CPU-hours"),
        ("Sentinel Hub PU per coverage (3 bands / 5 bands)",
         f"{sh['pu_per_coverage_3_bands']:,} / {sh['pu_per_coverage']:,}"),
        ("Sentinel Hub PU per month of nights", f"{sh['pu_per_month']:,} ({sh['times_free_quota']}x the free 10,000)"),
        ("Sentinel Hub requests per night (2500 px)", f"{sh['requests_per_night']:,}"),
    ]  # fmt: skip
    return "\n".join(["| quantity | value |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "national.json")
    args = parser.parse_args()
    w1 = json.loads((args.results / "w1.json").read_text())
    memory_path = args.results / "memory.json"
    memory = json.loads(memory_path.read_text()) if memory_path.exists() else None
    doc = model(w1, memory)
    args.out.write_text(json.dumps(doc, indent=2))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
