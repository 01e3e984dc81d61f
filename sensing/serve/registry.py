"""The layers the server may serve: read from the published tile metadata, nothing else.

No request parameter ever becomes a path: a layer id and date are looked up here, and the COG path
comes from the index written by the publisher (and must lie inside the output root).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Layer", "LayerRegistry"]


@dataclass(frozen=True)
class Layer:
    """One published layer on one date."""

    id: str
    product: str
    title: str
    aoi: str
    date: str
    cog: Path
    item: Path | None
    """The layer's STAC item, where the index names one inside the output root."""
    bounds: tuple[float, float, float, float]
    rescale: tuple[float, float] | None
    colormap_name: str | None
    legend: list[dict[str, Any]]


class LayerRegistry:
    """Published layers, reloaded when the index file changes on disk. Thread-safe."""

    def __init__(self, output_root: Path) -> None:
        self.root = output_root.resolve()
        self._index = self.root / "layers.json"
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._layers: dict[tuple[str, str], Layer] = {}

    def _refresh(self) -> None:
        try:
            stat = self._index.stat()
        except FileNotFoundError:
            self._stamp, self._layers = None, {}
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        layers = {}
        for entry in json.loads(self._index.read_text())["layers"]:
            cog = (self.root / entry["cog"]).resolve()
            if not cog.is_relative_to(self.root):
                continue  # never serve anything outside the output tree
            item = (self.root / entry["item"]).resolve() if entry.get("item") else None
            layer = Layer(
                id=entry["id"],
                product=entry["product"],
                title=entry["title"],
                aoi=entry["aoi"],
                date=entry["date"],
                cog=cog,
                item=item if item is not None and item.is_relative_to(self.root) else None,
                bounds=tuple(entry["bounds"]),
                rescale=tuple(entry["rescale"]) if entry.get("rescale") else None,
                colormap_name=entry.get("colormap_name"),
                legend=entry.get("legend") or [],
            )
            layers[(layer.id, layer.date)] = layer
        self._stamp, self._layers = stamp, layers

    def all(self) -> list[Layer]:
        """Every layer and date, sorted by id then date."""
        with self._lock:
            self._refresh()
            return sorted(self._layers.values(), key=lambda layer: (layer.id, layer.date))

    def get(self, layer_id: str, date: str) -> Layer | None:
        """The layer ``layer_id`` on ``date``, or None when it is not published."""
        with self._lock:
            self._refresh()
            return self._layers.get((layer_id, date))
