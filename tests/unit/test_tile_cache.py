"""The rendered-tile cache: renders once per key, keeps at most its byte budget, drops the least
recently used first."""

from __future__ import annotations

from sensing.serve.cache import TileCache


def test_a_key_is_rendered_once_and_the_budget_evicts_the_least_recently_used() -> None:
    cache = TileCache(max_bytes=250)
    renders: list[str] = []

    def render(key: str) -> bytes:
        renders.append(key)
        return key.encode() * 100  # 100 bytes per one-letter key

    assert cache.get_or_render("a", lambda: render("a")) == b"a" * 100
    cache.get_or_render("b", lambda: render("b"))
    cache.get_or_render("a", lambda: render("a"))  # a hit, and now the most recent
    cache.get_or_render("c", lambda: render("c"))  # over budget: b (least recent) goes
    assert renders == ["a", "b", "c"] and cache.size == 200
    cache.get_or_render("b", lambda: render("b"))
    assert renders == ["a", "b", "c", "b"] and cache.hits == 1 and cache.misses == 4
    assert cache.get_or_render("huge", lambda: b"x" * 1000) == b"x" * 1000  # served, never kept
    assert cache.size <= 250
