"""Tile serving, ours against a stock titiler application, side by side in one run, wrk as the client.

Usage: python bench/tiles.py [OUT.json] [--size 10980] [--duration 10] [--workers 1]
Writes an int16 COG of a full Sentinel-2 tile (10980 x 10980 px at 10 m, an MNDWI-like field scaled
1e-4, DEFLATE, 512 px blocks, overviews) with the project's COG writer, publishes it as one layer,
then serves it with `sensing`'s app and with titiler.core's TilerFactory (same rendering: unscaled,
rescaled to -1..1, viridis, bilinear), each under uvicorn with the same number of workers, and drives
both with wrk (1 and 16 connections): cold (every tile requested for the first time: z13-z14 tiles,
shuffled, none repeated within a run) and warm (the z12 tiles over the layer, requested before by
16 connections so that every worker has seen them).
Reports tiles/s, p50/p99 latency, non-2xx responses and socket errors, and the peak RSS of each
server's process tree, in bench/results/w4.json (workload W4).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import morecantile
import numpy as np
import psutil
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
WRK_SCRIPT = """
local urls = {}
for line in io.lines(os.getenv("BENCH_URLS")) do urls[#urls + 1] = line end
local threads = {}
function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end
function init(args)
  counter = offset * math.floor(#urls / math.max(#threads, 1))
end
function request()
  counter = counter + 1
  return wrk.format("GET", urls[((counter - 1) % #urls) + 1])
end
"""


def ours_app() -> object:
    """uvicorn factory: the project's server over the benchmark's output folder."""
    from sensing.serve.app import create_app

    return create_app(Path(os.environ["BENCH_OUTPUT"]))


def titiler_app() -> object:
    """uvicorn factory: stock titiler.core, one COG endpoint."""
    from fastapi import FastAPI
    from titiler.core.factory import TilerFactory

    app = FastAPI()
    app.include_router(TilerFactory().router, prefix="/cog")
    return app


def _write_layer(folder: Path, size: int) -> tuple[Path, tuple[float, float, float, float]]:
    """The int16 COG and a layers.json naming it; returns the COG and its lon/lat bounds."""
    from sensing.config import IndexScale
    from sensing.products import product_spec
    from sensing.publish.cog import translate_to_cog

    spec = product_spec("mndwi", IndexScale())
    transform = from_origin(600000, 4900000, 10, 10)
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "int16", "nodata": -32768,
        "crs": "EPSG:32643", "transform": transform, "tiled": True, "blockxsize": 512, "blockysize": 512,
    }  # fmt: skip
    scratch = folder / "scratch.tif"
    rng = np.random.default_rng(0)
    with rasterio.open(scratch, "w", **profile) as dst:
        for row in range(0, size, 1024):
            height = min(1024, size - row)
            y, x = np.mgrid[row : row + height, 0:size]
            field = np.sin(x / 700) * np.cos(y / 500) + rng.normal(0, 0.05, (height, size))
            dst.write((np.clip(field, -1, 1) * 10000).astype("int16"), 1, window=Window(0, row, size, height))
    cog = folder / "outputs" / "layers" / "mndwi.tif"
    cog.parent.mkdir(parents=True)
    translate_to_cog(scratch, cog, spec.cog)
    scratch.unlink()
    with rasterio.open(cog) as ds:
        bounds = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    entry = {
        "id": "mndwi-bench", "product": "mndwi", "title": spec.title, "aoi": "bench", "date": "2022-07-01",
        "cog": "layers/mndwi.tif", "bounds": list(bounds), "rescale": list(spec.rescale or (-1, 1)),
        "colormap_name": spec.colormap_name, "legend": [],
    }  # fmt: skip
    (folder / "outputs" / "layers.json").write_text(json.dumps({"layers": [entry]}))
    return cog, bounds


def _tiles(bounds: tuple[float, float, float, float], zooms: list[int]) -> list[morecantile.Tile]:
    """Tiles well inside the layer (its lon/lat box inset by 10 %: the UTM grid is a tilted square
    there), so that every request is a real render, never an "outside" 404."""
    west, south, east, north = bounds
    dx, dy = (east - west) * 0.1, (north - south) * 0.1
    return [
        tile
        for z in zooms
        for tile in WEB_MERCATOR.tiles(west + dx, south + dy, east - dx, north - dy, zooms=[z])
    ]


class _Server:
    """A uvicorn process tree on 127.0.0.1, its peak RSS sampled while it runs."""

    def __init__(self, factory: str, port: int, workers: int, env: dict[str, str]) -> None:
        command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1",
                   "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
        self.base = f"http://127.0.0.1:{port}"
        self.peak = 0
        self._stop = threading.Event()
        for _ in range(300):
            try:
                httpx.get(self.base + "/docs", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        root = psutil.Process(self.process.pid)
        while not self._stop.is_set():
            rss = 0
            for proc in [root, *root.children(recursive=True)]:
                try:
                    rss += proc.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak = max(self.peak, rss)
            time.sleep(0.2)

    def close(self) -> None:
        self._stop.set()
        self.process.terminate()
        self.process.wait(timeout=30)


def _wrk(base: str, paths: list[str], connections: int, duration: int, folder: Path) -> dict[str, float]:
    urls = folder / "urls.txt"
    urls.write_text("\n".join(paths) + "\n")
    script = folder / "walk.lua"
    script.write_text(WRK_SCRIPT)
    threads = min(connections, 2)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency",
         "-s", str(script), base],
        capture_output=True, text=True, check=True, env={**os.environ, "BENCH_URLS": str(urls)},
    ).stdout  # fmt: skip

    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        return round(float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit], 2)

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": requests,
        "tiles_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(map(int, socket.groups())) if socket else 0),
    }


def _summary(runs: dict[str, Any]) -> dict[str, float]:
    """The headline figures of one server: best tiles/s cold and warm, p99 at 16 connections,
    requests and errors (non-2xx responses and socket errors) over all runs."""
    return {
        "cold_tiles_per_s": max(runs["cold_c1"]["tiles_per_s"], runs["cold_c16"]["tiles_per_s"]),
        "warm_tiles_per_s": max(runs["warm_c1"]["tiles_per_s"], runs["warm_c16"]["tiles_per_s"]),
        "p99_ms_16_cold": runs["cold_c16"]["p99_ms"],
        "p99_ms_16_warm": runs["warm_c16"]["p99_ms"],
        "requests": sum(run["requests"] for run in runs.values() if isinstance(run, dict)),
        "errors": sum(run["errors"] for run in runs.values() if isinstance(run, dict)),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default=str(ROOT / "bench" / "results" / "w4.json"))
    parser.add_argument("--size", type=int, default=10980)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument(
        "--workers", type=int, default=1,
        help="uvicorn workers per server. With more than one, uvicorn shares a socket created without "
        "IPPROTO_TCP, asyncio then leaves TCP_NODELAY off, and wrk's delayed ACKs add 40 ms to every "
        "response of both servers (measured: 1.1 ms vs 48 ms for a cached tile).",
    )  # fmt: skip
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="bench-tiles-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        cog, bounds = _write_layer(folder, args.size)
        write_s = round(time.perf_counter() - started, 1)
        cog_mb = round(cog.stat().st_size / 2**20, 1)
        cold = _tiles(bounds, [13, 14])
        random.Random(1).shuffle(cold)
        warm = _tiles(bounds, [12])
        query = "rescale=-1,1&colormap_name=viridis&unscale=true&resampling=bilinear"
        contenders = {
            "sensing_serve": ("bench.tiles:ours_app", lambda t: f"/layers/mndwi-bench/2022-07-01/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png"),
            "titiler": ("bench.tiles:titiler_app", lambda t: f"/cog/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png?url={cog}&{query}"),
        }  # fmt: skip
        results: dict[str, dict[str, object]] = {}
        for port, (name, (factory, path)) in enumerate(contenders.items(), start=18431):
            server = _Server(factory, port, args.workers, {"BENCH_OUTPUT": str(folder / "outputs")})
            try:
                runs: dict[str, object] = {}
                offset = 0
                for connections in (1, 16):
                    # Cold: tiles no run has asked for yet (each run takes the next slice of the list).
                    paths = [path(t) for t in cold[offset:]]
                    runs[f"cold_c{connections}"] = stats = _wrk(
                        server.base, paths, connections, args.duration, folder
                    )
                    offset += int(stats["requests"]) + 16
                # Warm: every worker process has rendered the tiles before (requests spread over workers).
                _wrk(server.base, [path(t) for t in warm], 16, max(3, args.duration // 2), folder)
                for connections in (1, 16):
                    runs[f"warm_c{connections}"] = _wrk(
                        server.base, [path(t) for t in warm], connections, args.duration, folder
                    )
                runs["peak_rss_mb"] = round(server.peak / 2**20, 1)
                results[name] = {**_summary(runs), **runs}
            finally:
                server.close()
    ratios = {
        run: round(
            results["sensing_serve"][run]["tiles_per_s"] / max(results["titiler"][run]["tiles_per_s"], 1e-9),
            2,
        )  # type: ignore[index]
        for run in ("cold_c1", "cold_c16", "warm_c1", "warm_c16")
    }
    doc = {
        "workload": "w4",
        "input": {
            "cog_px": [args.size, args.size],
            "dtype": "int16",
            "cog_mb": cog_mb,
            "write_s": write_s,
            "cold_tiles": len(cold),
            "warm_tiles": len(warm),
            "duration_s": args.duration,
            "workers": args.workers,
        },
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "processor": platform.machine(),
        },
        "contenders": results,
        "throughput_ratio_sensing_over_titiler": ratios,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=2))
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
