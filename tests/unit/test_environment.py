"""Process set-up: Prefect's home in the data folder, Dask at a configured address."""

from __future__ import annotations

import os
from pathlib import Path

import dask.array as da
import pytest
from distributed import LocalCluster

from pipelines.environment import configure_prefect
from sensing.cluster import dask_client
from sensing.config import DaskConfig


def test_prefect_home_lives_in_the_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PREFECT_HOME", "PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK"):
        monkeypatch.delenv(name, raising=False)
    configure_prefect(tmp_path / "data")
    assert os.environ["PREFECT_HOME"] == str((tmp_path / "data" / "prefect").resolve())
    assert (tmp_path / "data" / "prefect").is_dir()
    assert os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


def test_dask_client_connects_to_a_configured_scheduler() -> None:
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        dask_client(DaskConfig(address=cluster.scheduler_address)) as client,
    ):
        assert client.scheduler.address == cluster.scheduler_address
        assert da.ones((100, 100), chunks=50).sum().compute() == 10000
        assert len(client.scheduler_info()["workers"]) == 1
