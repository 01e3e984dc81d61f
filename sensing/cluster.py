"""Dask: connect to a scheduler, or start a local cluster sized to the machine."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from distributed import Client, LocalCluster, Worker, WorkerPlugin, get_client
from odc.stac import configure_rio
from rasterio.env import set_gdal_config

from sensing.config import DaskConfig

__all__ = ["GDAL_READ_OPTIONS", "GdalCacheLimit", "configure_reads", "dask_client", "limit_block_cache"]

GDAL_READ_OPTIONS: dict[str, Any] = {
    "GDAL_HTTP_MAX_RETRY": "3",  # COG range requests: retry 429/5xx and resets three times...
    "GDAL_HTTP_RETRY_DELAY": "1",  # ...starting 1 s apart (GDAL backs off from there)
    "GDAL_HTTP_TIMEOUT": "60",  # seconds per request: a stalled server fails the scene, not the night
    "GDAL_HTTP_CONNECTTIMEOUT": "10",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # never list remote folders for sidecar files
}
"""GDAL settings for every pixel read, on the workers as in this process."""


class GdalCacheLimit(WorkerPlugin):
    """Bound GDAL's raster block cache in every worker process: by default it may take 5 % of the
    machine's memory per process, invisible to Dask's memory accounting (a worker with a memory limit
    is paused for good once that cache fills)."""

    def __init__(self, megabytes: int) -> None:
        self.megabytes = megabytes

    def setup(self, worker: Worker) -> None:
        limit_block_cache(self.megabytes)


def limit_block_cache(megabytes: int) -> None:
    """Size this process's GDAL block cache (rasterio hands the value to GDALSetCacheMax: bytes)."""
    set_gdal_config("GDAL_CACHEMAX", megabytes * 2**20)


def _configure_workers(client: Client, cfg: DaskConfig) -> None:
    """GDAL's read options and block cache bound on every worker, and the block cache here too: this
    process copies the layers' parts into COGs (left at GDAL's default, its cache grew with the scene:
    258 MB live at a full tile's peak)."""
    configure_rio(client=client, **GDAL_READ_OPTIONS)
    client.register_plugin(GdalCacheLimit(cfg.gdal_cache_mb), name="sensing-gdal-cache")
    limit_block_cache(cfg.gdal_cache_mb)


@contextlib.contextmanager
def dask_client(cfg: DaskConfig) -> Iterator[Client]:
    """A Dask client for the block; set as the default scheduler while it is open.

    Empty ``cfg.address``: a local cluster with one worker process per core (at most 4) and the
    memory split between them; otherwise connect to the scheduler at that address.
    """
    if cfg.address:
        with Client(cfg.address) as client:
            _configure_workers(client, cfg)
            yield client
        return
    cores = os.cpu_count() or 1
    workers = cfg.n_workers or max(1, min(cores, 4))
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=max(1, cores // workers),
            memory_limit=f"{cfg.worker_memory_mb}MB" if cfg.worker_memory_mb else "auto",
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,
    ):
        _configure_workers(client, cfg)
        yield client


def configure_reads(extra: Mapping[str, str]) -> None:
    """Apply GDAL_READ_OPTIONS plus a source's own options to this process and, when a Dask
    distributed client is active, to its workers (odc-stac installs them as a worker plugin)."""
    options = {**GDAL_READ_OPTIONS, **extra}
    configure_rio(**options)
    try:
        client = get_client()
    except ValueError:
        return
    if extra:
        configure_rio(client=client, **options)
