"""Shared fixtures: a small demo archive (30 m), its settings, and one Prefect API per session; at the
end of the session every catalogue the tests published is checked with ``sensing verify``'s checker."""

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


DAMAGED: set[Path] = set()
"""Temporary folders of tests that damage a catalogue on purpose (marked ``damages_catalog``)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "damages_catalog: the test breaks a published catalogue on purpose (left out of the sweep)"
    )


@pytest.fixture(autouse=True)
def _note_damaged_catalogues(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("damages_catalog"):
        DAMAGED.add(request.getfixturevalue("tmp_path"))


@pytest.fixture(scope="session", autouse=True)
def every_published_catalogue_verifies(tmp_path_factory: pytest.TempPathFactory):
    """After the last test: every ``outputs`` folder the suite published passes the checker of
    ``sensing verify`` (schema-valid STAC, assets with their recorded size and checksum, strictly valid
    COGs, no orphan or partial files), except those of tests marked ``damages_catalog``."""
    yield
    from sensing.publish.verify import verify_outputs

    base = tmp_path_factory.getbasetemp()
    roots = [p.parent for p in base.glob("**/outputs/stac") if not any(p.is_relative_to(d) for d in DAMAGED)]
    findings = [f"{f.kind} {f.path}: {f.detail}" for root in roots for f in verify_outputs(root).findings]
    listed = "\n".join(findings[:50])
    assert not findings, f"{len(findings)} finding(s) over {len(roots)} catalogue(s):\n{listed}"
