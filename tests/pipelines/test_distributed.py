"""Flows on an existing Dask cluster (``dask.address``): a real ``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1 give the same layers and areas as the local cluster; a scene several times
larger than a worker's memory limit completes, its memory bounded by the chunking."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from distributed import Client

from sensing.config import load_settings
from sensing.publish.layout import OutputLayout
from tests.conftest import write_test_config
from tests.servers import WorkerMemory, dask_processes

SENSING = str(Path(sys.executable).with_name("sensing"))
PERIOD = ["--start", "2021-08-01", "--end", "2021-09-30"]


def _reprocess(config: Path, dask_address: str = "") -> OutputLayout:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {
        "SENSING_DASK_ADDRESS": dask_address
    }
    done = subprocess.run(
        [SENSING, "reprocess", "--config", str(config), "--aoi", "kapchagay-dam", *PERIOD],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return OutputLayout(load_settings(config).output_dir)


def _pixels(layout: OutputLayout) -> dict[str, np.ndarray]:
    layers = {}
    for path in sorted((layout.root / "layers").rglob("*.tif")):
        with rasterio.open(path) as ds:
            layers[str(path.relative_to(layout.root))] = ds.read()
    return layers


def test_a_flow_on_an_external_dask_cluster_equals_the_local_run(demo_copy: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    shutil.copytree(demo_copy / "data" / "demo-archive", remote / "data" / "demo-archive")
    remote_config = write_test_config(remote)
    local = _reprocess(demo_copy / "config.yaml")
    with dask_processes(2, "1GB", tmp_path) as cluster:
        distributed = _reprocess(remote_config, cluster.address)
        with Client(cluster.address) as client:
            transitions = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
    assert transitions > 1000, "the work did not run on the external cluster"
    ours, theirs = _pixels(local), _pixels(distributed)
    assert len(ours) >= 8 and ours.keys() == theirs.keys()
    for name, pixels in ours.items():
        np.testing.assert_array_equal(pixels, theirs[name], err_msg=name)
    columns = ["water_body", "date", "water_km2", "threshold", "quality"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(local.water_areas)[columns], pd.read_parquet(distributed.water_areas)[columns]
    )


SCENE_PX = 6000  # a third of a Sentinel-2 tile at 10 m
WORKER_LIMIT_MB = 500
"""A worker of this pipeline holds ~300 MiB before any data (rasterio, odc-stac, scikit-image...);
Dask pauses it at 80 % of the limit, so a limit below ~450 MB leaves it paused for good."""


def test_a_scene_several_times_a_workers_memory_limit_completes_within_it(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    subprocess.run(
        [SENSING, "demo-data", "--size", str(SCENE_PX), "--resolution", "10", "--years", "1",
         "--dates-per-year", "2", "--no-sentinel1", "--out", str(archive)],
        check=True, capture_output=True,
    )  # fmt: skip
    (b03,) = archive.glob("sentinel-2-l2a-demo/*20210801*/B03.tif")
    with rasterio.open(b03) as ds:
        bounds = list(ds.bounds)
    config = write_test_config(
        tmp_path / "run", aoi={"id": "third-tile", "name": "a third of a tile", "crs": "EPSG:32643",
                               "bounds": bounds, "resolution": 10},
        source={"kind": "static-stac", "catalog": str(archive / "catalog.json"),
                "collection": "sentinel-2-l2a-demo", "max_cloud_cover": 100},
        publish={"summaries": False, "composites": False},  # the scene's own work: derived layers excluded
    )  # fmt: skip
    scene_mb = SCENE_PX**2 * (6 * 2 + 8 * 4) / 1e6  # six uint16 bands decoded, eight float32 arrays
    assert scene_mb > 3 * WORKER_LIMIT_MB
    with (
        dask_processes(1, f"{WORKER_LIMIT_MB}MB", tmp_path) as cluster,
        WorkerMemory(cluster.workers) as memory,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        done = subprocess.run(
            [SENSING, "reprocess", "--config", str(config), "--aoi", "third-tile", "--start", "2021-08-01",
             "--end", "2021-08-01"],
            env=env | {"SENSING_DASK_ADDRESS": cluster.address}, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert memory.restarts == 0
    assert 0 < max(memory.peaks_mb) * 2**20 < WORKER_LIMIT_MB * 1e6, memory.peaks_mb  # Dask's MB are 10^6 B
    layers = sorted((tmp_path / "run" / "data" / "outputs" / "layers").rglob("*.tif"))
    assert {p.stem for p in layers} == {"water", "ndwi", "mndwi", "ndvi"}
    for layer in layers:
        with rasterio.open(layer) as ds:
            assert (ds.width, ds.height) == (SCENE_PX, SCENE_PX)


def test_workers_and_the_client_bound_gdals_block_cache() -> None:
    """GDAL's default cache is 5 % of the machine's memory per process, outside Dask's accounting; the
    client copies the COGs, so its cache is bounded too (at GDAL's default it grew with the scene)."""
    from rasterio.env import get_gdal_config, set_gdal_config

    from sensing.cluster import dask_client
    from sensing.config import DaskConfig

    set_gdal_config("GDAL_CACHEMAX", 1024 * 2**20)
    with dask_client(DaskConfig(n_workers=1, gdal_cache_mb=96, worker_memory_mb=600)) as client:
        caches = client.run(get_gdal_config, "GDAL_CACHEMAX")
        assert get_gdal_config("GDAL_CACHEMAX") == 96 * 2**20
        limits = [w["memory_limit"] for w in client.scheduler_info()["workers"].values()]
    assert list(caches.values()) == [96 * 2**20]
    assert limits == [600 * 10**6]  # dask.worker_memory_mb, in Dask's units (MB = 10**6 bytes)
