"""Load: 64 concurrent clients for 60 s against `sensing serve` (a real subprocess over the nightly
run's outputs) asking for a realistic mix: PNG tiles of every layer and date at zooms 9-13 (most of
them cold: never asked for before), value tiles, WMTS capabilities, legends and the layer list.
No 5xx, no connection error, and the server's memory stays bounded once warm.

Run with `make test-slow` or `pytest -m soak tests/e2e/test_tile_load.py -s` (it prints its figures
and writes them as JSON under the test's tmp path)."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import morecantile
import psutil
import pytest

from sensing.config import Settings
from tests.servers import sensing_serve

pytestmark = pytest.mark.soak

CLIENTS = 64
DURATION_S = 60.0
WARM_UP_S = 10.0
RSS_GROWTH_MB = 300
"""Allowed RSS growth from the end of the warm-up to the end of the run. What may grow: the rendered
tile cache (bounded at 256 MB, --tile-cache default in create_app) and GDAL's block cache (bounded at
256 MB); in 60 s on two cores the run renders a few thousand tiles of a few kB each, so it fills
neither, and anything past 300 MB would be a leak (per-request growth that no cache bounds)."""
WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")


def _urls(layers: list[dict], rng: random.Random) -> tuple[list[str], list[tuple[float, str]]]:
    """Every tile of every layer and date at zooms 9-13 (shuffled: most are cold when asked for), and
    the other requests with their share of the mix."""
    tiles = [
        f"/layers/{e['id']}/{e['date']}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png"
        for e in layers
        for t in WEB_MERCATOR.tiles(*e["bounds"], zooms=[9, 10, 11, 12, 13])
    ]
    rng.shuffle(tiles)
    newest = {e["id"]: e for e in sorted(layers, key=lambda e: e["date"])}
    others: list[tuple[float, str]] = [
        (0.04, "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"),
        (0.02, "/wms?SERVICE=WMS&REQUEST=GetCapabilities"),
        (0.04, "/layers"),
        *((0.05 / len(newest), f"/layers/{e['id']}/{e['date']}/legend.png") for e in newest.values()),
        *((0.03 / len(newest), f"/layers/{e['id']}/{e['date']}/legend.json") for e in newest.values()),
    ]
    return tiles, others


class Memory:
    """The server process's RSS sampled every 0.5 s in a thread."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()

    def rss_mb(self) -> float:
        return self.process.memory_info().rss / 2**20

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.samples.append((time.monotonic() - self._t0, self.rss_mb()))

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def _drive(base: str, tiles: list[str], others: list[tuple[float, str]], rng: random.Random,
                 memory: Memory) -> dict:  # fmt: skip
    statuses: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    errors: list[str] = []
    retried: list[str] = []
    latencies: list[float] = []
    cold = iter(tiles)
    warm: list[str] = []
    rss_warm: list[float] = []
    weights = [w for w, _ in others]
    other_share = sum(weights)
    start = time.monotonic()
    deadline = start + DURATION_S

    def pick() -> tuple[str, str]:
        roll = rng.random()
        if roll < other_share:
            return "other", rng.choices([u for _, u in others], weights)[0]
        if roll < other_share + 0.25 and warm:  # a quarter of the tiles again (the viewer panning back)
            return "warm tile", rng.choice(warm)
        path = next(cold, None)
        if path is None:
            return "warm tile", rng.choice(warm)
        warm.append(path)
        return "cold tile", path

    async def client(http: httpx.AsyncClient) -> None:
        while (now := time.monotonic()) < deadline:
            if not rss_warm and now - start >= WARM_UP_S:
                rss_warm.append(memory.rss_mb())
            kind, path = pick()
            began = time.monotonic()
            try:
                response = await http.get(path)
            except (httpx.ReadError, httpx.RemoteProtocolError) as exc:
                # The server closed a kept-alive connection as this request went out on it: a browser
                # or GIS client sends such a GET again on a new connection (RFC 9110 9.2.2); so does
                # this one, once, and reports how often. A second failure is an error.
                retried.append(
                    f"{path}: {type(exc).__name__}: {exc!r} cause={exc.__cause__!r} after {time.monotonic() - began:.2f} s"
                )
                try:
                    response = await http.get(path, headers={"Connection": "close"})
                except httpx.HTTPError as again:
                    errors.append(f"{path}: {type(again).__name__}: {again!r}")
                    continue
            except httpx.HTTPError as exc:
                errors.append(f"{path}: {type(exc).__name__}: {exc!r}")
                continue
            latencies.append(time.monotonic() - began)
            statuses[response.status_code] += 1
            kinds[kind] += 1

    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as http:
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    elapsed = time.monotonic() - start
    latencies.sort()
    return {
        "clients": CLIENTS,
        "duration_s": round(elapsed, 1),
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "by_kind": dict(kinds),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "connection_errors": len(errors),
        "first_errors": errors[:5],
        "retried_on_a_closed_keep_alive_connection": len(retried),
        "first_retried": retried[:5],
        "latency_ms": {
            "p50": round(1000 * statistics.median(latencies), 1),
            "p90": round(1000 * latencies[int(0.90 * (len(latencies) - 1))], 1),
            "p99": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1),
            "max": round(1000 * latencies[-1], 1),
        },
        "cold_tiles_available": len(tiles),
        "rss_warm_mb": round(rss_warm[0], 1) if rss_warm else None,
    }


def test_64_clients_for_60_s(nightly_run: tuple[Settings, dict], demo_root: Path, tmp_path: Path) -> None:
    settings, _ = nightly_run
    layers = json.loads((settings.output_dir / "layers.json").read_text())["layers"]
    rng = random.Random(9)
    tiles, others = _urls(layers, rng)
    with sensing_serve(demo_root / "config.yaml") as (base, process), Memory(process) as memory:
        rss_start = memory.rss_mb()
        figures = asyncio.run(_drive(base, tiles, others, rng, memory))
        rss_end = memory.rss_mb()
        assert httpx.get(f"{base}/healthz", timeout=10).json()["status"] == "ok"
    peak = max(mb for _, mb in memory.samples)
    figures |= {
        "rss_start_mb": round(rss_start, 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_growth_after_warm_up_mb": round(rss_end - figures["rss_warm_mb"], 1),
        "rss_bound": f"end <= warm + {RSS_GROWTH_MB} MB",
        "cpus": psutil.cpu_count(),
    }
    (tmp_path / "tile_load.json").write_text(json.dumps(figures, indent=2))
    print(f"\ntile load figures ({tmp_path / 'tile_load.json'}):\n{json.dumps(figures, indent=2)}")
    assert figures["connection_errors"] == 0, figures["first_errors"]
    assert figures["retried_on_a_closed_keep_alive_connection"] <= figures["requests"] // 1000, figures[
        "first_retried"
    ]
    assert not [s for s in figures["statuses"] if s.startswith("5")], figures["statuses"]
    assert set(figures["statuses"]) <= {"200", "404"}, figures[
        "statuses"
    ]  # 404: a tile of the covering off the data
    assert figures["requests"] > 0 and figures["by_kind"].get("cold tile", 0) > 0
    assert rss_end <= figures["rss_warm_mb"] + RSS_GROWTH_MB, figures
