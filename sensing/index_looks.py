"""Catalogue indices of one local scene, one float32 COG each (``sensing index``: quick looks, validation).

The scene is registered in a throw-away static STAC catalog (as ``sensing water`` does) and read on its
own finest grid as reflectance; every index is computed lazily and streamed to its COG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sensing.compute.catalogue import catalogue_index, index_name, required_bands
from sensing.errors import ConfigError
from sensing.publish.cog import CogSpec, write_cogs
from sensing.quicklook import native_geobox, registered_scene
from sensing.scene_water import input_errors_named
from sensing.sources.local import Registration

__all__ = ["write_index_cogs"]


def write_index_cogs(
    reg: Registration, names: list[str], out_dir: Path, chunk: int = 1024
) -> dict[str, Path]:
    """Write ``out_dir/<INDEX>.tif`` (float32, NaN where any input is nodata or the index undefined) for
    each catalogue index in ``names``; every name and band is checked before any pixel is read."""
    canonical = [index_name(n) for n in names]
    if not canonical:
        raise ConfigError("--index: give at least one index, e.g. NDVI,EVI")
    needed = list(dict.fromkeys(b for n in canonical for b in required_bands(n)))
    for name in canonical:
        missing = [b for b in required_bands(name) if b not in reg.files]
        if missing:
            raise ConfigError(f"--band-map: {name} needs band(s) {missing}, which are not mapped")
    geobox = native_geobox(reg)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {name: out_dir / f"{name}.tif" for name in canonical}
    with registered_scene(reg, needed) as (source, scene):
        bands = source.load(scene, needed, geobox, chunk)
        layers = []
        for name, path in outputs.items():
            value = catalogue_index(name, {b: bands[b] for b in needed})
            value = value.where(np.isfinite(value))
            spec = CogSpec(
                "float32", float("nan"), "average", description=f"{name} (spectral index catalogue)"
            )
            layers.append((value.data, path, spec))
        with input_errors_named(source, scene, needed):
            write_cogs(layers, crs=str(geobox.crs), transform=geobox.affine)
    return outputs
