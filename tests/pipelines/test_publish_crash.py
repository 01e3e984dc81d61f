"""kill -9 of the publishing process between its steps: the previous version stays intact or the new
one complete, nothing half-written is referenced, and a rerun completes. Reprocessing keeps the
previous version addressable."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sensing.config import load_settings
from sensing.publish.cog import validate_cog
from sensing.publish.layout import OutputLayout
from sensing.publish.verify import verify_outputs
from tests.conftest import ROOT

DAY = dt.date(2021, 8, 1)
WRITER = """
import datetime as dt, os, signal, sys
from pathlib import Path
import sensing.publish.cog as cog
import sensing.workflow as workflow
from sensing.config import load_settings
from sensing.registry import load_water_bodies
from sensing.sources import open_source

config, step, calls = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
module, name = {
    "cog": (cog, "validate_cog"),  # scratch COGs written, none moved into place yet
    "item": (workflow, "write_item"),  # COGs in place, STAC items not (yet all) written
    "collections": (workflow, "write_collections"),
    "layers": (workflow, "write_layer_index"),
}.get(step, (None, None))
if module is not None:
    real, seen = getattr(module, name), []

    def crash(*args, **kwargs):
        seen.append(1)
        if len(seen) >= calls:
            os.kill(os.getpid(), signal.SIGKILL)  # no finally, no atexit: as a power cut would
        return real(*args, **kwargs)

    setattr(module, name, crash)
settings = load_settings(config)
bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
source = open_source(settings.source, settings.data_dir)
day = dt.date.fromisoformat(sys.argv[4])
scene = next(s for s in workflow.scenes_for_period(settings, source, day, day))
result = workflow.process_scene(settings, source, scene, bodies, force=True)
workflow.publish_run(settings, [result])
"""


def _publish(config: Path, step: str = "none", calls: int = 1) -> int:
    script = config.parent / "writer.py"
    script.write_text(WRITER)
    done = subprocess.run(
        [sys.executable, str(script), str(config), step, str(calls), DAY.isoformat()],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.returncode


def _consistent(root: Path) -> dict[str, str]:
    """Every catalogued file exists and is valid, every visible COG validates; returns the water
    item's version for the day."""
    for entry in json.loads((root / "layers.json").read_text())["layers"]:
        validate_cog(root / entry["cog"])
    for item_path in (root / "stac").rglob("*.json"):
        item = json.loads(item_path.read_text())
        for asset in item.get("assets", {}).values():
            target = (item_path.parent / asset["href"]).resolve()
            assert target.exists(), f"{item_path.name} names a missing {asset['href']}"
            if target.suffix == ".tif":
                validate_cog(target)
    for tif in (root / "layers").rglob("*.tif"):
        if not tif.name.startswith("."):  # hidden: a killed writer's scratch, never catalogued
            validate_cog(tif)
    item = json.loads(OutputLayout(root).item("water", "kapchagay-dam", DAY).read_text())
    return {"version": item["properties"]["sensing:version"]}


@pytest.mark.parametrize(
    ("step", "calls"), [("cog", 1), ("cog", 2), ("item", 1), ("item", 2), ("collections", 1), ("layers", 1)]
)
def test_a_writer_killed_between_steps_leaves_a_consistent_catalog(
    demo_copy: Path, step: str, calls: int
) -> None:
    config = demo_copy / "config.yaml"
    assert _publish(config) == 0
    old = load_settings(config)
    root = old.output_dir
    assert _consistent(root)["version"] == old.version_key()
    doc = yaml.safe_load(config.read_text())
    doc["water"]["fixed_threshold"] = 0.05  # a new algorithm configuration: a new version
    config.write_text(yaml.safe_dump(doc))
    new = load_settings(config)
    assert new.version_key() != old.version_key()

    assert _publish(config, step, calls) == -9  # killed
    assert _consistent(root)["version"] in (old.version_key(), new.version_key())

    assert _publish(config) == 0  # the rerun repairs what the killed run left, its scratch files too
    assert _consistent(root)["version"] == new.version_key()
    assert verify_outputs(root).findings == []
    layout = OutputLayout(root)
    validate_cog(layout.layer("water", "kapchagay-dam", DAY, old.version_key()))  # still addressable
    validate_cog(layout.layer("water", "kapchagay-dam", DAY, new.version_key()))


@pytest.mark.parametrize("keep", [None, 0, 1])
def test_superseded_versions_are_kept_as_configured(demo_copy: Path, keep: int | None) -> None:
    config = demo_copy / "config.yaml"
    versions = []
    for threshold in (0.0, 0.05, 0.1):  # three algorithm configurations: three versions of the day
        doc = yaml.safe_load(config.read_text())
        doc["water"]["fixed_threshold"] = threshold
        doc["publish"] = {"keep_superseded": keep}
        config.write_text(yaml.safe_dump(doc))
        assert _publish(config) == 0
        versions.append(load_settings(config).version_key())
    layout = OutputLayout(load_settings(config).output_dir)
    present = [v for v in versions if layout.layer("water", "kapchagay-dam", DAY, v).exists()]
    expected = {None: versions, 0: versions[2:], 1: versions[1:]}[keep]
    assert present == expected
    assert _consistent(layout.root)["version"] == versions[-1]
