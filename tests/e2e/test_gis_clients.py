"""GDAL as the GIS client of the tile server (a real uvicorn on 127.0.0.1): the WMTS capabilities, the
XYZ template and the value tiles, decoded back to the published COGs' values."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, reproject
from rasterio.windows import Window

from sensing.config import Settings
from sensing.products import WATER_CLASSES
from sensing.serve.app import create_app
from tests.servers import serve_asgi

pytestmark = pytest.mark.slow
WMTS = "{http://www.opengis.net/wmts/1.0}"
OWS = "{http://www.opengis.net/ows/1.1}"


@pytest.fixture(scope="module")
def server(nightly_run: tuple[Settings, dict]) -> Iterator[tuple[str, Settings, list[dict]]]:
    settings, _ = nightly_run
    layers = json.loads((settings.output_dir / "layers.json").read_text())["layers"]
    with serve_asgi(create_app(settings.output_dir)) as base:
        yield base, settings, layers


def _cog(settings: Settings, layers: list[dict], layer_id: str, date: str) -> Path:
    entry = next(e for e in layers if e["id"] == layer_id and e["date"] == date)
    return settings.output_dir / entry["cog"]


def _classes_from_colours(rgba: np.ndarray) -> np.ndarray:
    """Class values of rendered pixels (255 where no class colour matches or transparent)."""
    out = np.full(rgba.shape[1:], 255, dtype=np.uint8)
    for value, (_, colour) in WATER_CLASSES.items():
        if colour[3]:
            out[np.all(rgba[:3] == np.array(colour[:3])[:, None, None], axis=0) & (rgba[3] > 0)] = value
    return out


def _cog_on(ds: rasterio.DatasetReader, window: Window, cog: Path, resampling: Resampling) -> np.ndarray:
    """The COG's band 1 on a window of a client dataset's grid."""
    with rasterio.open(cog) as src:
        data = src.read(1, masked=True).astype("float32").filled(np.nan) * src.scales[0] + src.offsets[0]
        out = np.full((int(window.height), int(window.width)), np.nan, dtype="float32")
        reproject(
            data, out, src_transform=src.transform, src_crs=src.crs, src_nodata=np.nan,
            dst_transform=ds.window_transform(window), dst_crs=ds.crs, dst_nodata=np.nan, resampling=resampling,
        )  # fmt: skip
    return out


def _assert_classes_match(ds: rasterio.DatasetReader, window: Window, cog: Path) -> set[int]:
    """A client's rendered window decodes to the COG's classes (nearest resampling differs at class
    edges only); returns the classes seen."""
    decoded = _classes_from_colours(ds.read(window=window))
    published = _cog_on(ds, window, cog, Resampling.nearest)
    both = (decoded != 255) & np.isfinite(published)
    assert both.mean() > 0.9
    assert np.mean(decoded[both] == published[both]) > 0.97
    return set(np.unique(decoded[both]).tolist())


def _centre(ds: rasterio.DatasetReader, size: int = 384) -> Window:
    return Window((ds.width - size) // 2, (ds.height - size) // 2, size, size)


def test_one_capabilities_document_lists_every_layer_with_its_dates(
    server: tuple[str, Settings, list[dict]],
) -> None:
    base, _, layers = server
    response = httpx.get(f"{base}/wmts", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"
    root = ET.fromstring(response.content)
    documented = {node.findtext(f"{OWS}Identifier"): node for node in root.iter(f"{WMTS}Layer")}
    assert set(documented) == {e["id"] for e in layers}
    for layer_id, node in documented.items():
        dates = [v.text for v in node.iter(f"{WMTS}Value")]
        assert dates == sorted(e["date"] for e in layers if e["id"] == layer_id)
        assert node.find(f"{WMTS}Dimension/{WMTS}Default").text == dates[-1]  # type: ignore[union-attr]
        sets = {link.findtext(f"{WMTS}TileMatrixSet") for link in node.iter(f"{WMTS}TileMatrixSetLink")}
        assert sets == {"WebMercatorQuad", "WGS1984Quad"}
        legend = node.find(f"{WMTS}Style/{WMTS}LegendURL")
        assert legend is not None
        image = httpx.get(legend.get("{http://www.w3.org/1999/xlink}href", ""))
        assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
    matrix_sets = [
        node.findtext(f"{OWS}Identifier")
        for node in root.find(f"{WMTS}Contents").findall(f"{WMTS}TileMatrixSet")
    ]  # type: ignore[union-attr]
    assert matrix_sets == ["WebMercatorQuad", "WGS1984Quad"]


@pytest.mark.parametrize("tms", ["WebMercatorQuad", "WGS1984Quad"])
def test_gdal_reads_the_water_layer_through_wmts_and_its_colours_map_back_to_the_classes(
    server: tuple[str, Settings, list[dict]], tms: str
) -> None:
    base, settings, layers = server
    layer_id = f"water-{settings.aoi.id}"
    latest = max(e["date"] for e in layers if e["id"] == layer_id)  # WMTS clients get the Default time
    with rasterio.open(f"WMTS:{base}/wmts,layer={layer_id},tilematrixset={tms}") as ds:
        assert ds.count == 4 and ds.crs.to_epsg() == (3857 if tms == "WebMercatorQuad" else 4326)
        window = _centre(ds)
        assert {0, 1} <= _assert_classes_match(ds, window, _cog(settings, layers, layer_id, latest))


def test_gdal_reads_an_older_date_through_the_xyz_template(server: tuple[str, Settings, list[dict]]) -> None:
    base, settings, layers = server
    layer_id = f"water-{settings.aoi.id}"
    first = min(e["date"] for e in layers if e["id"] == layer_id)
    tilejson = httpx.get(f"{base}/layers/{layer_id}/{first}/WebMercatorQuad/tilejson.json").json()
    template = tilejson["tiles"][0].replace("{z}", "${z}").replace("{x}", "${x}").replace("{y}", "${y}")
    extent = 20037508.342789244
    xml = (
        f'<GDAL_WMS><Service name="TMS"><ServerUrl>{template}</ServerUrl></Service><DataWindow>'
        f"<UpperLeftX>{-extent}</UpperLeftX><UpperLeftY>{extent}</UpperLeftY><LowerRightX>{extent}</LowerRightX>"
        f"<LowerRightY>{-extent}</LowerRightY><TileLevel>{tilejson['maxzoom']}</TileLevel><TileCountX>1</TileCountX>"
        "<TileCountY>1</TileCountY><YOrigin>top</YOrigin></DataWindow><Projection>EPSG:3857</Projection>"
        "<BlockSizeX>256</BlockSizeX><BlockSizeY>256</BlockSizeY><BandsCount>4</BandsCount>"
        "<ZeroBlockHttpCodes>404</ZeroBlockHttpCodes></GDAL_WMS>"
    )
    west, south, east, north = tilejson["bounds"]
    with rasterio.open(xml) as ds:
        from rasterio.warp import transform_bounds

        left, bottom, right, top = transform_bounds("EPSG:4326", ds.crs, west, south, east, north)
        full = ds.window(left, bottom, right, top).round_offsets().round_lengths()
        window = Window(full.col_off + full.width // 4, full.row_off + full.height // 4, 384, 384)
        _assert_classes_match(ds, window, _cog(settings, layers, layer_id, first))


def test_value_tiles_return_the_index_in_physical_units(server: tuple[str, Settings, list[dict]]) -> None:
    base, settings, layers = server
    layer_id = f"mndwi-{settings.aoi.id}"
    date = min(e["date"] for e in layers if e["id"] == layer_id)
    tilejson = httpx.get(f"{base}/layers/{layer_id}/{date}/WebMercatorQuad/tilejson.json").json()
    west, south, east, north = tilejson["bounds"]
    import morecantile

    tile = morecantile.tms.get("WebMercatorQuad").tile(
        (west + east) / 2, (south + north) / 2, tilejson["maxzoom"]
    )
    url = f"{base}/layers/{layer_id}/{date}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.tif"
    response = httpx.get(url)
    assert response.headers["content-type"] == "image/tiff"
    with rasterio.MemoryFile(response.content) as memory, memory.open() as ds:
        values = ds.read(1)
        assert ds.dtypes[0] == "float32" and ds.crs.to_epsg() == 3857
        published = _cog_on(
            ds, Window(0, 0, ds.width, ds.height), _cog(settings, layers, layer_id, date), Resampling.nearest
        )
    both = np.isfinite(values) & np.isfinite(published)
    assert both.mean() > 0.5
    assert values[both].min() >= -1 and values[both].max() <= 1
    assert np.mean(np.abs(values[both] - published[both]) < 1e-3) > 0.95  # nearest: the stored values


def test_tiles_revalidate_with_etags(server: tuple[str, Settings, list[dict]]) -> None:
    base, settings, layers = server
    layer_id = f"water-{settings.aoi.id}"
    date = layers[[e["id"] for e in layers].index(layer_id)]["date"]
    tilejson = httpx.get(f"{base}/layers/{layer_id}/{date}/WebMercatorQuad/tilejson.json").json()
    url = tilejson["tiles"][0].format(z=tilejson["minzoom"], **_tile_at(tilejson, tilejson["minzoom"]))
    first = httpx.get(url)
    assert first.status_code == 200 and "max-age" in first.headers["cache-control"]
    again = httpx.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = httpx.get(url, headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200 and other.content == first.content
    kvp = httpx.get(
        f"{base}/wmts",
        params={"SERVICE": "WMTS", "REQUEST": "GetTile", "LAYER": layer_id, "TILEMATRIXSET": "WebMercatorQuad",
                "TILEMATRIX": tilejson["minzoom"], "TILECOL": url.split("/")[-2], "TILEROW": url.split("/")[-1][:-4],
                "TIME": date, "FORMAT": "image/png"},
    )  # fmt: skip
    assert kvp.status_code == 200 and kvp.content == first.content


def _tile_at(tilejson: dict, zoom: int) -> dict[str, int]:
    """The x and y of the tile at the centre of a TileJSON's bounds."""
    import morecantile

    west, south, east, north = tilejson["bounds"]
    tile = morecantile.tms.get("WebMercatorQuad").tile((west + east) / 2, (south + north) / 2, zoom)
    return {"x": tile.x, "y": tile.y}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"REQUEST": "GetMap"}, 400, "OperationNotSupported"),
        ({"SERVICE": "WMS"}, 400, "InvalidParameterValue"),
        ({"REQUEST": "GetTile", "LAYER": "x"}, 400, "MissingParameterValue"),
        (
            {
                "REQUEST": "GetTile",
                "LAYER": "../../etc/passwd",
                "TILEMATRIXSET": "WebMercatorQuad",
                "TILEMATRIX": "1",
                "TILEROW": "0",
                "TILECOL": "0",
            },
            404,
            "InvalidParameterValue",
        ),
        (
            {
                "REQUEST": "GetTile",
                "LAYER": "x",
                "TILEMATRIXSET": "WebMercatorQuad",
                "TILEMATRIX": "a",
                "TILEROW": "0",
                "TILECOL": "0",
            },
            400,
            "InvalidParameterValue",
        ),
    ],
)
def test_bad_wmts_requests_get_ows_exceptions_without_server_paths(
    server: tuple[str, Settings, list[dict]], params: dict[str, str], status: int, code: str
) -> None:
    base, settings, _ = server
    response = httpx.get(f"{base}/wmts", params=params)
    assert response.status_code == status
    assert f'exceptionCode="{code}"' in response.text
    assert str(settings.output_dir) not in response.text and "/tmp" not in response.text


def test_wms_capabilities_list_every_layer_with_its_time_dimension(
    server: tuple[str, Settings, list[dict]],
) -> None:
    base, _, layers = server
    root = ET.fromstring(
        httpx.get(f"{base}/wms", params={"SERVICE": "WMS", "REQUEST": "GetCapabilities"}).content
    )
    ns = "{http://www.opengis.net/wms}"
    named = {
        node.findtext(f"{ns}Name"): node
        for node in root.iter(f"{ns}Layer")
        if node.find(f"{ns}Name") is not None
    }
    assert set(named) == {e["id"] for e in layers}
    for layer_id, node in named.items():
        dimension = node.find(f"{ns}Dimension")
        assert dimension is not None and dimension.get("name") == "time"
        dates = sorted(e["date"] for e in layers if e["id"] == layer_id)
        assert dimension.text == ",".join(dates) and dimension.get("default") == dates[-1]


def test_gdal_reads_a_date_through_wms_getmap(server: tuple[str, Settings, list[dict]]) -> None:
    base, settings, layers = server
    layer_id = f"water-{settings.aoi.id}"
    first = min(e["date"] for e in layers if e["id"] == layer_id)
    west, south, east, north = next(e["bounds"] for e in layers if e["id"] == layer_id)
    from rasterio.warp import transform_bounds

    left, bottom, right, top = transform_bounds("EPSG:4326", "EPSG:3857", west, south, east, north)
    xml = (
        f'<GDAL_WMS><Service name="WMS"><Version>1.3.0</Version><ServerUrl>{base}/wms?TIME={first}&amp;</ServerUrl>'
        f"<CRS>EPSG:3857</CRS><ImageFormat>image/png</ImageFormat><Transparent>TRUE</Transparent>"
        f"<Layers>{layer_id}</Layers></Service><DataWindow><UpperLeftX>{left}</UpperLeftX><UpperLeftY>{top}</UpperLeftY>"
        f"<LowerRightX>{right}</LowerRightX><LowerRightY>{bottom}</LowerRightY><SizeX>1024</SizeX><SizeY>1024</SizeY>"
        "</DataWindow><BandsCount>4</BandsCount><BlockSizeX>256</BlockSizeX><BlockSizeY>256</BlockSizeY></GDAL_WMS>"
    )
    with rasterio.open(xml) as ds:
        window = Window(256, 256, 512, 512)
        _assert_classes_match(ds, window, _cog(settings, layers, layer_id, first))


def test_wms_1_3_0_reads_epsg_4326_boxes_latitude_first(server: tuple[str, Settings, list[dict]]) -> None:
    base, settings, layers = server
    west, south, east, north = next(e["bounds"] for e in layers if e["id"] == f"water-{settings.aoi.id}")
    common = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": f"water-{settings.aoi.id}",
              "WIDTH": "200", "HEIGHT": "150", "FORMAT": "image/png", "TRANSPARENT": "TRUE"}  # fmt: skip
    lon_first = httpx.get(
        f"{base}/wms", params={**common, "CRS": "CRS:84", "BBOX": f"{west},{south},{east},{north}"}
    )
    lat_first = httpx.get(
        f"{base}/wms", params={**common, "CRS": "EPSG:4326", "BBOX": f"{south},{west},{north},{east}"}
    )
    assert lon_first.status_code == lat_first.status_code == 200
    assert lon_first.content == lat_first.content
    old = httpx.get(
        f"{base}/wms",
        params={**common, "VERSION": "1.1.1", "SRS": "EPSG:4326", "BBOX": f"{west},{south},{east},{north}"},
    )
    assert old.content == lon_first.content  # 1.1.1: always x, y


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"LAYERS": "nowhere"}, 404, "LayerNotDefined"),
        ({"WIDTH": "100000"}, 400, "InvalidParameterValue"),
        ({"CRS": "EPSG:99999999"}, 400, "InvalidCRS"),
        ({"CRS": "/etc/passwd"}, 400, "InvalidCRS"),
        ({"BBOX": "1,2,3"}, 400, "InvalidParameterValue"),
        ({"TIME": "1999-01-01"}, 404, "InvalidDimensionValue"),
        ({"FORMAT": "image/gif"}, 400, "InvalidFormat"),
    ],
)
def test_bad_getmap_requests_get_service_exceptions(
    server: tuple[str, Settings, list[dict]], params: dict[str, str], status: int, code: str
) -> None:
    base, settings, _ = server
    good = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": f"water-{settings.aoi.id}",
            "CRS": "CRS:84", "BBOX": "77,43,78,44", "WIDTH": "10", "HEIGHT": "10"}  # fmt: skip
    response = httpx.get(f"{base}/wms", params={**good, **params})
    assert response.status_code == status
    assert f'code="{code}"' in response.text and str(settings.output_dir) not in response.text


def test_see_through_classes_stay_transparent_in_tiles(server: tuple[str, Settings, list[dict]]) -> None:
    """The change layer's "not water" class is transparent in the catalogue; a GeoTIFF colour table
    cannot say so (it made these pixels opaque black before the tiles used the catalogue's colours)."""
    import io

    from PIL import Image

    base, _, layers = server
    entry = next(e for e in layers if e["product"] == "water-change")
    tilejson = httpx.get(f"{base}/layers/{entry['id']}/{entry['date']}/WebMercatorQuad/tilejson.json").json()
    url = tilejson["tiles"][0].format(
        z=tilejson["maxzoom"] - 2, **_tile_at(tilejson, tilejson["maxzoom"] - 2)
    )
    rgba = np.asarray(Image.open(io.BytesIO(httpx.get(url).content)).convert("RGBA"))
    transparent = rgba[..., 3] == 0
    assert 0.05 < transparent.mean() < 0.95
    assert not np.any(np.all(rgba == (0, 0, 0, 255), axis=-1))


def test_capabilities_keep_their_default_namespace_whichever_is_asked_first(
    server: tuple[str, Settings, list[dict]],
) -> None:
    """ElementTree's namespace registry is global: WMS capabilities once re-registered the default
    namespace, after which the WMTS document came out as <ns0:Capabilities>, which QGIS refuses."""
    base, _, _ = server
    for _ in range(2):
        wms = httpx.get(f"{base}/wms", params={"REQUEST": "GetCapabilities"}).text
        wmts = httpx.get(f"{base}/wmts").text
        assert "<WMS_Capabilities " in wms and "ns0:" not in wms
        assert "<Capabilities " in wmts and "ns0:" not in wmts


@pytest.mark.parametrize("suffix", [".mbtiles", ".pmtiles"])
def test_a_layer_exported_as_a_tile_archive_holds_the_served_tiles(
    server: tuple[str, Settings, list[dict]], tmp_path: Path, suffix: str
) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    base, settings, layers = server
    entry = min((e for e in layers if e["product"] == "water"), key=lambda e: e["date"])
    out = tmp_path / f"water{suffix}"
    result = CliRunner().invoke(
        app, ["export-tiles", entry["id"], entry["date"], "--out", str(out), "--config",
              str(settings.data_dir.parent / "config.yaml")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = int(result.output.split()[0])
    tilejson = httpx.get(f"{base}/layers/{entry['id']}/{entry['date']}/WebMercatorQuad/tilejson.json").json()
    z = tilejson["maxzoom"]
    centre = _tile_at(tilejson, z)
    served = httpx.get(tilejson["tiles"][0].format(z=z, **centre)).content
    if suffix == ".mbtiles":
        with rasterio.open(out) as ds:  # GDAL's MBTiles driver, as QGIS opens it
            assert ds.driver == "MBTiles" and ds.count == 4
            assert {0, 1} <= _assert_classes_match(ds, _centre(ds, 256), settings.output_dir / entry["cog"])
        import sqlite3

        with sqlite3.connect(out) as db:
            row = db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                (z, centre["x"], 2**z - 1 - centre["y"]),
            ).fetchone()
            assert db.execute("SELECT count(*) FROM tiles").fetchone()[0] == written
    else:
        from pmtiles.reader import MmapSource, Reader, all_tiles

        with out.open("rb") as fh:
            reader = Reader(MmapSource(fh))
            assert reader.header()["max_zoom"] == z
            row = (reader.get(z, centre["x"], centre["y"]),)
            assert sum(1 for _ in all_tiles(reader.get_bytes)) == written
    assert row is not None and row[0] == served
    bad = CliRunner().invoke(app, ["export-tiles", entry["id"], entry["date"], "--out", str(tmp_path / "x.zip"),
                                   "--config", str(settings.data_dir.parent / "config.yaml")])  # fmt: skip
    assert bad.exit_code == 2 and "must end with .pmtiles or .mbtiles" in bad.output
