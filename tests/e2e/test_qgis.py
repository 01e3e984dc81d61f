"""QGIS itself (Debian's python3-qgis, headless) adds the server's layers over WMTS, WMS and XYZ and
renders them; the Time dimension picks the date (a frozen winter look differs from a summer one)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasterio.warp import transform_bounds

from sensing.config import Settings
from sensing.serve.app import create_app
from tests.servers import serve_asgi

pytestmark = pytest.mark.slow
SYSTEM_PYTHON = "/usr/bin/python3"
PROBE = Path(__file__).with_name("qgis_probe.py")
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"


def _has_qgis() -> bool:
    try:
        return (
            subprocess.run(
                [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=60
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module")
def served(nightly_run: tuple[Settings, dict]) -> Iterator[tuple[str, list[dict]]]:
    if not _has_qgis():
        pytest.skip("Debian's python3-qgis is not installed (make test installs it when it may)")
    settings, _ = nightly_run
    layers = [
        e
        for e in json.loads((settings.output_dir / "layers.json").read_text())["layers"]
        if e["product"] == "water"
    ]
    with serve_asgi(create_app(settings.output_dir)) as base:
        yield base, sorted(layers, key=lambda e: e["date"])


def _probe(base: str, entry: dict, home: Path) -> dict[str, dict]:
    """One QGIS session with its own profile (QGIS keeps a network cache in it)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    box = transform_bounds("EPSG:4326", "EPSG:3857", *entry["bounds"])
    home.mkdir()
    done = subprocess.run(
        [SYSTEM_PYTHON, str(PROBE), base, entry["id"], entry["date"], str(ARTIFACTS), ",".join(map(str, box))],
        capture_output=True, text=True, timeout=600, env={**os.environ, "HOME": str(home)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_qgis_loads_and_renders_wmts_wms_and_xyz_for_a_chosen_date(
    served: tuple[str, list[dict]], tmp_path: Path
) -> None:
    base, entries = served
    summer = next(e for e in entries if e["date"][5:7] in ("07", "08"))
    winter = next(e for e in entries if e["date"][5:7] in ("01", "02"))
    seen = {entry["date"]: _probe(base, entry, tmp_path / entry["date"]) for entry in (summer, winter)}
    for date, connections in seen.items():
        for name, drawn in connections.items():
            assert drawn["valid"], f"QGIS could not add the {name} layer of {date}"
            assert drawn["water"] + drawn["dry"] + drawn["ice"] > 0.5, (name, date, drawn)
    for name in ("wmts", "wms", "xyz"):
        assert seen[summer["date"]][name]["water"] > 0.1 and seen[summer["date"]][name]["ice"] < 0.01
        assert seen[winter["date"]][name]["ice"] > 0.1  # the frozen reservoir: the date was honoured
