"""W3: one water body through time (masks, edge-based Otsu, area series), ours against eo-learn.

Usage: python bench/w3.py [--size 2000] [--years 5] [--dates-per-year 20] [--skip-library] [--out bench/results/w3.json]

Input, made by the project once under build/bench/w3-SIZE/: ``sensing demo-data`` at 15 m, so that
the SIZE x SIZE chip covers the demo AOI around the Kapchagay reservoir, YEARS x DATES_PER_YEAR
dates (100 by default). Contenders, each in its own process under bench/measure.py:

  sensing_library  ours: the reprocess flow's library calls without Prefect over every date
                   (water classes by canny-otsu per water body, the area series table; with its
                   per-date water COGs, vectors and STAC items, which eo-learn does not write)
  sensing_series   ours: ``sensing waterbodies series`` (the same method on a window around the outline,
                   a few scenes at a time on threads, only the table: what an analyst asks for)
  eolearn          eo-learn's water-monitor method as EOTasks (bench/eolearn/w3.py, its own venv)

Both use MNDWI and the archive's SCL mask. The JSON holds, besides time and memory, the areas of
both per date and their difference on the dates both call clear (no cloud, no snow/ice, no gap).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import w1

ROOT = w1.ROOT
BODY = "kapchagay"


def ensure_archive(size: int, years: int, per_year: int) -> Path:
    archive = w1.BENCH / f"w3-{size}" / "archive"
    if not (archive / "catalog.json").exists():
        subprocess.run(
            [w1.SENSING, "demo-data", "--size", str(size), "--resolution", "15", "--years", str(years),
             "--dates-per-year", str(per_year), "--no-sentinel1", "--out", str(archive)],
            check=True, cwd=ROOT,
        )  # fmt: skip
    return archive


def write_config(folder: Path, archive: Path) -> Path:
    """The demo configuration on the chip: canny-otsu (edge-based Otsu per water body), water only."""
    doc = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    doc |= {"data_dir": str(folder), "water_bodies": str(ROOT / "configs" / "water_bodies" / "demo.yaml")}
    doc["aoi"]["resolution"] = 15
    doc["source"]["catalog"] = str(archive / "catalog.json")
    doc["water"]["method"] = "canny-otsu"
    doc["publish"] = dict(w1.SCENE_PRODUCTS_ONLY)
    doc.pop("demo", None)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _dates(archive: Path) -> tuple[str, str]:
    days = sorted(json.loads(p.read_text())["properties"]["datetime"][:10]
                  for p in archive.glob("sentinel-2-l2a-demo/*/*.json"))  # fmt: skip
    return days[0], days[-1]


def ours(archive: Path, folder: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder, archive)
    first, last = _dates(archive)
    command = [w1.PY, "bench/w1/sensing_library.py", "--config", str(config), "--aoi", "kapchagay-dam",
               "--start", first, "--end", last, "--products", "water"]  # fmt: skip
    result = w1._measure(command)
    table = pd.read_parquet(folder / "outputs" / "tables" / "water_areas.parquet")
    rows = table[(table.water_body == BODY) & (table.sensor != "sentinel-1")]
    return result, rows[["date", "water_km2", "quality", "usable"]].assign(date=lambda f: f.date.astype(str))


def series(archive: Path, folder: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder, archive)
    first, last = _dates(archive)
    out = folder / "series.csv"
    command = [w1.SENSING, "waterbodies", "series", BODY, "--start", first, "--end", last, "--out", str(out),
               "--config", str(config)]  # fmt: skip
    result = w1._measure(command)
    rows = pd.read_csv(out, encoding="utf-8-sig")
    rows = rows[rows.sensor != "sentinel-1"]
    return result, rows[["date", "water_km2", "quality", "usable"]].assign(date=lambda f: f.date.astype(str))


def same_areas(ours_rows: pd.DataFrame, series_rows: pd.DataFrame) -> dict[str, Any]:
    """The series against the flows' areas, date by date (every row, not only the clear ones)."""
    both = ours_rows.merge(series_rows, on="date", suffixes=("_library", "_series"))
    diff = (both.water_km2_library - both.water_km2_series).abs()
    return {
        "dates_compared": len(both),
        "dates_equal": int(
            (diff < 1e-9).sum() + (both.water_km2_library.isna() & both.water_km2_series.isna()).sum()
        ),
        "quality_equal": int((both.quality_library == both.quality_series).sum()),
        "max_abs_diff_km2": round(float(diff.max()), 4) if len(both) else None,
    }


def eolearn(archive: Path, folder: Path) -> tuple[dict[str, Any], pd.DataFrame] | None:
    python = w1.eolearn_python()
    if python is None:
        return None
    out = folder / "eolearn_areas.csv"
    command = [python, "bench/eolearn/w3.py", "--archive", str(archive), "--water-bodies",
               str(ROOT / "configs" / "water_bodies" / "demo.yaml"), "--body", BODY, "--out", str(out)]  # fmt: skip
    result = w1._measure(command)
    with out.open() as fh:
        rows = pd.DataFrame(list(csv.DictReader(fh)))
    rows["water_km2"] = rows.water_km2.astype(float)
    rows["valid_fraction"] = rows.valid_fraction.astype(float)
    return result, rows


def compare(ours_rows: pd.DataFrame, theirs: pd.DataFrame) -> dict[str, Any]:
    """Areas side by side on the dates both saw clear: ours usable (quality ok), theirs fully valid."""
    both = ours_rows.merge(theirs, on="date", suffixes=("_ours", "_eolearn"))
    clear = both[(both.quality == "ok") & (both.valid_fraction >= 0.99)]
    diff = (clear.water_km2_ours - clear.water_km2_eolearn).abs() / clear.water_km2_eolearn * 100
    return {
        "dates_compared": len(clear),
        "mean_abs_diff_pct": round(float(diff.mean()), 3) if len(clear) else None,
        "max_abs_diff_pct": round(float(diff.max()), 3) if len(clear) else None,
        "areas": clear[["date", "water_km2_ours", "water_km2_eolearn"]].round(3).to_dict("records"),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--dates-per-year", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "w3.json")
    parser.add_argument(
        "--skip-library", action="store_true", help="Leave out the (slow) full-product contender."
    )
    args = parser.parse_args()
    archive = ensure_archive(args.size, args.years, args.dates_per_year)
    folder = w1._fresh(w1.BENCH / f"w3-{args.size}" / "runs")
    keys = ("wall_s", "cpu_s", "peak_rss_mb", "returncode")
    contenders: dict[str, Any] = {}
    rows: dict[str, pd.DataFrame] = {}
    if not args.skip_library:
        result, rows["sensing_library"] = ours(archive, folder / "sensing")
        contenders["sensing_library"] = {k: result[k] for k in keys}
    result, rows["sensing_series"] = series(archive, folder / "series")
    contenders["sensing_series"] = {k: result[k] for k in keys}
    peer = eolearn(archive, folder)
    doc: dict[str, Any] = {
        "workload": "w3",
        "input": {
            "size_px": args.size,
            "resolution_m": 15,
            "dates": args.years * args.dates_per_year,
            "water_body": BODY,
            "index": "mndwi",
        },
        "machine": w1.machine(),
        "contenders": contenders,
    }
    if "sensing_library" in rows:
        doc["series_vs_library"] = same_areas(rows["sensing_library"], rows["sensing_series"])
    if peer is not None:
        result, theirs = peer
        contenders["eolearn"] = {k: result[k] for k in keys}
        doc["areas"] = {name: compare(ours_rows, theirs) for name, ours_rows in rows.items()}
        doc["ratios"] = {
            f"eolearn_over_{name}": round(result["wall_s"] / contenders[name]["wall_s"], 2) for name in rows
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2))
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
