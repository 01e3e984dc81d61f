"""W1's Prefect overhead is the flow against the library doing the same work: the benchmarks run ours
on the products its peers write, nothing more (the flow also published monthly NDVI composites, 28 %
of its wall time, until they were switched off here), and the library contender runs without
Prefect (it imported Prefect for one constant: ~480 of W1's profile samples went to importing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from sensing.config import load_settings

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture()
def bench_scripts(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, ModuleType]:
    monkeypatch.syspath_prepend(str(BENCH))
    import w1  # type: ignore[import-not-found]
    import w3  # type: ignore[import-not-found]

    return w1, w3


def _product_switches(config: Path) -> dict[str, bool]:
    """Every on/off switch of the publish section: each turns on products beyond the scenes' own."""
    publish = load_settings(config).publish.model_dump()
    return {name: value for name, value in publish.items() if isinstance(value, bool)}


def test_w1_and_w3_runs_switch_off_every_product_beyond_the_scenes(
    bench_scripts: tuple[ModuleType, ModuleType], tmp_path: Path
) -> None:
    w1, w3 = bench_scripts
    tile = {"proj:transform": [10.0, 0.0, 600000.0, 0.0, -10.0, 4900000.0], "proj:shape": [1000, 1000]}
    (tmp_path / "w1").mkdir()
    (tmp_path / "w3").mkdir()
    configs = {
        "w1": w1.write_config(tmp_path / "w1", tmp_path / "archive", {"assets": {"B03": tile}}),
        "w3": w3.write_config(tmp_path / "w3", tmp_path / "archive"),
    }
    for workload, config in configs.items():
        switches = _product_switches(config)
        assert {"summaries", "composites"} <= switches.keys()
        assert not any(switches.values()), f"{workload}: {switches}"


def test_the_library_contender_runs_without_importing_prefect() -> None:
    script = BENCH / "w1" / "sensing_library.py"
    probe = f"import runpy, sys; runpy.run_path({str(script)!r}, run_name='probe'); print('prefect' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
