"""A bounded in-memory cache of rendered tiles: published layers never change in place (a
reprocessed date is a new file, hence a new key), so a tile rendered once can be served again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["TileCache"]


class TileCache:
    """Least-recently-used bytes by key, at most ``max_bytes`` in all. Thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> bytes | None:
        """The cached bytes of ``key`` (now the most recently used), or None."""
        with self._lock:
            content = self._items.get(key)
            if content is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return content

    def put(self, key: str, content: bytes) -> None:
        """Keep ``content`` under ``key``, dropping the least recently used beyond the budget."""
        if len(content) > self.max_bytes:
            return
        with self._lock:
            if key not in self._items:
                self._items[key] = content
                self._size += len(content)
            while self._size > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def get_or_render(self, key: str, render: Callable[[], bytes]) -> bytes:
        """The cached bytes of ``key``, or ``render()``'s (rendered outside the lock, then kept)."""
        content = self.get(key)
        if content is None:
            content = render()
            self.put(key, content)
        return content

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._size
