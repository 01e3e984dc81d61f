"""Faults of the machine under a run (issue 9): the disk filling up inside GDAL's COG write, an output
folder that cannot be written, a Dask worker killed mid-computation, the Prefect API going away
mid-run. In each case what was published before stays byte for byte, nothing partial is visible,
``sensing verify`` passes, and the next run completes the work.

The disk and permission faults run the publishing steps of a flow (``process_scene`` then
``publish_run``, as its tasks do) in a subprocess without Prefect: a flow's own start-up costs ~30 s
here and adds nothing to what is tested.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml
from distributed import Client
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.prefect_server import LocalPrefectServer
from sensing.config import load_settings
from sensing.publish.layout import OutputLayout
from sensing.publish.storage import file_checksum
from tests.conftest import ROOT, write_test_config
from tests.servers import dask_processes, free_port

SENSING = str(Path(sys.executable).with_name("sensing"))
AOI = "kapchagay-dam"
DAY = dt.date(2021, 8, 1)
OPTIONS = {"publish": {"composites": False}}
"""The monthly composites left out: a flow's steps are then exactly the ones ``PUBLISH`` runs."""
PUBLISH = """
import datetime as dt, sys
from pathlib import Path
import sensing.workflow as workflow
from sensing.config import load_settings
from sensing.registry import load_water_bodies
from sensing.sources import open_source

settings = load_settings(Path(sys.argv[1]))
bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
source = open_source(settings.source, settings.data_dir)
start, end = (dt.date.fromisoformat(day) for day in sys.argv[2:4])
scenes = workflow.scenes_for_period(settings, source, start, end)
results = [workflow.process_scene(settings, source, scene, bodies) for scene in scenes]
workflow.publish_run(settings, results)
print("published:", [result.status for result in results])
"""


def _publish(
    config: Path,
    start: str = DAY.isoformat(),
    end: str = DAY.isoformat(),
    preexec: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The scenes of the period processed and published, then the run's catalog step, in a subprocess."""
    script = config.parent / "publish.py"
    script.write_text(PUBLISH)
    return subprocess.run(
        [sys.executable, str(script), str(config), start, end],
        cwd=ROOT, capture_output=True, text=True, timeout=300, preexec_fn=preexec, restore_signals=False,
    )  # fmt: skip


def _new_version(config: Path) -> None:
    """Another algorithm configuration: the next run publishes a new version of every layer."""
    doc = yaml.safe_load(config.read_text())
    doc["water"]["fixed_threshold"] = 0.05
    config.write_text(yaml.safe_dump(doc))


def _published_files(root: Path) -> dict[str, str]:
    """SHA-256 of every published file (run reports and lock files aside)."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).parts[0] not in ("runs", ".locks", ".publish.lock")
    }


def _leftovers(root: Path) -> list[Path]:
    """Scratch files and folders of interrupted writes anywhere under ``root``."""
    return [p for p in root.rglob("*") if ".tmp" in p.name or p.name.endswith(".parts")]


def _verify(config: Path) -> dict[str, Any]:
    """``sensing verify --json``: exits 0 with no finding, or the test fails with its findings."""
    done = CliRunner().invoke(app, ["verify", "--json", "--config", str(config)])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["findings"] == [] and report["cogs"] > 0
    return report


def _water_item_version(root: Path) -> str:
    item = json.loads(OutputLayout(root).item("water", AOI, DAY).read_text())
    return str(item["properties"]["sensing:version"])


@pytest.fixture(scope="module")
def published(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose outputs hold one published day (once for the tests of this module)."""
    folder = tmp_path_factory.mktemp("published")
    shutil.copytree(
        demo_root / "data" / "demo-archive", folder / "data" / "demo-archive", copy_function=os.link
    )
    done = _publish(write_test_config(folder, **OPTIONS))
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


@pytest.fixture()
def published_copy(published: Path, tmp_path: Path) -> Path:
    """A private copy of ``published``: its config.yaml, archive (read only: hard links) and outputs."""
    folder = tmp_path / "demo"
    shutil.copytree(
        published / "data" / "demo-archive", folder / "data" / "demo-archive", copy_function=os.link
    )
    shutil.copytree(published / "data" / "outputs", folder / "data" / "outputs")
    write_test_config(folder, **OPTIONS)
    return folder


# --- 1. the disk fills up during a COG write --------------------------------------------------------


def _file_size_limit(limit: int) -> Callable[[], None]:
    """preexec_fn: files of the child may not grow past ``limit`` bytes (a full disk, as GDAL sees it:
    its writes fail, EFBIG instead of ENOSPC); SIGXFSZ ignored so that the write fails rather than
    the signal killing the process."""

    def limit_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_files


@pytest.mark.parametrize("where", ["cog", "parts"])
def test_a_disk_full_during_a_cog_write_fails_clearly_and_leaves_the_published_version(
    published_copy: Path, where: str
) -> None:
    config = published_copy / "config.yaml"
    root = load_settings(config).output_dir
    old_version = _water_item_version(root)
    before = _published_files(root)
    ndwi = OutputLayout(root).layer("ndwi", AOI, DAY, old_version)
    if where == "cog":  # the scratch parts (512 px, int16: < 0.6 MB) fit; the index COG is cut short
        limit = ndwi.stat().st_size - 4096  # near its end: what is there still passes strict validation
        assert limit > 1_000_000
    else:  # the first scratch part of an index layer does not fit
        limit = 64 * 1024

    _new_version(config)
    full = _publish(config, preexec=_file_size_limit(limit))
    assert full.returncode != 0, f"the run succeeded on a full disk: {full.stdout}"
    error = full.stderr.strip().splitlines()[-1]
    assert "WriteError" in error and "File too large (EFBIG)" in error, error
    layer = "ndwi.tif" if where == "cog" else ".tif.parts/.part-"
    assert layer in error, error
    after = _published_files(root)
    assert {name: after.get(name) for name in before} == before  # every published file as it was
    new_version = load_settings(config).version_key()
    assert all(f"/{new_version}/" in name for name in after.keys() - before.keys())  # no item names them
    assert _water_item_version(root) == old_version
    assert not _leftovers(root)
    _verify(config)
    if where == "parts":
        return  # the next run after a failed COG write (below) shows the repair

    rerun = _publish(config)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert _water_item_version(root) != old_version
    assert all((root / name).is_file() for name in before if "/" + old_version + "/" in name)
    assert not _leftovers(root)
    _verify(config)


@pytest.mark.damages_catalog
def test_verify_reports_a_cog_cut_short_whose_header_validates(published_copy: Path) -> None:
    """What a full disk used to publish: GDAL's COG driver reported success, the file was truncated
    after its header and passed strict validation; its item's size and checksum were the short file's."""
    config = published_copy / "config.yaml"
    _verify(config)
    root = load_settings(config).output_dir
    cog = OutputLayout(root).layer("ndwi", AOI, DAY, _water_item_version(root))
    cog.write_bytes(cog.read_bytes()[:-4096])
    item = OutputLayout(root).item("ndwi", AOI, DAY)
    doc = json.loads(item.read_text())
    asset = doc["assets"]["data"]
    assert {"file:size", "file:checksum"} <= asset.keys()
    asset |= {"file:size": cog.stat().st_size, "file:checksum": file_checksum(cog)}  # as it was published
    item.write_text(json.dumps(doc))
    done = CliRunner().invoke(app, ["verify", "--json", "--config", str(config)])
    assert done.exit_code == 1, done.output
    findings = json.loads(done.output)["findings"]
    assert [(f["kind"], Path(f["path"]).name) for f in findings] == [("invalid-cog", "ndwi.tif")]
    assert "past the end of the file" in findings[0]["detail"]


# --- 2. an output folder that cannot be written ----------------------------------------------------

PR_CAPBSET_DROP = 24
DAC_CAPABILITIES = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


def _without_root_overrides() -> Callable[[], None] | None:
    """preexec_fn making file permissions bind the child: as root, drop the capabilities that let root
    write anything (dropped from the bounding set, they are gone after exec); None when not root.

    A chmod stops no root process otherwise; switching to another user is no way out here, as the
    interpreter lives under /root (mode 700).
    """
    if os.geteuid() != 0:
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def drop() -> None:
        for capability in DAC_CAPABILITIES:
            if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    return drop


def test_a_read_only_layer_folder_fails_the_run_clearly_and_loses_nothing(published_copy: Path) -> None:
    config = published_copy / "config.yaml"
    root = load_settings(config).output_dir
    old_version = _water_item_version(root)
    before = _published_files(root)
    folder = root / "layers" / "ndwi"
    modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
    _new_version(config)
    try:
        for path in modes:
            path.chmod(0o555 if path.is_dir() else 0o444)
        denied = _publish(config, preexec=_without_root_overrides())
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    assert denied.returncode != 0, f"the run wrote into a read-only folder: {denied.stdout}"
    error = denied.stderr.strip().splitlines()[-1]
    assert "Permission denied" in error and str(folder / AOI) in error, error
    assert _published_files(root) == before
    assert _water_item_version(root) == old_version
    assert not _leftovers(root)
    _verify(config)

    rerun = _publish(config)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert _water_item_version(root) != old_version
    _verify(config)


# --- 3. a Dask worker killed mid-computation -------------------------------------------------------


class WorkerKiller(threading.Thread):
    """Waits until a worker of the cluster at ``address`` is computing while it holds results, then
    kills that worker process (not its nanny, which starts a new one) with SIGKILL, as the OOM killer
    would."""

    def __init__(self, address: str) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.killed: dict[str, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        with Client(self.address, timeout=30) as client:
            while not self.stop.is_set():
                busy = client.run_on_scheduler(
                    lambda dask_scheduler: [
                        ws.address for ws in dask_scheduler.workers.values() if ws.processing and ws.has_what
                    ]
                )
                if busy:
                    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    self.killed = {busy[0]: pid}
                    return
                time.sleep(0.05)


def _env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | extra


def _pixels(root: Path) -> dict[str, np.ndarray]:
    layers = {}
    for path in sorted((root / "layers").rglob("*.tif")):
        with rasterio.open(path) as ds:
            layers[str(path.relative_to(root))] = ds.read()
    return layers


def _latest_report(root: Path) -> dict[str, Any]:
    return dict(json.loads(max((root / "runs").glob("*.json")).read_text()))


def test_a_dask_worker_killed_mid_run_is_replaced_and_the_outputs_equal_an_undisturbed_run(
    published: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(
        published / "data" / "demo-archive", folder / "data" / "demo-archive", copy_function=os.link
    )
    config = write_test_config(folder, **OPTIONS)
    day = DAY.isoformat()
    with dask_processes(2, "1GB", tmp_path) as cluster:
        killer = WorkerKiller(cluster.address)
        killer.start()
        run = subprocess.run(
            [SENSING, "reprocess", "--config", str(config), "--aoi", AOI, "--start", day, "--end", day],
            env=_env(SENSING_DASK_ADDRESS=cluster.address), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        killer.stop.set()
        killer.join(timeout=30)
        with Client(cluster.address) as client:
            client.wait_for_workers(2, timeout=120)
            workers_now = client.run(os.getpid)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert killer.killed, "no worker was ever computing while holding results: nothing was killed"
    (pid,) = killer.killed.values()
    assert pid not in workers_now.values() and len(workers_now) == 2  # its nanny started a new one

    root = load_settings(config).output_dir
    report = _latest_report(root)
    assert report["scenes"] == {"processed": 1, "skipped": 0, "failed": 0}, report["failed"]
    undisturbed = published / "data" / "outputs"  # the same day published without a fault
    ours, theirs = _pixels(root), _pixels(undisturbed)
    assert len(ours) >= 7 and ours.keys() == theirs.keys()
    for name, pixels in ours.items():
        np.testing.assert_array_equal(pixels, theirs[name], err_msg=name)
    columns = ["water_body", "date", "water_km2", "threshold", "quality"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(OutputLayout(root).water_areas)[columns],
        pd.read_parquet(OutputLayout(undisturbed).water_areas)[columns],
    )
    assert not _leftovers(root)
    _verify(config)


# --- 4. the Prefect API goes away mid-run ----------------------------------------------------------


def _flow_runs(url: str) -> dict[str, dict[str, Any]]:
    runs = httpx.post(f"{url}/flow_runs/filter", json={}, timeout=30).json()
    return {run["id"]: run for run in runs}


@pytest.mark.parametrize(
    "retries",
    [
        "1",  # Prefect's client tries each call twice: the lost run gives up within a minute
        pytest.param("5", marks=pytest.mark.soak),  # Prefect's default: it takes ~3 min to give up
    ],
)
def test_a_run_that_loses_the_prefect_server_publishes_whole_layers_and_the_next_run_reports_it(
    demo_copy: Path, tmp_path: Path, retries: str
) -> None:
    config = demo_copy / "config.yaml"
    root = load_settings(config).output_dir
    active = root / "runs" / "active"
    day = DAY.isoformat()
    command = [SENSING, "reprocess", "--config", str(config), "--aoi", AOI, "--start", day, "--end", day]
    port = free_port()
    server = LocalPrefectServer(tmp_path / "server", port=port, ui=False)
    env = _env(**server.env, PREFECT_CLIENT_MAX_RETRIES=retries)
    log = tmp_path / "run.log"
    with server, log.open("w") as out:
        run = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while not list(active.glob("*.json")):  # the run has begun its work
            assert run.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the run never started its work"
            time.sleep(0.05)
        os.killpg(server.process.pid, signal.SIGKILL)  # as a crashed server would
        server.process.wait()
        try:
            code = run.wait(timeout=500)
        finally:
            run.kill()
    # Prefect 3 orchestrates task runs client-side: the work went on and was published; only the
    # flow run's own calls (artifact, final state) failed, after the client's retries.
    assert code != 0, log.read_text()[-3000:]
    (marker,) = active.glob("*.json")  # left: no final state was recorded
    interrupted, lost = marker.stem, json.loads(marker.read_text())
    assert lost["outcome"] == "completed" and lost["work_finished"]
    assert _water_item_version(root) == load_settings(config).version_key()
    assert not _leftovers(root)
    _verify(config)

    with LocalPrefectServer(tmp_path / "server", port=port, ui=False) as server:
        assert _flow_runs(server.url)[interrupted]["state_type"] == "RUNNING"  # as the lost run left it
        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
        runs = _flow_runs(server.url)
    report = _latest_report(root)
    assert [r["flow_run_id"] for r in report["recovered"]] == [interrupted]
    assert report["recovered"][0]["previous_state"] == "RUNNING"
    assert runs[interrupted]["state_type"] == "CRASHED"
    assert "final state never reached the Prefect API" in str(runs[interrupted]["state"]["message"])
    assert runs[str(report["run_id"])]["state_type"] == "COMPLETED"
    assert report["scenes"] == {"processed": 0, "skipped": 1, "failed": 0}
    assert not list(active.glob("*.json"))
    assert not _leftovers(root)
    _verify(config)
