"""Atomic file publishing: write beside the target under a temporary name, then ``os.replace``."""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sensing.errors import FatalError

__all__ = [
    "WriteError",
    "atomic_path",
    "file_checksum",
    "remove_stale_temporaries",
    "write_failure",
    "write_json_atomic",
]

PROBE_BYTES = 1 << 20


class WriteError(FatalError):
    """A file could not be written (no space left on device, file size limit, no permission); the
    message names the file and the operating system's reason."""


def write_failure(path: Path, exc: BaseException, target: Path | None = None) -> BaseException:
    """The error to raise after GDAL failed (or seemed to succeed but left a short file) writing the
    scratch file ``path`` (of ``target``, the name the message gives): a :class:`WriteError` with the
    operating system's reason when writing more to ``path`` fails now, else ``exc`` itself.

    GDAL reports a failed ``write()`` only as a generic "write error" or not at all (libtiff prints
    the errno and the COG driver returns success with a truncated file), so this asks the operating
    system the same question again: it appends up to 1 MiB to ``path``, which must be a scratch file
    that the caller removes.
    """
    try:
        with open(path, "ab") as fh:
            fh.write(bytes(PROBE_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as probe:
        code = errno.errorcode.get(probe.errno or 0, "?")
        reason = f"{probe.strerror} ({code})"
        return WriteError(f"{target or path}: could not be written: {reason}; GDAL said: {exc}")
    return exc


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` atomically.

    On any exception the temporary file is removed and ``target`` is left untouched.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    # the suffix is kept last, so that format drivers (GeoPackage) see the extension they expect
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp{target.suffix}")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temporaries(target: Path) -> None:
    """Delete what killed writers of ``target`` left of their :func:`atomic_path` copies. Only for a
    caller that holds the target's lock (no other writer can be between its steps)."""
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp{glob.escape(target.suffix)}"):
        stale.unlink(missing_ok=True)


def write_json_atomic(target: Path, doc: Any) -> bool:
    """Write ``doc`` as stable, sorted JSON; return False (and write nothing) if unchanged."""
    text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if target.exists() and target.read_text() == text:
        return False
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return True


def file_checksum(path: Path) -> str:
    """SHA2-256 multihash (hex, ``1220`` prefix) as the STAC file extension expects."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "1220" + digest.hexdigest()
