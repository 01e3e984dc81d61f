"""Layering rules that keep the library usable without orchestration."""

from __future__ import annotations

import ast
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "sensing"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_library_never_imports_prefect() -> None:
    offenders = [
        str(p.relative_to(LIBRARY))
        for p in LIBRARY.rglob("*.py")
        if any(n == "prefect" or n.startswith("prefect.") for n in _imports(p))
    ]
    assert offenders == []


def test_compute_does_no_io() -> None:
    forbidden = {
        "rasterio.io",
        "odc.stac",
        "pystac",
        "requests",
        "httpx",
        "socket",
        "sensing.publish",
        "sensing.sources",
    }
    for path in (LIBRARY / "compute").rglob("*.py"):
        assert not (_imports(path) & forbidden), path
