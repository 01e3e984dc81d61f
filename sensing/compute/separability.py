"""How well an index tells two classes apart: the Jeffries-Matusita distance of their values."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["jeffries_matusita"]


def jeffries_matusita(a: ArrayLike, b: ArrayLike) -> float:
    """JM distance (0 to 2; above about 1.9 the classes are separable) between the values of two
    classes, each taken as normal (Bhattacharyya distance of the two normals); NaN values ignored."""
    x, y = (np.asarray(v, dtype="float64").ravel() for v in (a, b))
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) < 2 or len(y) < 2:
        raise ValueError(f"separability needs at least 2 values per class, got {len(x)} and {len(y)}")
    vx, vy = x.var(ddof=1), y.var(ddof=1)
    pooled = (vx + vy) / 2
    bhattacharyya = (x.mean() - y.mean()) ** 2 / (8 * pooled) + 0.5 * np.log(pooled / np.sqrt(vx * vy))
    return float(2 * (1 - np.exp(-bhattacharyya)))
