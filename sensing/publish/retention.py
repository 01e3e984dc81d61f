"""Retention of superseded versions: reprocessing writes a new version folder beside the previous
ones; all but the newest few superseded folders may be removed. The version a STAC item points to is
never touched."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterable
from pathlib import Path

from sensing.publish.layout import OutputLayout
from sensing.publish.stac import read_items

__all__ = ["prune_superseded"]


def prune_superseded(layout: OutputLayout, products: Iterable[str], keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest superseded version folders of every catalogued date of the
    scene ``products``; return the removed folders."""
    removed = []
    for product in products:
        for item in read_items(layout, product):
            props = item["properties"]
            item_path = layout.item(
                product, props["sensing:aoi"], dt.date.fromisoformat(props["datetime"][:10])
            )
            current = (item_path.parent / item["assets"]["data"]["href"]).resolve().parent
            superseded = sorted(
                (
                    p
                    for p in current.parent.iterdir()
                    if p.is_dir() and p != current and p.name.startswith("v")
                ),
                key=lambda p: p.stat().st_mtime_ns,
                reverse=True,
            )
            for old in superseded[keep:]:
                shutil.rmtree(old)
                removed.append(old)
    return removed
