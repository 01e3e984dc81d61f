"""Any index of the Awesome Spectral Indices catalogue (spyndex) by its short name, computed lazily.

Bands are the project's (STAC eo common) names, mapped to the catalogue's symbols; the catalogue's
constants take their default values. Where the catalogue disagrees with an index's original paper the
paper wins (:data:`PAPER_INDICES`, documented in docs/indices.md).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import spyndex
import xarray as xr

from sensing.compute.indices import INDICES, compute_index
from sensing.errors import ConfigError

__all__ = [
    "BAND_SYMBOLS", "PAPER_INDICES", "PROJECT_INDICES", "catalogue_index", "index_name", "required_bands",
]  # fmt: skip

BAND_SYMBOLS = {
    "A": "coastal", "B": "blue", "G": "green", "R": "red", "RE1": "rededge1", "RE2": "rededge2",
    "RE3": "rededge3", "N": "nir", "N2": "nir08", "S1": "swir16", "S2": "swir22",
}  # fmt: skip
"""The catalogue's band symbols -> the project's band names (Sentinel-2: B01 ... B12; N2 is B8A)."""

PAPER_INDICES = {"AWEInsh": "awei_nsh"}
"""Catalogue names computed by the project's own implementation of the paper (sensing.compute.indices):
Feyisa et al. (2014) define AWEInsh = 4(G-S1) - (0.25N + 2.75S2); the catalogue release here writes
4(G-S1) - 0.25N + 2.75S2 (the bracket dropped), which flips the sign of the SWIR2 term."""

PROJECT_INDICES = {"SI_Khan": "si_khan"}
"""Indices the catalogue lacks, by the project's name -> its implementation (sensing.compute.indices):
the salinity index of Khan et al. (2005), named apart from the catalogue's SI (the Shadow Index)."""
_OWN = PAPER_INDICES | PROJECT_INDICES


def index_name(name: str) -> str:
    """The catalogue's spelling of ``name`` (case-insensitive); a ConfigError naming close ones if none."""
    known = [*spyndex.indices, *PROJECT_INDICES]
    by_lower = {key.lower(): key for key in known}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
    raise ConfigError(f"--index: {name!r} is not in the spectral index catalogue; close: {close}")


def _symbols(name: str) -> list[str]:
    return list(spyndex.indices[name].bands)


def required_bands(name: str) -> list[str]:
    """The project's band names index ``name`` reads; a ConfigError for inputs this project has not."""
    name = index_name(name)
    if name in _OWN:
        return list(INDICES[_OWN[name]][0])
    unusable = [s for s in _symbols(name) if s not in BAND_SYMBOLS and s not in spyndex.constants]
    if unusable:
        raise ConfigError(
            f"--index: {name} needs {unusable}, which are not optical bands of a scene "
            f"(thermal, radar or a per-pixel parameter)"
        )
    return [BAND_SYMBOLS[s] for s in _symbols(name) if s in BAND_SYMBOLS]


def catalogue_index(name: str, bands: Mapping[str, xr.DataArray]) -> xr.DataArray:
    """Index ``name`` of reflectance ``bands`` (project band names -> arrays, lazy or not), float32."""
    name = index_name(name)
    missing = [b for b in required_bands(name) if b not in bands]
    if missing:
        raise ConfigError(f"--index: {name} needs band(s) {missing}; the scene has {sorted(bands)}")
    if name in _OWN:
        return compute_index(_OWN[name], xr.Dataset(dict(bands))).astype("float32").rename(name)
    params = {
        s: bands[BAND_SYMBOLS[s]] if s in BAND_SYMBOLS else float(spyndex.constants[s].default)
        for s in _symbols(name)
    }
    return xr.DataArray(spyndex.computeIndex(index=name, params=params)).astype("float32").rename(name)
