"""What every ``sensing`` sub-command shares: the console, the ``--config`` option and settings loading."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sensing.config import Settings, load_settings
from sensing.errors import SensingError

__all__ = ["DEFAULT_CONFIG", "ConfigOpt", "console", "fail", "parse_date", "settings_or_exit"]

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "demo.yaml"
ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="YAML settings (paths inside are relative to it).")
]
console = Console()


def fail(exc: Exception) -> typer.Exit:
    """Print ``exc`` as the command's error; the exit (status 2) to raise."""
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(2)


def settings_or_exit(config: Path) -> Settings:
    """The settings of ``config``, or exit 2 with the error naming the file and field."""
    try:
        return load_settings(config)
    except SensingError as exc:
        raise fail(exc) from exc


def parse_date(value: str, option: str) -> dt.date:
    """``value`` as a date, or exit 2 naming ``option``."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(ValueError(f"{option}: {value!r} is not a date (YYYY-MM-DD)")) from None
