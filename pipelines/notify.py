"""Failure notifications: a POST to ``alerts.failure_webhook_url`` (or SENSING_FAILURE_WEBHOOK_URL) when a
flow run fails or crashes (Prefect state hooks), when a run ends with failed scenes, and when a run is
found to have died mid-run (a kill -9 leaves no process to run a hook: the next run reports it)."""

from __future__ import annotations

import os
from typing import Any

from sensing.alerts import post_json
from sensing.config import Settings, load_settings
from sensing.errors import SensingError

__all__ = ["failure_webhook", "notify", "on_run_failure"]


def failure_webhook(settings: Settings | None) -> str | None:
    """Where failures are posted: the environment's SENSING_FAILURE_WEBHOOK_URL, else the settings'."""
    configured = settings.alerts.failure_webhook_url if settings is not None else None
    return os.environ.get("SENSING_FAILURE_WEBHOOK_URL") or configured


def _settings(config: str | None) -> Settings | None:
    try:
        return load_settings(config) if config else None
    except SensingError:  # the config itself may be what failed the run
        return None


def notify(url: str | None, event: str, body: dict[str, Any]) -> str | None:
    """POST ``{"event": event, **body}`` to ``url``; ``sent`` or why not (None without a url)."""
    return post_json(url, {"event": event, **body}) if url else None


def on_run_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect ``on_failure`` / ``on_crashed`` hook of the flows."""
    notify(
        failure_webhook(_settings(flow_run.parameters.get("config"))),
        f"flow-run-{state.type.value.lower()}",
        {"flow": flow.name, "flow_run_id": str(flow_run.id), "flow_run": flow_run.name,
         "state": state.name, "message": state.message, "parameters": flow_run.parameters},
    )  # fmt: skip
