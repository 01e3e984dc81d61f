"""Water bodies and their series for the viewer: read from the published tables only (a water body
id is looked up in the table, never used as a path)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam

from sensing.publish.layout import OutputLayout

__all__ = ["series_router"]

BodyId = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")]
SERIES_COLUMNS = [
    "date", "sensor", "water_km2", "filled_km2", "filled_low_km2", "filled_high_km2", "ice_km2",
    "valid_fraction", "quality", "usable", "reason", "excluded", "exclusion", "method", "threshold",
    "level_m", "volume_mcm", "gauge_level_m",
]  # fmt: skip


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts (NaN -> null)."""
    return [
        {str(k): (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def _table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()


def series_router(output_root: Path) -> APIRouter:
    """``GET /water-bodies`` and ``GET /water-bodies/{id}/series`` over the tables under ``output_root``."""
    layout = OutputLayout(output_root)
    router = APIRouter()

    @router.get("/water-bodies")
    def water_bodies() -> dict[str, Any]:
        """The monitored water bodies: id, names (en, ru, kk), type, region, basin, nominal area."""
        return {"water_bodies": _records(_table(layout.water_bodies))}

    @router.get("/water-bodies/{body_id}/series")
    def series(body_id: BodyId) -> dict[str, Any]:
        """One water body's observations (every sensor, usable or not, with why), its alerts and floods."""
        areas = _table(layout.water_areas)
        if areas.empty or body_id not in set(areas.water_body):
            raise HTTPException(404, f"no observations of water body {body_id!r}")
        rows = areas[areas.water_body == body_id]
        alerts = _table(layout.alerts)
        floods = _table(layout.floods)
        return {
            "water_body": body_id,
            "observations": _records(
                rows[[c for c in SERIES_COLUMNS if c in rows.columns]].sort_values("date")
            ),
            "alerts": _records(alerts[alerts.water_body == body_id]) if not alerts.empty else [],
            "floods": _records(floods[floods.zone == body_id]) if not floods.empty else [],
        }

    return router
