"""Progress bars for long steps on a terminal; plain log lines elsewhere (CI, Prefect workers)."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["progress_bar"]


@contextlib.contextmanager
def progress_bar(
    description: str, total: int, logger: logging.Logger | logging.LoggerAdapter
) -> Iterator[Callable[[str], None]]:  # type: ignore[type-arg]
    """Yield ``advance(label)``: one step done. A rich bar on a TTY, an INFO log line otherwise."""
    done = 0
    if not sys.stderr.isatty():

        def log_step(label: str) -> None:
            nonlocal done
            done += 1
            logger.info("%s [%d/%d] %s", description, done, total, label)

        yield log_step
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        job = bar.add_task(description, total=total)

        def step(label: str) -> None:
            bar.update(job, advance=1, description=f"{description}: {label}")

        yield step
