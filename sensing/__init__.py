"""Water and land monitoring from satellite imagery: the library (no orchestration)."""

__version__ = "0.1.0"
