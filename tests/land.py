"""Helpers of the land tests: a demo archive of chosen dates published through the CLI, and layers
read back in physical units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import yaml
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import write_test_config


def published_demo(folder: Path, demo: dict[str, Any], reprocess: list[str], **config: Any) -> Path:
    """A test config in ``folder`` whose demo archive has the ``demo`` settings, generated and then
    reprocessed with ``reprocess`` (the arguments after ``sensing reprocess``); its path."""
    path = write_test_config(folder)
    doc = yaml.safe_load(path.read_text())
    doc["demo"].update(demo)
    path.write_text(yaml.safe_dump(doc | config))
    runner = CliRunner()
    for args in (["demo-data"], ["reprocess", "--aoi", "kapchagay-dam", *reprocess]):
        done = runner.invoke(app, [*args, "--config", str(path)])
        assert done.exit_code == 0, done.output
    return path


def decoded(path: Path) -> np.ndarray:
    """Band 1 of a published layer as float64 physical values (scale and offset applied), NaN where
    no data."""
    with rasterio.open(path) as ds:
        return ds.read(1, masked=True).astype("float64").filled(np.nan) * ds.scales[0] + ds.offsets[0]
