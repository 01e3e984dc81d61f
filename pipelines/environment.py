"""Process environment for Prefect: its home inside the project's data folder, never the user's home.

Must run before ``prefect`` is first imported: Prefect reads these settings at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["configure_prefect"]


def configure_prefect(data_dir: Path) -> None:
    """Point Prefect at ``<data_dir>/prefect`` and keep it offline and quiet.

    Without ``PREFECT_API_URL`` Prefect starts its ephemeral local API (SQLite in that folder) once
    per process; an explicitly set ``PREFECT_API_URL`` (a real ``prefect server``) is respected.
    """
    home = (data_dir / "prefect").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
