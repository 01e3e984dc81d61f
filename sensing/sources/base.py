"""The contract every archive implements."""

from __future__ import annotations

import datetime as dt
from typing import Protocol, runtime_checkable

import xarray as xr
from odc.geo.geobox import GeoBox

from sensing.models import SceneRef

__all__ = ["SceneSource"]


@runtime_checkable
class SceneSource(Protocol):
    """An archive of scenes.

    ``search`` may do network IO and returns small references; ``load`` returns a *lazy* Dask-backed
    dataset on the requested grid and reads no pixels itself. Variables are named by common band name
    (``green``, ``nir``, ``swir16``, ``scl``...) and hold surface reflectance as float32 with NaN for
    nodata, except ``scl`` (uint8 classes, 0 = nodata). Implementations must be picklable so that Dask
    workers can read.
    """

    def search(
        self, bbox_lonlat: tuple[float, float, float, float], start: dt.date, end: dt.date
    ) -> list[SceneRef]:
        """Scenes intersecting ``bbox_lonlat`` acquired from ``start`` to ``end`` (inclusive), oldest first."""
        ...

    def load(
        self, scene: SceneRef, bands: list[str], geobox: GeoBox, chunk: int, optional: tuple[str, ...] = ()
    ) -> xr.Dataset:
        """The scene's ``bands`` (common names) resampled onto ``geobox``, chunked ``chunk`` px.

        Bands named in ``optional`` are left out when the scene does not have them.
        """
        ...

    def coverage(self) -> list[tuple[float, float, float, float]] | None:
        """Lon/lat boxes the archive holds scenes in (its collections' spatial extents), or None when
        unknown or worldwide; lets a run refuse an AOI outside every scene before it starts."""
        ...

    def check_budget(self, scenes: int, geobox: GeoBox, n_bands: int) -> None:
        """Raise FatalError when fetching ``scenes`` scenes would exceed the source's quota."""
        ...

    def explain_failure(self, scene: SceneRef, bands: list[str]) -> str | None:
        """After a failed read: which asset (file, band) is broken and why, or None if all read fine."""
        ...
