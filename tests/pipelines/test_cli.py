"""The ``sensing`` command: help a newcomer understands, errors that name the option."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner, Result

from pipelines.cli import app
from tests.conftest import ROOT

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo-data", "run", "reprocess", "serve", "schedule", "deploy", "status"):
        assert command in result.output


def test_the_images_entrypoints_run_sensing_and_reject_an_unknown_role() -> None:
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    entrypoint = [shutil.which("bash") or "bash", str(ROOT / "scripts" / "entrypoint.sh")]
    shown = subprocess.run([*entrypoint, "run", "status", "--help"], env=env, capture_output=True, text=True)
    assert shown.returncode == 0 and "stale layers" in shown.stdout
    wrong = subprocess.run([*entrypoint, "scheduler"], env=env, capture_output=True, text=True)
    assert wrong.returncode == 2 and "serve, schedule, worker or run" in wrong.stderr


def _reprocess(demo_root: Path, aoi: str, start: str, end: str, *more: str) -> Result:
    options = [
        "--aoi",
        aoi,
        "--start",
        start,
        "--end",
        end,
        *more,
        "--config",
        str(demo_root / "config.yaml"),
    ]
    return runner.invoke(app, ["reprocess", *options])


def test_reprocess_rejects_an_unknown_aoi(demo_root: Path) -> None:
    result = _reprocess(demo_root, "balkhash", "2022-01-01", "2022-02-01")
    assert result.exit_code == 2
    assert "--aoi" in result.output and "balkhash" in result.output


def test_reprocess_rejects_reversed_dates(demo_root: Path) -> None:
    result = _reprocess(demo_root, "kapchagay-dam", "2022-03-01", "2022-02-01")
    assert result.exit_code == 2 and "after" in result.output


def test_reprocess_rejects_a_malformed_date(demo_root: Path) -> None:
    result = _reprocess(demo_root, "kapchagay-dam", "2022-13-01", "2022-02-01")
    assert result.exit_code == 2 and "--start" in result.output


def test_unknown_product_is_named(demo_root: Path) -> None:
    result = _reprocess(demo_root, "kapchagay-dam", "2022-01-01", "2022-02-01", "--products", "water,lai")
    assert result.exit_code == 2 and "lai" in result.output


def test_unknown_backscatter_units_are_named(demo_root: Path) -> None:
    result = _reprocess(demo_root, "kapchagay-dam", "2022-01-01", "2022-02-01", "--units", "decibel")
    assert result.exit_code == 2 and "--units: 'decibel' is not one of linear, db, auto" in result.output


def test_demo_data_if_absent_keeps_the_archive(demo_root: Path) -> None:
    catalog = demo_root / "data" / "demo-archive" / "catalog.json"
    stamp = catalog.stat().st_mtime_ns
    result = runner.invoke(app, ["demo-data", "--config", str(demo_root / "config.yaml"), "--if-absent"])
    assert result.exit_code == 0 and "present" in result.output
    assert catalog.stat().st_mtime_ns == stamp
