"""Counting the values of chunked arrays block by block (pure, lazy)."""

from __future__ import annotations

import dask.array as da
import numpy as np
from numpy.typing import NDArray

__all__ = ["bincount"]


def bincount(values: da.Array, length: int) -> da.Array:
    """Lazy counts of each integer 0..length-1 over every element of ``values`` (any shape).

    Each block is counted on its own and the counts summed: ``da.bincount`` needs a 1-D array, and
    raveling a chunked 2-D array rechunks all of it into rows first (a shuffle of the whole grid).
    Values must be non-negative; those at or above ``length`` are not counted.
    """

    def block(chunk: NDArray[np.integer]) -> NDArray[np.int64]:
        counts = np.bincount(chunk.ravel(), minlength=length)[:length]
        return counts.reshape((1,) * chunk.ndim + (length,))

    per_block = da.map_blocks(
        block, values, new_axis=values.ndim, chunks=(1,) * values.ndim + (length,), dtype=np.int64
    )
    return per_block.sum(axis=tuple(range(values.ndim)))
