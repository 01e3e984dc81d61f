"""Inter-process locks on the output tree: OS file locks, released by the kernel if the holder dies."""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["file_lock", "slot"]


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed) for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def slot(folder: Path, slots: int, poll_s: float = 0.05) -> Iterator[int]:
    """Hold one of ``slots`` locked slots in ``folder`` for the block, waiting for one to be free: at most
    ``slots`` holders at once across every process sharing ``folder``; a dead holder's slot is freed."""
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        for number in range(slots):
            with open(folder / f"slot-{number}.lock", "a+") as fh:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                try:
                    yield number
                finally:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
                return
        time.sleep(poll_s)
