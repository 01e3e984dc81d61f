"""Read side: archives of scenes behind one small protocol."""

from sensing.sources.base import SceneSource
from sensing.sources.stac import StaticStacSource

__all__ = ["SceneSource", "StaticStacSource", "open_source"]


def open_source(config: object) -> SceneSource:
    """The source a :class:`sensing.config.SourceConfig` describes."""
    from sensing.config import SourceConfig

    assert isinstance(config, SourceConfig)
    return StaticStacSource(config)
