"""kill -9 of a nightly flow's process mid-night, then a rerun: the killed run is marked Crashed, not
left Running; the rerun completes, skipping the scenes already published; nothing partial is visible."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import rasterio

from sensing.config import load_settings
from sensing.publish.cog import validate_cog
from sensing.publish.layout import OutputLayout

SENSING = str(Path(sys.executable).with_name("sensing"))


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}


def _nightly(config: Path) -> list[str]:
    return [SENSING, "run", "nightly", "--config", str(config), "--night", "2022-12-31"]


def _visible_outputs_are_whole(layout: OutputLayout) -> None:
    """Every published STAC item points at a valid COG, and every visible GeoTIFF opens."""
    for item in layout.stac_root.glob("*/*/*.json"):
        doc = json.loads(item.read_text())
        cog = (item.parent / doc["assets"]["data"]["href"]).resolve()
        validate_cog(cog)  # raises InvalidCogError
    for path in (layout.root / "layers").rglob("*.tif"):
        if not any(part.startswith(".") for part in path.relative_to(layout.root).parts):
            with rasterio.open(path) as ds:
                ds.read(1, window=((0, 1), (0, 1)))


def test_a_killed_night_is_marked_crashed_and_the_rerun_completes_without_redoing_work(
    demo_copy: Path,
) -> None:
    config = demo_copy / "config.yaml"
    layout = OutputLayout(load_settings(config).output_dir)
    water_items = layout.stac_root / "water"
    last_items = layout.stac_root / "ndvi"  # a scene's items are written in product order; ndvi last
    night = subprocess.Popen(
        _nightly(config),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while len(list(last_items.glob("*/*.json"))) < 2:
        assert night.poll() is None, "the night ended before it could be killed"
        assert time.monotonic() < deadline, "no scene published in 300 s"
        time.sleep(0.2)
    markers = list((layout.runs / "active").glob("*.json"))
    assert len(markers) == 1
    killed = json.loads(markers[0].read_text())["flow_run_id"]
    night.send_signal(signal.SIGKILL)
    night.wait()
    os.killpg(night.pid, signal.SIGKILL)  # its orphaned Dask workers, as a machine restart would
    published = {p.name for p in last_items.glob("*/*.json")}  # scenes with every product's item
    assert 2 <= len(published) < 10
    _visible_outputs_are_whole(layout)

    rerun = subprocess.run(_nightly(config), env=_env(), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    report = json.loads(max(layout.runs.glob("*.json")).read_text())
    assert [r["flow_run_id"] for r in report["recovered"]] == [killed]
    assert report["recovered"][0]["previous_state"] == "RUNNING"
    assert report["scenes"]["skipped"] >= len(published)
    assert report["scenes"]["processed"] + report["scenes"]["skipped"] == 10
    assert report["scenes"]["failed"] == 0
    assert len(report["layers"]) == 4 * report["scenes"]["processed"]  # the report links every new layer
    assert all(Path(layer).is_file() for layer in report["layers"])
    assert len(list(water_items.glob("*/*.json"))) == 10
    _visible_outputs_are_whole(layout)
    assert not list((layout.runs / "active").glob("*.json"))

    status = subprocess.run(
        [SENSING, "status", "--config", str(config), "--json"], env=_env(), capture_output=True, text=True
    )
    assert status.returncode == 0, status.stderr
    runs = {r["id"]: r for r in json.loads(status.stdout)["runs"]}
    assert runs[killed]["state"] == "Crashed"
    assert "died while running" in runs[killed]["message"]
    assert runs[report["run_id"]]["state"] == "Completed"
