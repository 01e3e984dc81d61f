"""A run's request checked before any work starts: credentials, and an AOI the archive covers.

The parameters themselves (AOI file, size, dates, products, config keys) are refused where they are
parsed (``sensing.selection``, ``sensing.config``); these checks need the source.
"""

from __future__ import annotations

from shapely.geometry import box

from sensing.config import Settings
from sensing.errors import ConfigError
from sensing.sources import open_source
from sensing.waterbodies import to_lonlat

__all__ = ["check_run_request"]


def check_run_request(settings: Settings, aoi_field: str = "aoi") -> None:
    """Raise ConfigError when the run could only fail: Sentinel Hub credentials missing, or an AOI
    outside every scene of the source (often lat/lon written for lon/lat); ``aoi_field`` names the
    parameter the AOI came from in the message."""
    if settings.source.kind == "sentinelhub":
        from sensing.sources.sentinelhub import require_credentials

        require_credentials()
    coverage = open_source(settings.source, settings.data_dir).coverage()
    footprint = to_lonlat(box(*settings.aoi.bounds), settings.aoi.crs)
    if coverage is None or any(footprint.intersects(box(*extent)) for extent in coverage):
        return
    lon_lat = ", ".join(f"{v:.4f}" for v in footprint.bounds)
    extents = "; ".join(", ".join(f"{v:.4f}" for v in extent) for extent in coverage)
    raise ConfigError(
        f"{aoi_field}: the AOI {settings.aoi.id!r} (lon/lat {lon_lat}) lies outside every scene of the "
        f"source (extent {extents}); GeoJSON coordinates are longitude, latitude: check the axis order and CRS"
    )
