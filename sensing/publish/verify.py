"""Checking a published catalogue: every STAC document valid, every asset present with its recorded
size and checksum, every data COG strictly valid, and no layer file that no item accounts for."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sensing.errors import SensingError
from sensing.publish.cog import validate_cog
from sensing.publish.stac_validation import validate_stac
from sensing.publish.storage import file_checksum

__all__ = ["Finding", "VerifyReport", "verify_outputs"]


@dataclass(frozen=True)
class Finding:
    """One problem: its kind, the file and what is wrong."""

    kind: str
    """``invalid-stac``, ``missing-asset``, ``changed-asset``, ``invalid-cog``, ``orphan`` or ``partial``."""
    path: str
    detail: str


@dataclass
class VerifyReport:
    """What :func:`verify_outputs` checked and found."""

    documents: int = 0
    assets: int = 0
    cogs: int = 0
    superseded: int = 0
    """Earlier versions of a layer kept beside the current one (not a problem)."""
    findings: list[Finding] = field(default_factory=list)


def _check_asset(href: Path, asset: dict[str, object], report: VerifyReport) -> None:
    report.assets += 1
    if not href.is_file():
        report.findings.append(Finding("missing-asset", str(href), "referenced by an item, not on disk"))
        return
    size = asset.get("file:size")
    if size is not None and href.stat().st_size != size:
        report.findings.append(
            Finding("changed-asset", str(href), f"{href.stat().st_size} bytes, item says {size}")
        )
    elif asset.get("file:checksum") and file_checksum(href) != asset["file:checksum"]:
        report.findings.append(Finding("changed-asset", str(href), "checksum differs from the item's"))
    if href.suffix == ".tif":
        report.cogs += 1
        try:
            validate_cog(href)
        except SensingError as exc:
            report.findings.append(Finding("invalid-cog", str(href), str(exc)))


def verify_outputs(root: Path) -> VerifyReport:
    """Verify the catalogue published under ``root`` (the ``outputs`` folder)."""
    report = VerifyReport()
    referenced: set[Path] = set()
    for path in sorted((root / "stac").rglob("*.json")):
        report.documents += 1
        try:
            doc = json.loads(path.read_text())
            validate_stac(doc, str(path))
        except (ValueError, SensingError) as exc:
            report.findings.append(Finding("invalid-stac", str(path), str(exc)[:300]))
            continue
        for asset in doc.get("assets", {}).values():
            href = (path.parent / asset["href"]).resolve()
            referenced.add(href)
            _check_asset(href, asset, report)
    for path in sorted((root / "layers").rglob("*")):
        if path.name.endswith(".parts") or ".tmp" in path.name:
            report.findings.append(Finding("partial", str(path), "left by an interrupted write"))
        elif path.suffix == ".tif" and path.resolve() not in referenced:
            version = path.parent
            if any(p.resolve() in referenced for p in version.parent.glob("*/*.tif")):
                report.superseded += 1
            else:
                report.findings.append(Finding("orphan", str(path), "no STAC item has this layer or date"))
    return report
