"""Bounded memory: peak RSS per Dask worker versus scene size, the workers under a memory limit.

Usage: python bench/memory.py [--sizes 2745,5490,10980] [--workers 2] [--memory-limit 700MB]
       [--out bench/results/memory.json]

The W1 inputs (``tile-SIZE``: 1/16, 1/4 and 1 Sentinel-2 tile, so 1x, 4x and 16x the pixels), ours
through the library (bench/w1/sensing_library.py, the four W1 products of one date) on an external
cluster: a real ``dask scheduler`` and WORKERS ``dask worker`` processes (one thread, the memory
limit each) on 127.0.0.1. Every 0.1 s the RSS of each worker process, of the scheduler and of the
client (the process that builds the graphs and writes the COG copies) is sampled. The scene's size is
its bands decoded onto the output grid (uint16) and, as float32, the arrays the products are computed
from.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import w1

from tests.servers import WorkerMemory, dask_processes

BANDS_LOADED = 6  # B03 B04 B08 B11 B12 SCL on the grid
FLOAT_ARRAYS = 8  # reflectances of four bands, three indices and the water evidence


def run(size: int, workers: int, limit: str, client_profile: Path | None = None) -> dict[str, Any]:
    archive = w1.ensure_archive(size)
    item = w1.first_item(archive)
    folder = w1._fresh(w1.BENCH / f"tile-{size}" / "runs" / "memory")
    config = w1.write_config(folder, archive, item)
    date = item["properties"]["datetime"][:10]
    with tempfile.TemporaryDirectory() as logs, dask_processes(workers, limit, Path(logs)) as cluster:
        doc = yaml.safe_load(config.read_text())
        doc["dask"]["address"] = cluster.address
        config.write_text(yaml.safe_dump(doc))
        started = time.perf_counter()
        traced = (
            [w1.PY, "-m", "memray", "run", "-q", "--native", "--force", "-o", str(client_profile)]
            if client_profile
            else [w1.PY]
        )
        client = subprocess.Popen(
            [*traced, "bench/w1/sensing_library.py", "--config", str(config), "--aoi", w1.AOI,
             "--start", date, "--end", date], cwd=w1.ROOT,
        )  # fmt: skip
        others = {"scheduler": cluster.scheduler.pid, "client": client.pid}
        with WorkerMemory(cluster.workers, others) as memory:
            returncode = client.wait()
        wall = time.perf_counter() - started
    pixels = size * size
    return {
        "pixels": pixels,
        "scene_uint16_mb": round(pixels * BANDS_LOADED * 2 / 2**20, 1),
        "scene_float32_mb": round(pixels * FLOAT_ARRAYS * 4 / 2**20, 1),
        "worker_peak_rss_mb": [round(p, 1) for p in memory.peaks_mb],
        "worker_restarts": memory.restarts,
        "scheduler_peak_rss_mb": round(memory.other_peaks_mb["scheduler"], 1),
        "client_peak_rss_mb": round(memory.other_peaks_mb["client"], 1),
        "wall_s": round(wall, 2),
        "returncode": returncode,
        "outputs_valid_cog": w1._validate(w1._published(folder))["outputs_valid_cog"],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2745,5490,10980")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="700MB")
    parser.add_argument("--out", type=Path, default=w1.ROOT / "bench" / "results" / "memory.json")
    parser.add_argument(
        "--client-profile", action="store_true",
        help="Trace the client's allocations with memray (build/bench/memory-client-SIZE.bin; read it with "
        "`memray tree` or `memray flamegraph`, which show the allocations live at the peak).",
    )  # fmt: skip
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    traces = {size: w1.BENCH / f"memory-client-{size}.bin" if args.client_profile else None for size in sizes}
    runs = {str(size): run(size, args.workers, args.memory_limit, traces[size]) for size in sizes}
    first = runs[str(sizes[0])]
    doc = {
        "workload": "memory",
        "input": {
            "sizes_px": sizes,
            "workers": args.workers,
            "memory_limit": args.memory_limit,
            "threads_per_worker": 1,
        },
        "machine": w1.machine(),
        "runs": runs,
        "peak_worker_rss_growth": round(
            max(runs[str(sizes[-1])]["worker_peak_rss_mb"]) / max(first["worker_peak_rss_mb"]) - 1, 3
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2))
    print(json.dumps(doc, indent=2))
    return 0 if all(r["returncode"] == 0 for r in runs.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
