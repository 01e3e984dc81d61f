"""W1 (one full Sentinel-2 tile) and W2 (the same products at several sizes), contenders side by side.

Usage: python bench/w1.py [--size 10980] [--contenders io_floor,naive_rioxarray,...] [--out bench/results/w1.json]
       python bench/w1.py --scaling [--sizes 2745,5490,10980,21960] [--out bench/results/w2.json]

Inputs are made by the project (``sensing demo-data --size N --resolution 10``: uint16 L2A COGs,
B03 B04 B08 at 10 m, B11 at 20 m) under build/bench/tile-N/ and kept for reruns. Products: NDWI,
MNDWI, NDVI as scaled int16 COGs and the water classes as a uint8 COG. Each contender runs in its own
process under bench/measure.py (wall, CPU and peak RSS summed over its process tree; for the flow,
the Prefect server's too), and each of its four outputs must pass rio-cogeo's strict validation.

Contenders (scripts in bench/w1/ and bench/eolearn/):
  io_floor         read every input pixel, write the four COGs from a cast of B03 (no index math)
  naive_rioxarray  rioxarray + Dask with library defaults
  eolearn          eo-learn's tasks, from its own virtualenv (bench/eolearn/setup.sh); the largest
                   size it completes
  sensing_library  ours: the reprocess flow's library calls without Prefect
  sensing_flow     ours: ``sensing reprocess`` (the Prefect flow) against a running Prefect server,
                   whose start-up time is reported separately
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from rio_cogeo.cogeo import cog_validate

from pipelines.prefect_server import LocalPrefectServer

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "build" / "bench"
PY = sys.executable
SENSING = str(Path(PY).with_name("sensing"))
PRODUCTS = ("ndwi", "mndwi", "ndvi", "water")
BANDS = {"green": "B03", "red": "B04", "nir": "B08", "swir16": "B11"}
CONTENDERS = ("io_floor", "naive_rioxarray", "eolearn", "sensing_library", "sensing_flow")
AOI = "s2-tile"
SCENE_PRODUCTS_ONLY = {"summaries": False, "composites": False}
"""Publish settings of our runs: no yearly summaries or monthly composites (products no peer writes)."""


def ensure_archive(size: int) -> Path:
    """The simulated archive of ``size`` px at 10 m (one year, two dates), written once."""
    archive = BENCH / f"tile-{size}" / "archive"
    if not (archive / "catalog.json").exists():
        subprocess.run(
            [SENSING, "demo-data", "--size", str(size), "--resolution", "10", "--years", "1",
             "--dates-per-year", "2", "--no-sentinel1", "--out", str(archive)],
            check=True, cwd=ROOT,
        )  # fmt: skip
    return archive


def first_item(archive: Path) -> dict[str, Any]:
    """The archive's first scene: its item, date and band files."""
    items = sorted(archive.glob("sentinel-2-l2a-demo/*/*.json"))
    item = json.loads(items[0].read_text())
    item["_bands"] = {name: items[0].parent / item["assets"][band]["href"] for name, band in BANDS.items()}
    return item


def _bounds(asset: dict[str, Any]) -> tuple[float, float, float, float]:
    res, _, west, _, neg_res, north = asset["proj:transform"][:6]
    height, width = asset["proj:shape"]
    return west, north + neg_res * height, west + res * width, north


def _scaling(item: dict[str, Any]) -> list[str]:
    """The L2A scale and offset of the item's reflectance (its STAC raster:bands), as options."""
    band = item["assets"]["B03"]["raster:bands"][0]
    return ["--scale", str(band.get("scale", 1e-4)), "--offset", str(band.get("offset", 0.0))]


def write_config(folder: Path, archive: Path, item: dict[str, Any]) -> Path:
    """A run configuration whose AOI is the whole tile, products the four of W1."""
    doc = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    west, south, east, north = _bounds(item["assets"]["B03"])
    doc |= {
        "data_dir": str(folder),
        "water_bodies": str(ROOT / "configs" / "water_bodies" / "demo.yaml"),
        "products": list(PRODUCTS[3:] + PRODUCTS[:3]),
    }
    doc["aoi"] = {"id": AOI, "name": "one Sentinel-2 tile", "crs": doc["aoi"]["crs"],
                  "bounds": [west, south, east, north], "resolution": 10}  # fmt: skip
    doc["source"]["catalog"] = str(archive / "catalog.json")
    doc["publish"] = dict(SCENE_PRODUCTS_ONLY)  # the four products only, as every other contender writes
    if os.environ.get("BENCH_DASK_CHUNK"):  # for exploring chunk sizes: BENCH_DASK_CHUNK=512
        doc["dask"]["chunk"] = int(os.environ["BENCH_DASK_CHUNK"])
    if os.environ.get("BENCH_WORKER_MEMORY_MB"):  # for exploring worker memory limits
        doc["dask"]["worker_memory_mb"] = int(os.environ["BENCH_WORKER_MEMORY_MB"])
    doc.pop("demo", None)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _measure(command: list[str], env: dict[str, str] | None = None, also: list[int] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        flags = [arg for pid in also for arg in ("--also", str(pid))]
        subprocess.run(
            [PY, str(ROOT / "bench" / "measure.py"), out.name, *flags, "--", *command],
            cwd=ROOT, env={**os.environ, **(env or {})}, check=False,
        )  # fmt: skip
        return json.loads(Path(out.name).read_text())


def _validate(outputs: dict[str, Path]) -> dict[str, Any]:
    """Strict COG validation of each output, and their sizes."""
    report: dict[str, Any] = {"outputs_valid_cog": True, "output_mb": 0.0}
    for name in PRODUCTS:
        path = outputs.get(name)
        valid = path is not None and path.exists() and cog_validate(str(path), strict=True, quiet=True)[0]
        report["outputs_valid_cog"] &= bool(valid)
        if path is not None and path.exists():
            report["output_mb"] = round(report["output_mb"] + path.stat().st_size / 2**20, 1)
    if not report["outputs_valid_cog"]:
        report["invalid_or_missing"] = [n for n in PRODUCTS if n not in outputs or not outputs[n].exists()]
    return report


def _published(folder: Path) -> dict[str, Path]:
    """The four COGs a run of ours published under ``folder``."""
    found = {}
    for name in PRODUCTS:
        paths = sorted((folder / "outputs" / "layers" / name / AOI).rglob("*.tif"))
        if paths:
            found[name] = paths[-1]
    return found


def eolearn_python() -> str | None:
    """The eo-learn virtualenv's python (built by bench/eolearn/setup.sh), or None if it cannot be."""
    setup = ROOT / "bench" / "eolearn" / "setup.sh"
    if not setup.exists():
        return None
    done = subprocess.run(["bash", str(setup)], cwd=ROOT, capture_output=True, text=True, check=False)
    python = ROOT / "build" / "eolearn-venv" / "bin" / "python"
    return str(python) if done.returncode == 0 and python.exists() else None


def profile_library(size: int, out: Path) -> None:
    """The library contender once more under py-spy (bench/profile.py): where its time goes."""
    archive = ensure_archive(size)
    item = first_item(archive)
    folder = _fresh(BENCH / f"tile-{size}" / "runs" / "profile")
    config = write_config(folder, archive, item)
    date = item["properties"]["datetime"][:10]
    subprocess.run(
        [PY, "bench/profile.py", str(out), "--", PY, "bench/w1/sensing_library.py", "--config", str(config),
         "--aoi", AOI, "--start", date, "--end", date],
        cwd=ROOT, check=True,
    )  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def run_contender(
    name: str, size: int, item: dict[str, Any], archive: Path, server: LocalPrefectServer | None
) -> dict[str, Any]:
    """One contender on one size, in a fresh output folder; its measurements and output checks."""
    folder = _fresh(BENCH / f"tile-{size}" / "runs" / name)
    bands = [arg for band, path in item["_bands"].items() for arg in (f"--{band}", str(path))]
    scaled = [*bands, *_scaling(item)]
    date = item["properties"]["datetime"][:10]
    if name in ("sensing_library", "sensing_flow"):
        config = write_config(folder, archive, item)
        period = ["--aoi", AOI, "--start", date, "--end", date]
        if name == "sensing_library":
            result = _measure([PY, "bench/w1/sensing_library.py", "--config", str(config), *period])
        else:
            assert server is not None
            command = [SENSING, "reprocess", "--config", str(config), *period, "--force",
                       "--products", ",".join(PRODUCTS)]  # fmt: skip
            result = _measure(command, env=server.env, also=[server.process.pid])
        outputs = _published(folder)
    elif name == "eolearn":
        python = eolearn_python()
        if python is None:
            return {"skipped": "bench/eolearn/setup.sh could not build the eo-learn environment"}
        result = _measure([python, "bench/eolearn/w1.py", *scaled, "--out", str(folder)])
        outputs = {p: folder / f"{p}.tif" for p in PRODUCTS}
    else:
        arguments = scaled if name == "naive_rioxarray" else bands
        result = _measure([PY, f"bench/w1/{name}.py", *arguments, "--out", str(folder)])
        outputs = {p: folder / f"{p}.tif" for p in PRODUCTS}
    report = {k: result[k] for k in ("wall_s", "cpu_s", "peak_rss_mb", "returncode")}
    report |= _validate(outputs) if name != "eolearn" else {"outputs": "GeoTIFF (eo-learn's export)"}
    if name != "eolearn":
        shutil.rmtree(folder, ignore_errors=True)  # a full tile's outputs are ~1 GB per contender
    return report


def machine() -> dict[str, Any]:
    import psutil

    return {
        "python": platform.python_version(), "cpus": os.cpu_count(), "processor": platform.machine(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }  # fmt: skip


def w1(size: int, names: list[str]) -> dict[str, Any]:
    """Every contender on one tile of ``size`` px."""
    archive = ensure_archive(size)
    item = first_item(archive)
    input_mb = sum(p.stat().st_size for p in item["_bands"].values()) / 2**20
    server = (
        LocalPrefectServer(BENCH / "prefect-home", port=4299, ui=False) if "sensing_flow" in names else None
    )
    try:
        contenders = {}
        for name in names:
            print(f"W1 {size} px: {name}", flush=True)
            contenders[name] = run_contender(name, size, item, archive, server)
            print(json.dumps(contenders[name]), flush=True)
    finally:
        if server is not None:
            server.close()
    doc: dict[str, Any] = {
        "workload": "w1",
        "input": {
            "size_px": size,
            "bands": BANDS,
            "input_mb": round(input_mb, 1),
            "item": item["id"],
            "ours": "configs/demo.yaml's settings on the whole tile, products water, ndwi, mndwi, "
            "ndvi, publish.summaries and publish.composites off (yearly summaries and monthly composites "
            "are other products)",
        },
        "machine": machine(),
        "contenders": contenders,
    }
    if server is not None:
        doc["prefect_server_startup_s"] = server.startup_s
    doc["ratios"] = _ratios(contenders)
    return doc


def _ratios(contenders: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Wall-time ratios behind the targets (ours against each peer; flow against library)."""
    wall = {name: c["wall_s"] for name, c in contenders.items() if "wall_s" in c and c.get("returncode") == 0}
    ours = wall.get("sensing_library")
    ratios = {}
    if ours:
        for peer in ("io_floor", "naive_rioxarray", "eolearn"):
            if peer in wall:
                ratios[f"sensing_library_over_{peer}"] = round(ours / wall[peer], 2)
        if "sensing_flow" in wall:
            ratios["prefect_overhead_fraction"] = round(
                (wall["sensing_flow"] - ours) / wall["sensing_flow"], 3
            )
    return ratios


def w2(sizes: list[int]) -> dict[str, Any]:
    """Ours (library) and the I/O floor at each size: the fitted time exponent and the memory growth."""
    runs = {size: w1(size, ["io_floor", "sensing_library"])["contenders"] for size in sizes}
    pixels = [size * size for size in sizes]
    walls = [runs[size]["sensing_library"]["wall_s"] for size in sizes]
    exponent = _slope([math.log(p) for p in pixels], [math.log(w) for w in walls])
    rss = {size: runs[size]["sensing_library"]["peak_rss_mb"] for size in sizes}
    quarter = next((s for s in sizes if s >= 5490), sizes[0])
    return {
        "workload": "w2",
        "machine": machine(),
        "sizes_px": sizes,
        "contenders": {
            name: {str(size): runs[size][name] for size in sizes} for name in ("io_floor", "sensing_library")
        },
        "time_exponent": round(exponent, 3),
        "peak_rss_growth_from_quarter_tile": round(rss[sizes[-1]] / rss[quarter] - 1, 3),
    }


def _slope(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    return sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / sum((a - mx) ** 2 for a in x)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10980)
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--scaling", action="store_true", help="W2: the library and the floor at --sizes")
    parser.add_argument("--sizes", default="2745,5490,10980,21960")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--profile", action="store_true", help="also profile the library (w1_profile.json)")
    args = parser.parse_args()
    if args.profile:
        profile_library(args.size, ROOT / "bench" / "results" / "w1_profile.json")
    if args.scaling:
        doc = w2([int(s) for s in args.sizes.split(",")])
    else:
        doc = w1(args.size, args.contenders.split(","))
    out = args.out or ROOT / "bench" / "results" / f"{doc['workload']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2))
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
