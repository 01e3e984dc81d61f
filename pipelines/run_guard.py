"""Runs that die without a word (kill -9, power loss) are found by the next run and marked Crashed.

A running flow holds an OS lock (``flock``) on its marker ``outputs/runs/active/<flow run id>.json``;
the kernel releases it when the process dies, however it dies. A later run that can take the lock
of a marker left behind knows its writer is gone: it marks that flow run Crashed in Prefect (unless a
worker already gave it a final state) and removes the marker. Prefect's ephemeral API has no
background service that would ever do this, and a run killed under a worker is covered as well.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.states import Crashed

__all__ = ["active_run", "mark_dead_runs_crashed", "running"]


@contextlib.contextmanager
def active_run(runs_dir: Path, run_id: str, flow: str) -> Iterator[None]:
    """Hold the marker of flow run ``run_id`` while the block runs; remove it after."""
    folder = runs_dir / "active"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}.json"
    info = {"flow_run_id": run_id, "flow": flow, "pid": os.getpid(), "host": socket.gethostname(),
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
    staging = folder / f".{run_id}.json.tmp"
    with staging.open("w") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        fh.write(json.dumps(info))
        fh.flush()
        staging.rename(path)  # visible only once locked: a scan never takes a live run for dead
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _markers(runs_dir: Path) -> Iterator[tuple[Path, dict[str, Any], bool]]:
    """Every marker with what it says and whether its process still holds it (is alive). While a
    dead one is being handled (the body of the loop) this process holds its lock."""
    for path in sorted((runs_dir / "active").glob("*.json")):
        with path.open() as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                alive = False
            except BlockingIOError:
                alive = True
            try:
                info = json.loads(path.read_text() or "{}")
            except json.JSONDecodeError:
                info = {}
            yield path, info | {"flow_run_id": info.get("flow_run_id", path.stem)}, alive


def running(runs_dir: Path) -> list[dict[str, Any]]:
    """The runs in progress now (their process holds its marker)."""
    return [info for _, info, alive in _markers(runs_dir) if alive]


def mark_dead_runs_crashed(runs_dir: Path, found_by: str) -> list[dict[str, Any]]:
    """Mark every flow run whose process died mid-run Crashed; return what was found."""
    found = []
    with get_client(sync_client=True) as client:
        for path, info, alive in _markers(runs_dir):
            if alive:
                continue
            try:
                run = client.read_flow_run(info["flow_run_id"])
            except ObjectNotFound:  # a run of another Prefect API (another server or database)
                found.append(info | {"previous_state": "unknown to this Prefect API"})
                path.unlink(missing_ok=True)
                continue
            previous = run.state.type.value if run.state else None
            if run.state is None or not run.state.is_final():
                message = f"process {info.get('pid')} on {info.get('host')} died while running (found by {found_by})"
                client.set_flow_run_state(run.id, Crashed(message=message), force=True)
            found.append(info | {"previous_state": previous})
            path.unlink(missing_ok=True)
    return found
