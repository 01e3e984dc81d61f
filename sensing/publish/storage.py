"""Atomic file publishing: write beside the target under a temporary name, then ``os.replace``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "file_checksum", "write_json_atomic"]


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
