"""Where every published file lives under the output root."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OutputLayout"]


@dataclass(frozen=True)
class OutputLayout:
    """Paths of the output tree; every path is below ``root``.

    Layers are versioned (algorithm version + config hash) so that reprocessing writes a new version
    beside the previous one. STAC items are sharded by collection and year.
    """

    root: Path

    def layer(self, product: str, aoi: str, date: dt.date, version: str) -> Path:
        """The COG of one product, AOI, date and version."""
        return (
            self.root
            / "layers"
            / product
            / aoi
            / f"{date:%Y}"
            / date.isoformat()
            / version
            / f"{product}.tif"
        )

    @property
    def stac_root(self) -> Path:
        """Folder of the static STAC catalog of outputs."""
        return self.root / "stac"

    def collection(self, product: str) -> Path:
        """The STAC collection document of a product."""
        return self.stac_root / product / "collection.json"

    def item(self, product: str, aoi: str, date: dt.date) -> Path:
        """The STAC item of one product, AOI and date (points at the newest version)."""
        return self.stac_root / product / f"{date:%Y}" / f"{item_id(product, aoi, date)}.json"

    def summary_counts(self, product: str, aoi: str, year: int) -> Path:
        """Monthly wet and clear counts of a class product over an AOI for one year (24 bands)."""
        return self.root / "summaries" / product / aoi / f"{year}" / "counts.tif"

    @property
    def water_areas(self) -> Path:
        """The water-area time series (Parquet; a CSV copy sits beside it)."""
        return self.root / "tables" / "water_areas.parquet"

    @property
    def water_bodies(self) -> Path:
        """The monitored water bodies: ids, names (en, ru, kk), type, region, basin, nominal area."""
        return self.root / "tables" / "water_bodies.parquet"

    @property
    def water_body_outlines(self) -> Path:
        """Stem of the nominal outlines' vector files (``.gpkg``, ``.geojson``, ``.parquet``)."""
        return self.root / "vectors" / "water_bodies"

    def water_vectors(self, product: str, aoi: str, date: dt.date, version: str) -> Path:
        """Stem of one date's water polygons and shorelines (``.gpkg`` with both layers, and GeoJSON
        and GeoParquet per layer), versioned like the class layer they come from."""
        return self.root / "vectors" / product / aoi / f"{date:%Y}" / date.isoformat() / version / "water"

    @property
    def exclusions(self) -> Path:
        """Analysts' exclusions of observations, with who and when (Parquet; a CSV copy beside it)."""
        return self.root / "tables" / "exclusions.parquet"

    @property
    def water_change(self) -> Path:
        """Area per change class, water body and pair of periods (Parquet; a CSV copy beside it)."""
        return self.root / "tables" / "water_change.parquet"

    @property
    def floods(self) -> Path:
        """Flooded area per event, product and zone (Parquet; a CSV copy beside it)."""
        return self.root / "tables" / "floods.parquet"

    @property
    def burns(self) -> Path:
        """Burned area per fire event and severity class (Parquet; a CSV copy beside it)."""
        return self.root / "tables" / "burns.parquet"

    @property
    def gauges(self) -> Path:
        """Imported gauge readings (Parquet; a CSV copy beside it)."""
        return self.root / "tables" / "gauges.parquet"

    @property
    def alerts(self) -> Path:
        """Alerts raised so far (Parquet; a CSV copy sits beside it)."""
        return self.root / "tables" / "alerts.parquet"

    @property
    def layer_index(self) -> Path:
        """Tile metadata: the published layers the tile server may serve."""
        return self.root / "layers.json"

    @property
    def runs(self) -> Path:
        """Run reports."""
        return self.root / "runs"

    def layer_lock(self, product: str, aoi: str, date: dt.date) -> Path:
        """Lock file of one layer: one writer at a time, whichever run it belongs to."""
        return self.root / ".locks" / product / aoi / f"{date.isoformat()}.lock"

    @property
    def lock(self) -> Path:
        """Lock file serialising catalog, table and index updates."""
        return self.root / ".publish.lock"


def item_id(product: str, aoi: str, date: dt.date) -> str:
    """STAC item id of one product, AOI and date."""
    return f"{product}-{aoi}-{date.isoformat()}"
