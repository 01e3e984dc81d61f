"""Dask: connect to a scheduler, or start a local cluster sized to the machine."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from distributed import Client, LocalCluster

from sensing.config import DaskConfig

__all__ = ["dask_client"]


@contextlib.contextmanager
def dask_client(cfg: DaskConfig) -> Iterator[Client]:
    """A Dask client for the block; set as the default scheduler while it is open.

    Empty ``cfg.address``: a local cluster with one worker process per core (at most 4) and the
    memory split between them; otherwise connect to the scheduler at that address.
    """
    if cfg.address:
        with Client(cfg.address) as client:
            yield client
        return
    cores = os.cpu_count() or 1
    workers = cfg.n_workers or max(1, min(cores, 4))
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=max(1, cores // workers),
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
