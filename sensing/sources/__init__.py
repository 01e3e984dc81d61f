"""Read side: archives of scenes behind one small protocol."""

from sensing.config import SourceConfig
from sensing.sources.base import SceneSource
from sensing.sources.stac import StacApiSource, StaticStacSource

__all__ = ["SceneSource", "StacApiSource", "StaticStacSource", "open_source"]


def open_source(config: SourceConfig) -> SceneSource:
    """The source a :class:`sensing.config.SourceConfig` describes."""
    if config.kind == "stac-api":
        return StacApiSource(config)
    return StaticStacSource(config)
