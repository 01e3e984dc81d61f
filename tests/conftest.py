"""Shared fixtures: a small demo archive (30 m), its settings, and one Prefect API per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_RESOLUTION = 30.0


def write_test_config(folder: Path, **changes: object) -> Path:
    """A copy of configs/demo.yaml at 30 m (B11/B12/SCL at 60 m), its data folder inside ``folder``."""
    doc = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    doc["data_dir"] = str(folder / "data")
    doc["water_bodies"] = str(ROOT / "configs" / "water_bodies" / "demo.yaml")
    doc["aoi"]["resolution"] = TEST_RESOLUTION
    doc["demo"]["resolution"] = TEST_RESOLUTION
    doc["dask"] = {"address": "", "chunk": 512, "n_workers": 2}
    doc.update(changes)
    path = folder / "config.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with config.yaml and data/demo-archive (generated once per session)."""
    from sensing.config import load_settings
    from sensing.demo.archive import write_archive
    from sensing.registry import load_water_bodies

    folder = tmp_path_factory.mktemp("demo")
    settings = load_settings(write_test_config(folder))
    assert settings.demo is not None
    write_archive(settings.aoi, settings.demo, load_water_bodies(settings.water_bodies, settings.hydrography))
    return folder


@pytest.fixture(scope="session")
def demo_stac_api(demo_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """rustac's STAC API serving the demo archive, its COGs on a loopback file server; yields the API URL."""
    from tests.servers import file_server, publish_over_http, rustac_api

    archive = demo_root / "data" / "demo-archive"
    with file_server(archive) as base:
        docs = publish_over_http(archive / "catalog.json", base, tmp_path_factory.mktemp("api"))
        with rustac_api(*docs) as url:
            yield url


@pytest.fixture()
def demo_copy(demo_root: Path, tmp_path: Path) -> Path:
    """A private copy of the demo folder (archive included) for tests that write outputs."""
    folder = tmp_path / "demo"
    shutil.copytree(demo_root / "data" / "demo-archive", folder / "data" / "demo-archive")
    write_test_config(folder)
    return folder


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory):
    """One ephemeral Prefect API for the whole session, its home in a temporary folder."""
    home = tmp_path_factory.mktemp("prefect")
    os.environ.pop("PREFECT_API_URL", None)
    from pipelines.environment import configure_prefect

    configure_prefect(home)
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
