"""Read side: archives of scenes behind one small protocol."""

from pathlib import Path

from sensing.config import SourceConfig
from sensing.sources.base import SceneSource
from sensing.sources.stac import StacApiSource, StaticStacSource

__all__ = ["SceneSource", "StacApiSource", "StaticStacSource", "open_source"]


def open_source(config: SourceConfig, data_dir: Path | None = None) -> SceneSource:
    """The source a :class:`sensing.config.SourceConfig` describes; caches go under ``data_dir``."""
    if config.kind == "sentinelhub":
        from sensing.sources.sentinelhub import SentinelHubSource

        return SentinelHubSource(config, (data_dir or Path("data")) / "cache" / "sentinelhub")
    if config.kind == "stac-api":
        return StacApiSource(config)
    return StaticStacSource(config)
