"""Process environment for Prefect: its home inside the project's data folder, never the user's home.

Must run before ``prefect`` is first imported: Prefect reads these settings at import time.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

__all__ = ["configure_prefect", "running_scheduler", "scheduler_file"]


def configure_prefect(data_dir: Path) -> None:
    """Point Prefect at ``<data_dir>/prefect`` and keep it offline and quiet.

    Without ``PREFECT_API_URL`` Prefect starts its ephemeral local API (SQLite in that folder) once
    per process; an explicitly set ``PREFECT_API_URL`` (a real ``prefect server``) is respected, and
    while ``sensing schedule`` runs on this data folder its server is used.
    """
    home = (data_dir / "prefect").resolve()
    scheduler = running_scheduler(data_dir)
    if scheduler and "PREFECT_API_URL" not in os.environ:
        os.environ["PREFECT_API_URL"] = scheduler  # runs show in its UI, beside the scheduled ones
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # The library's loggers and Python warnings (captured into "py.warnings") reach the runs' logs.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "sensing,py.warnings")
    logging.captureWarnings(True)
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


def scheduler_file(data_dir: Path) -> Path:
    """Where ``sensing schedule`` records its server's API URL and its own pid while it runs."""
    return data_dir / "prefect-server" / "scheduler.json"


def running_scheduler(data_dir: Path) -> str | None:
    """The API URL of the ``sensing schedule`` serving this data folder, if it is still alive."""
    try:
        info = json.loads(scheduler_file(data_dir).read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(info["url"])
