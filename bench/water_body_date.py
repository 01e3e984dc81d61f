"""Time per water-body-date, and area error against the truth, for each threshold method side by side.

Usage: python bench/water_body_date.py [OUT.json] [--resolution 30]
Builds a demo archive in a temporary folder, then processes every scene with each method (the same
call the flows make: classification, every product's COG, vectors, STAC items) and writes
bench/results/water_body_date.json: per method the wall seconds per scene and per water-body-date,
and the mean absolute percent error of clear-date areas against the archive's truth.
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("otsu", "canny-otsu")


def _config(folder: Path, resolution: float, method: str) -> Path:
    doc = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    doc |= {
        "data_dir": str(folder / "data"),
        "water_bodies": str(ROOT / "configs" / "water_bodies" / "demo.yaml"),
    }
    doc["aoi"]["resolution"] = resolution
    doc["demo"]["resolution"] = resolution
    doc["water"]["method"] = method
    doc["dask"] = {"address": "", "chunk": 512, "n_workers": 2}
    path = folder / f"{method}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def main() -> int:
    from sensing.cluster import dask_client
    from sensing.config import load_settings
    from sensing.demo.archive import write_archive
    from sensing.registry import load_water_bodies
    from sensing.sources import open_source
    from sensing.workflow import process_scene, scenes_for_period

    out = (
        Path(sys.argv[1])
        if len(sys.argv) > 1 and not sys.argv[1].startswith("--")
        else ROOT / "bench" / "results" / "water_body_date.json"
    )
    resolution = float(sys.argv[sys.argv.index("--resolution") + 1]) if "--resolution" in sys.argv else 30.0
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        first = load_settings(_config(folder, resolution, METHODS[0]))
        assert first.demo is not None
        bodies = load_water_bodies(first.water_bodies, first.hydrography)
        write_archive(first.aoi, first.demo, bodies)
        truth = pd.read_csv(first.demo.archive / "truth" / "areas.csv", dtype={"date": str})
        for method in METHODS:
            settings = load_settings(_config(folder, resolution, method))
            source = open_source(settings.source, settings.data_dir)
            scenes = scenes_for_period(
                settings, source, first.demo.start, first.demo.start.replace(year=first.demo.start.year + 2)
            )
            rows, seconds = [], []
            with dask_client(settings.dask):
                for scene in scenes:
                    started = time.perf_counter()
                    result = process_scene(settings, source, scene, bodies, force=True)
                    seconds.append(time.perf_counter() - started)
                    rows += [
                        {
                            "date": a.date.isoformat(),
                            "water_body": a.water_body,
                            "km2": a.water_km2,
                            "quality": a.quality,
                        }
                        for a in result.areas
                    ]
            merged = pd.DataFrame(rows).merge(truth, on=["date", "water_body"])
            clear = merged[merged.quality == "ok"]
            per_scene = sum(seconds) / len(seconds)
            results[method] = {
                "scenes": len(seconds),
                "wall_s_per_scene": round(per_scene, 3),
                "wall_s_per_water_body_date": round(sum(seconds) / len(rows), 3),
                "clear_area_mape_percent": round(
                    float((100 * (clear.km2 - clear.true_water_km2).abs() / clear.true_water_km2).mean()), 3
                ),
            }
    doc = {
        "workload": "water_body_date",
        "resolution_m": resolution,
        "grid_px": int(30000 / resolution) ** 2,
        "water_bodies": len(bodies),
        "machine": {
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
        },
        "contenders": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
