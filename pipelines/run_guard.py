"""Runs that die without a word (kill -9, power loss) are found by the next run and marked Crashed.

A running flow holds an OS lock (``flock``) on its marker ``outputs/runs/active/<flow run id>.json``;
the kernel releases it when the process dies, however it dies. A later run that can take the lock
of a marker left behind knows its writer is gone: it marks that flow run Crashed in Prefect (unless a
worker already gave it a final state) and removes the marker. Prefect's ephemeral API has no
background service that would ever do this, and a run killed under a worker is covered as well.

The marker outlives the run's work: it records when the work finished and is removed (its lock
released) only by :func:`release_run`, a hook on the flow run's final state, which Prefect calls once
the API has recorded that state. A run that finished its work but could not report its final state
(the Prefect API went away) leaves its marker too, and the next run marks it Crashed, saying so:
otherwise it would stay Running on the server for good.
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
from typing import IO, Any

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.states import Crashed

__all__ = ["active_run", "mark_dead_runs_crashed", "release_run", "running"]

_held: dict[str, tuple[Path, IO[str]]] = {}
"""This process's markers of runs whose work is done, held until their final state is recorded."""


@contextlib.contextmanager
def active_run(runs_dir: Path, run_id: str, flow: str) -> Iterator[None]:
    """Hold the marker of flow run ``run_id`` from the block's start until :func:`release_run` or the
    end of the process; when the block ends, the marker records when and how the work finished."""
    folder = runs_dir / "active"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}.json"
    info = {"flow_run_id": run_id, "flow": flow, "pid": os.getpid(), "host": socket.gethostname(),
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
    staging = folder / f".{run_id}.json.tmp"
    fh = staging.open("w")
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    fh.write(json.dumps(info))
    fh.flush()
    staging.rename(path)  # visible only once locked: a scan never takes a live run for dead
    outcome = "completed"
    try:
        yield
    except BaseException as exc:
        outcome = f"failed: {type(exc).__name__}: {exc}"[:300]
        raise
    finally:
        info |= {"work_finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "outcome": outcome}
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(info))  # in place: the lock stays on this file
        fh.flush()
        _held[run_id] = (path, fh)


def release_run(run_id: str) -> None:
    """Remove the marker of this process's flow run ``run_id`` and release its lock (once Prefect has
    recorded the run's final state); nothing if this process holds none."""
    path, fh = _held.pop(run_id, (None, None))
    if path is None or fh is None:
        return
    path.unlink(missing_ok=True)
    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    fh.close()


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
            finished = info.get("work_finished")
            process = f"process {info.get('pid')} on {info.get('host')}"
            if run.state is None or not run.state.is_final():
                message = (
                    f"{process} finished its work at {finished} ({info.get('outcome')}) but its final state "
                    f"never reached the Prefect API (unreachable, or the process died first) (found by {found_by})"
                    if finished
                    else f"{process} died while running (found by {found_by})"
                )
                client.set_flow_run_state(run.id, Crashed(message=message), force=True)
            elif finished:  # its final state was recorded: only the marker was left behind
                path.unlink(missing_ok=True)
                continue
            found.append(info | {"previous_state": previous})
            path.unlink(missing_ok=True)
    return found
