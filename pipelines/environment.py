"""Process environment for Prefect: its home inside the project's data folder, never the user's home.

Must run before ``prefect`` is first imported: Prefect reads these settings at import time.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

__all__ = ["RunStamp", "configure_prefect", "running_scheduler", "scheduler_file", "stamp_library_records"]


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
    if os.environ.get("SENSING_LOG_FORMAT") == "json":  # one JSON object per record, run and task ids in it
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_FORMATTER", "json")


class RunStamp(logging.Filter):
    """Gives a record logged inside a Prefect flow or task run without its ids (the library's loggers,
    Python warnings) that run's ids and names, as Prefect's own run loggers carry them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "flow_run_id"):
            return True
        from prefect.context import FlowRunContext, TaskRunContext

        flow_run = getattr(FlowRunContext.get(), "flow_run", None)
        task_run = getattr(TaskRunContext.get(), "task_run", None)
        if flow_run is not None:
            record.flow_run_id, record.flow_run_name = str(flow_run.id), flow_run.name
        if task_run is not None:
            record.task_run_id, record.task_run_name = str(task_run.id), task_run.name
        return True


def stamp_library_records() -> None:
    """Install :class:`RunStamp` on the handlers Prefect gave the library's loggers (once Prefect's
    logging is set up, i.e. after ``import prefect``)."""
    for name in ("sensing", "py.warnings"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RunStamp) for f in handler.filters):
                handler.addFilter(RunStamp())


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
