"""Encoding of float indices as scaled integers (pure, lazy)."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["to_scaled_int16"]

INT16_NODATA = -32768


def to_scaled_int16(values: xr.DataArray, scale: float, offset: float = 0.0) -> xr.DataArray:
    """``round((values - offset) / scale)`` as int16, clipped to [-32767, 32767], NaN -> -32768."""
    stored = ((values - offset) / scale).round().clip(-32767, 32767)
    return stored.fillna(INT16_NODATA).astype(np.int16)
