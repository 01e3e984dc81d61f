"""One nightly run over the demo archive, shared by the end-to-end modules (they only read its outputs,
or add to them as an analyst would)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensing.config import Settings, load_settings


@pytest.fixture(scope="session")
def nightly_run(demo_root: Path, prefect_api: None) -> tuple[Settings, dict]:
    from pipelines.flows import nightly

    config = demo_root / "config.yaml"
    summary = nightly(config=str(config))
    return load_settings(config), summary
