"""Properties of the tile and grid arithmetic the server and the pipeline rely on, checked with
hypothesis: morecantile's tile <-> bounds arithmetic in the two tile matrix sets the server cuts
tiles in, the WMTS TileMatrixLimits the capabilities advertise, the server's own tile range check,
the pixels a rendered tile takes from a layer, and the AOI grid (sensing/grid.py)."""

from __future__ import annotations

import math
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import morecantile
import numpy as np
import pyproj
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

from sensing.config import AoiConfig
from sensing.grid import aoi_geobox, pixel_area_m2, row_pixel_areas_m2
from sensing.serve import render
from sensing.serve.app import TILE_MATRIX_SETS
from sensing.serve.registry import Layer
from sensing.serve.wmts import LayerDates, capabilities

PROPERTY = settings(max_examples=200, deadline=None, database=None, derandomize=True)
TMS = {name: morecantile.tms.get(name) for name in TILE_MATRIX_SETS}
WMTS_NS = {"w": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}
LAT_LIMIT = {"WebMercatorQuad": 85.05112877980659, "WGS1984Quad": 90.0}


@pytest.fixture(autouse=True)
def _quiet_extrapolated_matrices() -> Iterator[None]:
    """morecantile warns when it extrapolates a zoom beyond a set's listed matrices (WGS1984Quad
    lists z0-17; the server accepts z up to 24, as its XYZ route does)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


@st.composite
def tiles(draw: st.DrawFn, max_zoom: int = 24) -> tuple[str, morecantile.Tile]:
    """A tile inside its set's matrix."""
    name = draw(st.sampled_from(TILE_MATRIX_SETS))
    z = draw(st.integers(0, max_zoom))
    matrix = TMS[name].matrix(z)
    return name, morecantile.Tile(
        draw(st.integers(0, matrix.matrixWidth - 1)), draw(st.integers(0, matrix.matrixHeight - 1)), z
    )


@PROPERTY
@given(
    st.sampled_from(TILE_MATRIX_SETS),
    st.integers(0, 24),
    st.floats(-180, 180, exclude_max=True),
    st.floats(-1, 1, exclude_min=True, exclude_max=True),
)
def test_a_point_falls_in_the_tile_it_maps_to(name: str, z: int, lon: float, lat_share: float) -> None:
    tms = TMS[name]
    lat = lat_share * LAT_LIMIT[name]
    tile = tms.tile(lon, lat, z)
    assert tms.is_valid(tile, strict=False)
    bounds = tms.bounds(tile)
    tolerance = 1e-9 * 360  # the geographic bounds are computed back from the set's own CRS
    assert bounds.left - tolerance <= lon <= bounds.right + tolerance
    assert bounds.bottom - tolerance <= lat <= bounds.top + tolerance


@PROPERTY
@given(tiles())
def test_a_tiles_bounds_map_back_to_the_same_tile(case: tuple[str, morecantile.Tile]) -> None:
    name, tile = case
    tms = TMS[name]
    left, bottom, right, top = tms.bounds(tile)
    assert tms.tile((left + right) / 2, (bottom + top) / 2, tile.z) == tile
    # and morecantile's covering of those very bounds is that one tile (no neighbour sharing an edge)
    assert list(tms.tiles(left, bottom, right, top, [tile.z])) == [tile]


@PROPERTY
@given(tiles(max_zoom=23))
def test_the_children_of_a_tile_exactly_cover_it(case: tuple[str, morecantile.Tile]) -> None:
    name, tile = case
    tms = TMS[name]
    children = tms.children(tile)
    assert len(children) == 4 and len(set(children)) == 4
    assert all(tms.parent(child) == [tile] for child in children)
    parent = tms.xy_bounds(tile)
    boxes = [tms.xy_bounds(child) for child in children]
    # to rounding: 1e-12 of the set's extent (1e-5 of a z24 tile)
    extent = tms.xy_bbox.right - tms.xy_bbox.left
    assert min(b.left for b in boxes) == pytest.approx(parent.left, abs=1e-12 * extent)
    assert max(b.right for b in boxes) == pytest.approx(parent.right, abs=1e-12 * extent)
    assert min(b.bottom for b in boxes) == pytest.approx(parent.bottom, abs=1e-12 * extent)
    assert max(b.top for b in boxes) == pytest.approx(parent.top, abs=1e-12 * extent)
    area = sum((b.right - b.left) * (b.top - b.bottom) for b in boxes)
    assert area == pytest.approx((parent.right - parent.left) * (parent.top - parent.bottom), rel=1e-6)


@PROPERTY
@given(
    st.sampled_from(TILE_MATRIX_SETS),
    st.integers(0, 24),
    st.integers(-(2**26), 2**26),
    st.integers(-(2**26), 2**26),
)
def test_the_servers_tile_range_is_the_tile_matrix(name: str, z: int, x: int, y: int) -> None:
    """What the server accepts as a tile (morecantile's is_valid, unstrict: zooms beyond a set's
    listed matrices are extrapolated) is a tile whose bounds lie inside the set's extent."""
    tms = TMS[name]
    inside = tms.is_valid(x, y, z, strict=False)
    matrix = tms.matrix(z)
    assert inside == (0 <= x < matrix.matrixWidth and 0 <= y < matrix.matrixHeight)
    if inside:
        left, bottom, right, top = tms.xy_bounds(x, y, z)
        x_min, y_min, x_max, y_max = tms.xy_bbox
        slack = 1e-9 * (x_max - x_min)
        assert x_min - slack <= left < right <= x_max + slack
        assert y_min - slack <= bottom < top <= y_max + slack


def _layer(bounds: tuple[float, float, float, float], cog: Path = Path("unused.tif")) -> Layer:
    return Layer(
        id="water-test", product="water", title="Water", aoi="test", date="2021-08-01", cog=cog, item=None,
        bounds=bounds, rescale=None, colormap_name=None,
        legend=[{"value": 1, "label": "water", "color": [0, 0, 255, 255]}],
    )  # fmt: skip


def _limits(document: bytes, tms_id: str) -> dict[int, tuple[int, int, int, int]]:
    """TileMatrixLimits of the one layer in a capabilities document: zoom -> (min row, max row, min
    col, max col)."""
    root = ET.fromstring(document)
    link = next(
        link
        for link in root.iterfind(".//w:Layer/w:TileMatrixSetLink", WMTS_NS)
        if link.findtext("w:TileMatrixSet", namespaces=WMTS_NS) == tms_id
    )
    return {
        int(limit.findtext("w:TileMatrix", namespaces=WMTS_NS) or ""): tuple(  # type: ignore[misc]
            int(limit.findtext(f"w:{tag}", namespaces=WMTS_NS) or "")
            for tag in ("MinTileRow", "MaxTileRow", "MinTileCol", "MaxTileCol")
        )
        for limit in link.iterfind(".//w:TileMatrixLimits", WMTS_NS)
    }


@st.composite
def layer_bounds(draw: st.DrawFn) -> tuple[tuple[float, float, float, float], int, int]:
    """Lon/lat bounds and a zoom range (minzoom, maxzoom) over which the layer spans a few thousand
    tiles at most: anywhere (inside Web Mercator's latitudes), or with edges exactly on tile edges (a
    layer on a geographic grid with round bounds)."""
    if draw(st.booleans()):
        west, south = draw(st.floats(-179.9, 174.9)), draw(st.floats(-85.0, 80.0))
        width, height = draw(st.floats(1e-6, 5.0)), draw(st.floats(1e-6, 5.0))
        minzoom = draw(st.integers(0, 12))
        return (west, south, west + width, south + height), minzoom, draw(st.integers(minzoom, 12))
    name = draw(st.sampled_from(TILE_MATRIX_SETS))
    z = draw(st.integers(3, 8))
    matrix = TMS[name].matrix(z)
    col = draw(st.integers(0, matrix.matrixWidth - 4))
    row = draw(st.integers(1, matrix.matrixHeight - 5))
    first = TMS[name].bounds(col, row, z)
    last = TMS[name].bounds(col + draw(st.integers(0, 3)), row + draw(st.integers(0, 3)), z)
    minzoom = draw(st.integers(0, z + 3))
    return (first.left, last.bottom, last.right, first.top), minzoom, draw(st.integers(minzoom, z + 3))


@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(layer_bounds())
def test_wmts_tile_matrix_limits_are_the_tiles_covering_the_layer(
    case: tuple[tuple[float, float, float, float], int, int],
) -> None:
    """Each zoom's TileMatrixLimits are the smallest rectangle of tiles covering the layer's bounds
    (morecantile's covering, the one `sensing export-tiles` writes): no row or column a client
    would ask for and get 404, none of the layer left out."""
    bounds, minzoom, maxzoom = case
    layer = _layer(bounds)
    document = capabilities(
        {layer.id: LayerDates(layer, [layer.date])},
        "http://x",
        lambda _, __: (minzoom, maxzoom),
        TILE_MATRIX_SETS,
    )
    for name, tms in TMS.items():
        limits = _limits(document, name)
        assert sorted(limits) == list(range(minzoom, maxzoom + 1))
        for z, (min_row, max_row, min_col, max_col) in limits.items():
            covering = list(tms.tiles(*bounds, zooms=[z]))
            assert (min_row, max_row, min_col, max_col) == (
                min(t.y for t in covering), max(t.y for t in covering),
                min(t.x for t in covering), max(t.x for t in covering),
            ), (name, z)  # fmt: skip
            matrix = tms.matrix(z)
            assert 0 <= min_row <= max_row < matrix.matrixHeight
            assert 0 <= min_col <= max_col < matrix.matrixWidth


# A small class layer in UTM 43N over the Kapchagay reservoir: 200 x 160 px at 150 m.
ORIGIN = (669_000.0, 4_875_000.0)
SHAPE = (160, 200)
RESOLUTION = 150.0


@pytest.fixture(scope="module")
def class_layer(tmp_path_factory: pytest.TempPathFactory) -> Layer:
    path = tmp_path_factory.mktemp("tiles") / "water.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=SHAPE[1], height=SHAPE[0], count=1, dtype="uint8", nodata=255,
        crs="EPSG:32643", transform=from_origin(*ORIGIN, RESOLUTION, RESOLUTION), tiled=True,
        blockxsize=64, blockysize=64,
    ) as dst:  # fmt: skip
        dst.write(np.ones(SHAPE, "uint8"), 1)
    with rasterio.open(path) as src:
        geographic = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
    return _layer(geographic, path)


@st.composite
def tiles_near_the_layer(draw: st.DrawFn) -> tuple[str, morecantile.Tile]:
    """Tiles at zooms 0-14 touching or near the test layer (most tiles of the world are far from it)."""
    name = draw(st.sampled_from(TILE_MATRIX_SETS))
    z = draw(st.integers(0, 14))
    lon = draw(st.floats(77.0, 77.6))
    lat = draw(st.floats(43.6, 44.1))
    tile = TMS[name].tile(lon, lat, z)
    matrix = TMS[name].matrix(z)
    x = min(max(tile.x + draw(st.integers(-1, 1)), 0), matrix.matrixWidth - 1)
    y = min(max(tile.y + draw(st.integers(-1, 1)), 0), matrix.matrixHeight - 1)
    return name, morecantile.Tile(x, y, z)


@settings(
    max_examples=120,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(tiles_near_the_layer())
def test_a_value_tile_holds_the_layers_pixels_inside_its_own_bounds(
    class_layer: Layer, case: tuple[str, morecantile.Tile]
) -> None:
    """A tile the server would serve is the tile's own 256 x 256 window (its GeoTIFF's bounds are the
    tile's bounds) and holds data only where the layer is: a tile away from the layer is refused
    (TileOutsideBounds: 404) or empty (rio-tiler's check transforms the tile's bounds into the
    layer's UTM zone, where a hemisphere-sized tile's box covers everything)."""
    name, tile = case
    tms = TMS[name]
    box = tms.bounds(tile)
    west, south, east, north = class_layer.bounds
    apart = box.right <= west or box.left >= east or box.top <= south or box.bottom >= north
    try:
        content = render.value_tile(class_layer, tms, tile.x, tile.y, tile.z)
    except render.TileOutsideBounds:
        # refused: the tile does not reach the layer's footprint (its UTM rectangle)
        assert apart or not _reaches_footprint(tms, tile)
        return
    with MemoryFile(content) as memory, memory.open() as tif:
        assert (tif.width, tif.height) == (render.TILE_SIZE, render.TILE_SIZE)
        left, bottom, right, top = tms.xy_bounds(tile)
        size = right - left
        assert tif.bounds.left == pytest.approx(left, abs=1e-6 * size)
        assert tif.bounds.right == pytest.approx(right, abs=1e-6 * size)
        assert tif.bounds.bottom == pytest.approx(bottom, abs=1e-6 * size)
        assert tif.bounds.top == pytest.approx(top, abs=1e-6 * size)
        values = tif.read(1)
        assert set(np.unique(values)) <= {1, 255}
        assert not apart or np.all(values == 255)
        rows, cols = np.nonzero(values == 1)
        if (
            rows.size
        ):  # data pixels' centres lie in the layer's footprint (in the tile's CRS), give or take a pixel
            xs, ys = rasterio.transform.xy(tif.transform, rows, cols)
            utm_x, utm_y = pyproj.Transformer.from_crs(tif.crs, "EPSG:32643", always_xy=True).transform(
                xs, ys
            )
            pixel = max(size / render.TILE_SIZE * 1.5, RESOLUTION) * 2  # metres, generous for the 4326 set
            assert np.all(utm_x >= ORIGIN[0] - pixel) and np.all(
                utm_x <= ORIGIN[0] + SHAPE[1] * RESOLUTION + pixel
            )
            assert np.all(utm_y <= ORIGIN[1] + pixel) and np.all(
                utm_y >= ORIGIN[1] - SHAPE[0] * RESOLUTION - pixel
            )


def _reaches_footprint(tms: morecantile.TileMatrixSet, tile: morecantile.Tile) -> bool:
    """Whether a tile's rectangle meets the layer's UTM rectangle (with positive area)."""
    left, bottom, right, top = transform_bounds(
        tms.crs._pyproj_crs, "EPSG:32643", *tms.xy_bounds(tile), densify_pts=21
    )
    x0, y1 = ORIGIN
    x1, y0 = x0 + SHAPE[1] * RESOLUTION, y1 - SHAPE[0] * RESOLUTION
    return left < x1 and right > x0 and bottom < y1 and top > y0


@PROPERTY
@given(
    st.floats(200_000, 800_000), st.floats(4_000_000, 5_500_000), st.floats(100, 50_000), st.floats(100, 50_000),
    st.sampled_from([10.0, 20.0, 30.0, 60.0, 7.5]),
)  # fmt: skip
def test_the_aoi_grid_covers_the_aoi_within_one_pixel(
    x0: float, y0: float, width: float, height: float, resolution: float
) -> None:
    aoi = AoiConfig(
        id="t", name="t", crs="EPSG:32643", bounds=(x0, y0, x0 + width, y0 + height), resolution=resolution
    )
    box = aoi_geobox(aoi)
    left, bottom, right, top = box.boundingbox
    slack = 0.01 * resolution  # odc-geo snaps an edge within 1 % of a pixel to the pixel grid
    assert (
        left <= x0 + slack
        and bottom <= y0 + slack
        and right >= x0 + width - slack
        and top >= y0 + height - slack
    )
    assert x0 - left < resolution + slack and right - (x0 + width) < resolution + slack
    assert y0 - bottom < resolution + slack and top - (y0 + height) < resolution + slack
    assert box.shape.x == round((right - left) / resolution) and box.shape.y == round(
        (top - bottom) / resolution
    )
    areas = row_pixel_areas_m2(box)
    assert areas.shape == (box.shape.y,)
    assert np.all(areas == pixel_area_m2(box)) and pixel_area_m2(box) == resolution * resolution


@PROPERTY
@given(
    st.floats(-179, 170),
    st.floats(-80, 70),
    st.floats(0.05, 9),
    st.floats(0.05, 9),
    st.sampled_from([0.01, 0.05, 0.1]),
)
def test_geographic_row_areas_add_up_to_the_grids_area_and_shrink_poleward(
    west: float, south: float, width: float, height: float, resolution: float
) -> None:
    aoi = AoiConfig(
        id="t",
        name="t",
        crs="EPSG:4326",
        bounds=(west, south, west + width, south + height),
        resolution=resolution,
    )
    box = aoi_geobox(aoi)
    areas = row_pixel_areas_m2(box)
    left, bottom, right, top = box.boundingbox
    # the grid's outline, its north and south edges following the parallels through every pixel corner
    edge = np.linspace(left, right, box.shape.x + 1)
    total, _ = pyproj.Geod(ellps="WGS84").polygon_area_perimeter(
        np.concatenate([edge, edge[::-1]]),
        np.concatenate([np.full(edge.size, bottom), np.full(edge.size, top)]),
    )
    assert float(areas.sum()) * box.shape.x == pytest.approx(abs(total), rel=1e-6)
    lats = top - (np.arange(box.shape.y) + 0.5) * resolution  # row centres, north first
    order = np.argsort(np.abs(lats))
    assert np.all(np.diff(areas[order]) <= 1e-9 * areas.max())  # no row nearer a pole is larger
    assert math.isfinite(areas.max()) and areas.min() > 0
    with pytest.raises(ValueError):
        pixel_area_m2(box)
