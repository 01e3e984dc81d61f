"""Load throughput of decoded pixels: the same COGs from disk (static catalog) and over HTTP range
requests behind a STAC API (rustac's server + a static file server on 127.0.0.1), side by side.

Usage: .venv/bin/python bench/load_throughput.py [ARCHIVE_DIR]   (default data/demo-archive)
Writes bench/results/load_throughput.json.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

import dask

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sensing.config import SourceConfig, load_settings  # noqa: E402
from sensing.grid import aoi_geobox  # noqa: E402
from sensing.sources.stac import StacApiSource, StaticStacSource  # noqa: E402
from tests.servers import file_server, publish_over_http, rustac_api  # noqa: E402

BANDS = ["green", "red", "nir", "swir16", "scl"]
PERIOD = (dt.date(1990, 1, 1), dt.date(2100, 1, 1))


def _measure(source: object, geobox: object) -> dict[str, float]:
    scenes = source.search((-180, -90, 180, 90), *PERIOD)  # type: ignore[attr-defined]
    started, nbytes = time.perf_counter(), 0
    for scene in scenes:
        ds = source.load(scene, BANDS, geobox, 1024).compute()  # type: ignore[attr-defined]
        nbytes += sum(ds[b].nbytes for b in ds.data_vars)
    wall = time.perf_counter() - started
    return {"scenes": len(scenes), "decoded_mb": round(nbytes / 2**20, 1), "wall_s": round(wall, 2),
            "mb_per_s": round(nbytes / 2**20 / wall, 1)}  # fmt: skip


def main() -> None:
    settings = load_settings(ROOT / "configs" / "demo.yaml")
    archive = Path(sys.argv[1]) if len(sys.argv) > 1 else settings.data_dir / "demo-archive"
    geobox = aoi_geobox(settings.aoi)
    results = {}
    with dask.config.set(scheduler="threads"):
        disk = StaticStacSource(
            SourceConfig(catalog=archive / "catalog.json", collection="sentinel-2-l2a-demo")
        )
        results["disk"] = _measure(disk, geobox)
        with tempfile.TemporaryDirectory() as tmp, file_server(archive) as base:
            docs = publish_over_http(archive / "catalog.json", base, Path(tmp))
            with rustac_api(*docs) as url:
                api = StacApiSource(SourceConfig(kind="stac-api", url=url, collection="sentinel-2-l2a-demo"))
                results["http_stac_api"] = _measure(api, geobox)
    out = ROOT / "bench" / "results" / "load_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"grid": list(geobox.shape.yx), "bands": BANDS, "contenders": results}
    out.write_text(json.dumps(doc, indent=2))
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
