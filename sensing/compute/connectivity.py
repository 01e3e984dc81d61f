"""Water connected to the water bodies' cores, decided exactly across chunk seams.

Connected components are global: a lake crosses many chunks. ``dask_image.ndmeasure.label`` relabels
every block only once the whole label graph is known, so the scheduler keeps every block's labels
(4 bytes per pixel) in memory until then. Here two passes keep only small things: the first labels
each block on its own and returns its edges and the labels that touch a core; the block graph is
joined in NumPy (scipy's csgraph); the second pass labels each block again and keeps the components
found to reach a core.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from sensing.compute.water import CLASS_DRY, CLASS_WATER

__all__ = ["connected_to_cores", "drop_detached_water"]

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class _Block:
    """One block's own labelling, reduced to what the global join needs."""

    count: int
    top: NDArray[np.int32]
    bottom: NDArray[np.int32]
    left: NDArray[np.int32]
    right: NDArray[np.int32]
    in_core: NDArray[np.int32]
    """Local labels with a pixel in a core."""


def _label(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int32], int]:
    labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    return labels.astype(np.int32, copy=False), int(count)


def _summarise(mask: NDArray[np.bool_], core: NDArray[np.bool_]) -> _Block:
    labels, count = _label(mask)
    return _Block(
        count, labels[0].copy(), labels[-1].copy(), labels[:, 0].copy(), labels[:, -1].copy(),
        np.unique(labels[core & mask]),
    )  # fmt: skip


def _face_pairs(a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.int64]:
    """Label pairs joined across a shared face (``a`` and ``b`` face each other pixel for pixel;
    8-connectivity also joins each pixel to its neighbour's two diagonal pixels)."""
    pairs = []
    for shift in (-1, 0, 1):
        x = a[max(shift, 0) : len(a) + min(shift, 0)]
        y = b[max(-shift, 0) : len(b) + min(-shift, 0)]
        both = (x > 0) & (y > 0)
        pairs.append(np.stack([x[both], y[both]], axis=1))
    return np.concatenate(pairs)


def _keep_lookups(blocks: NDArray[np.object_]) -> list[NDArray[np.bool_]]:
    """Per block (row-major), a lookup from its local labels to "reaches a core"."""
    counts = np.array([b.count for b in blocks.ravel()], dtype=np.int64).reshape(blocks.shape)
    offsets = (np.cumsum(counts.ravel()) - counts.ravel()).reshape(blocks.shape)

    def glob(i: int, j: int, labels: NDArray[np.int32]) -> NDArray[np.int64]:
        return np.where(labels > 0, labels.astype(np.int64) + offsets[i, j], 0)

    rows, cols = blocks.shape
    pairs = [np.zeros((0, 2), dtype=np.int64)]
    for i in range(rows):
        for j in range(cols):
            here = blocks[i, j]
            if j + 1 < cols:
                pairs.append(_face_pairs(glob(i, j, here.right), glob(i, j + 1, blocks[i, j + 1].left)))
            if i + 1 < rows:
                below = blocks[i + 1, j]
                pairs.append(_face_pairs(glob(i, j, here.bottom), glob(i + 1, j, below.top)))
                corners = []
                if j + 1 < cols:
                    corners.append(
                        (glob(i, j, here.bottom[-1:]), glob(i + 1, j + 1, blocks[i + 1, j + 1].top[:1]))
                    )
                if j > 0:
                    corners.append(
                        (glob(i, j, here.bottom[:1]), glob(i + 1, j - 1, blocks[i + 1, j - 1].top[-1:]))
                    )
                for a, b in corners:
                    if a[0] > 0 and b[0] > 0:
                        pairs.append(np.array([[a[0], b[0]]]))
    edges = np.concatenate(pairs)
    total = int(counts.sum()) + 1
    graph = sparse.coo_matrix(
        (np.ones(len(edges), dtype=bool), (edges[:, 0], edges[:, 1])), shape=(total, total)
    )
    _, component = csgraph.connected_components(graph, directed=False)
    in_core = np.concatenate(
        [glob(i, j, blocks[i, j].in_core) for i in range(rows) for j in range(cols)] + [np.zeros(0, np.int64)]
    )
    kept_components = np.zeros(component.max() + 1, dtype=bool)
    kept_components[component[in_core[in_core > 0]]] = True
    kept = kept_components[component]
    kept[0] = False
    return [
        kept[np.r_[0, offsets[i, j] + 1 : offsets[i, j] + counts[i, j] + 1]]
        for i in range(rows)
        for j in range(cols)
    ]


def _apply(mask: NDArray[np.bool_], lookup: NDArray[np.bool_]) -> NDArray[np.bool_]:
    labels, _ = _label(mask)
    return lookup[labels]


def connected_to_cores(mask: da.Array, cores: da.Array) -> da.Array:
    """Pixels of ``mask`` whose 8-connected component (over the whole array) touches ``cores``.

    Computes one pass over ``mask`` now (the block labellings' edges); the result is lazy and
    identical whatever the chunking.
    """
    cores = cores.astype(bool).rechunk(mask.chunks)
    pairs = zip(mask.to_delayed().ravel(), cores.to_delayed().ravel(), strict=True)
    summaries = dask.compute(*[dask.delayed(_summarise)(m, c) for m, c in pairs])
    blocks = np.empty(mask.numblocks, dtype=object)
    for index, summary in zip(np.ndindex(*mask.numblocks), summaries, strict=True):
        blocks[index] = summary
    lookups = iter(_keep_lookups(blocks))
    kept = np.empty(mask.numblocks, dtype=object)
    for index, block in zip(np.ndindex(*mask.numblocks), mask.to_delayed().ravel(), strict=True):
        shape = tuple(c[i] for c, i in zip(mask.chunks, index, strict=True))
        kept[index] = da.from_delayed(dask.delayed(_apply)(block, next(lookups)), shape, dtype=bool)
    return da.block(kept.tolist())


def drop_detached_water(classes: xr.DataArray, zones: da.Array, cores: da.Array) -> xr.DataArray:
    """The class layer with water inside a water body's zone turned dry where it does not connect to
    any body's core (Blue Dot's "water connected to the reference outline"); elsewhere untouched."""
    water = classes.data == CLASS_WATER
    attached = connected_to_cores(water, cores)
    detached = water & ~attached & (zones.rechunk(water.chunks) > 0)
    return classes.copy(data=da.where(detached, np.uint8(CLASS_DRY), classes.data).astype(classes.dtype))
