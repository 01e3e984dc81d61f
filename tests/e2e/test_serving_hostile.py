"""The tile server under hostile requests (test_serving_security.py has path traversal, malformed XYZ
tiles, oversized request lines, a VRT renamed .tif and CORS): no parameter makes it fetch a URL or
open a path (SSRF), WMTS and WMS refuse out-of-range, absurd or unknown requests with a 4xx and a
reason, slow clients holding connections open do not starve the others, and fuzzed paths and query
strings never get a 5xx or an exception."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import morecantile
import psutil
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensing.config import Settings
from sensing.serve.app import create_app
from sensing.serve.wms import MAX_SIZE
from tests.servers import sensing_serve

pytestmark = pytest.mark.slow
WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples in every CI run: a failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def published(nightly_run: tuple[Settings, dict]) -> tuple[Settings, list[dict]]:
    settings_, _ = nightly_run
    return settings_, json.loads((settings_.output_dir / "layers.json").read_text())["layers"]


@pytest.fixture(scope="module")
def client(published: tuple[Settings, list[dict]]) -> TestClient:
    """The app in-process; an exception escaping it fails the test (raise_server_exceptions)."""
    return TestClient(create_app(published[0].output_dir), raise_server_exceptions=True)


@pytest.fixture(scope="module")
def water(published: tuple[Settings, list[dict]]) -> dict:
    return next(e for e in published[1] if e["product"] == "water")


class Listener:
    """A loopback TCP listener counting the connections it is offered (a would-be SSRF target)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:  # answer like a file server would, so a fetch would go on to read it
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nroot:x:0:0:")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture()
def listener() -> Iterator[Listener]:
    target = Listener()
    yield target
    target.close()


SSRF_GET = [  # (path, whether the URL is what the request names, so that it must be refused with a 4xx)
    ("/layers?url={url}&href={url}", False),
    ("/healthz?url={url}", False),
    ("/layers/{id}/{date}/tiles/WebMercatorQuad/10/700/380.png?url={url}&href={url}&cog={url}", False),
    ("/layers/{id}/{date}/WebMercatorQuad/tilejson.json?url={url}", False),
    ("/layers/{id}/{date}/legend.png?url={url}", False),
    ("/layers/{id}/point?lon=77.3&lat=43.9&url={url}", False),
    ("/layers/{qurl}/{date}/legend.json", True),
    ("/layers/%2Fvsicurl%2F{qurl}/{date}/cog.tif", True),
    ("/tables/{qurl}.csv", True),
    ("/tables/%2Fvsicurl%2F{qurl}.csv", True),
    ("/stac/files/{qurl}", True),
    ("/stac/files//vsicurl/{url}", True),
    ("/stac/files/%2Fvsicurl%2F{qurl}", True),
    ("/stac/search?collections={qurl}&ids={qurl}&href={url}", False),  # names matched, nothing found
    ("/stac/collections/{qurl}", True),
    ("/water-bodies/{qurl}/series", True),
    ("/wms?SERVICE=WMS&REQUEST=GetCapabilities&url={url}&SLD={url}", False),
    ("/wms?REQUEST=GetMap&LAYERS={qurl}&CRS=CRS:84&BBOX=77,43,78,44&WIDTH=10&HEIGHT=10", True),
    ("/wms?REQUEST=GetMap&LAYERS=%2Fvsicurl%2F{qurl}&CRS=CRS:84&BBOX=77,43,78,44&WIDTH=10&HEIGHT=10", True),
    (
        "/wms?REQUEST=GetMap&LAYERS={id}&STYLES=&SLD={qurl}&SLD_BODY=%3CStyledLayerDescriptor%20href%3D%22{qurl}%22%2F%3E"
        "&CRS=CRS:84&BBOX=77,43,78,44&WIDTH=10&HEIGHT=10",
        False,
    ),  # SLD is not supported: ignored
    ("/wms?REQUEST=GetMap&LAYERS={id}&CRS={qurl}&BBOX=77,43,78,44&WIDTH=10&HEIGHT=10", True),
    ("/wms?REQUEST=GetMap&LAYERS={id}&CRS=CRS:84&BBOX=77,43,78,44&WIDTH=10&HEIGHT=10&TIME={qurl}", True),
    ("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities&url={url}", False),
    (
        "/wmts?REQUEST=GetTile&LAYER={qurl}&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=10&TILEROW=380&TILECOL=700",
        True,
    ),
    (
        "/wmts?REQUEST=GetTile&LAYER=%2Fvsicurl%2F{qurl}&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=10&TILEROW=380&TILECOL=700",
        True,
    ),
    (
        "/wmts?REQUEST=GetTile&LAYER={id}&TIME={qurl}&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=10&TILEROW=380&TILECOL=700",
        True,
    ),
    ("/wmts?REQUEST=GetTile&LAYER={id}&TILEMATRIXSET={qurl}&TILEMATRIX=10&TILEROW=380&TILECOL=700", True),
]


def test_no_parameter_makes_the_server_fetch_a_url(
    client: TestClient, water: dict, listener: Listener
) -> None:
    """URLs (plain, /vsicurl/, in a layer name, a CRS, a TIME, an SLD, a STAC path or search) in every
    endpoint: each answered without a 5xx, those naming the URL as what they want refused with a
    4xx, and the loopback listener offered no connection."""
    url = f"http://127.0.0.1:{listener.port}/secret.tif"
    for template, refused in SSRF_GET:
        path = template.format(url=url, qurl=quote(url, safe=""), id=water["id"], date=water["date"])
        response = client.get(path)
        assert response.status_code < 500, (path, response.status_code, response.text[:200])
        assert not refused or 400 <= response.status_code < 500, (path, response.status_code)
        assert "root:x" not in response.text
    statistics = client.post(
        f"/layers/{water['id']}/{water['date']}/statistics",
        json={"type": "Feature", "properties": {"href": url},
              "geometry": {"type": "Polygon", "coordinates": [[[77.2, 43.8], [77.3, 43.8], [77.3, 43.9], [77.2, 43.8]]]}},
    )  # fmt: skip
    assert statistics.status_code == 200
    search = client.post("/stac/search", json={"collections": [url], "ids": [url], "href": url})
    assert search.status_code == 400  # unknown field "href"; collections and ids are only matched as names
    time.sleep(0.3)
    assert listener.connections == 0


@pytest.mark.parametrize(
    "name",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "/vsicurl/http://127.0.0.1:9/x.tif",
        "/vsizip//etc/passwd.zip/x.tif",
        "/vsizip/{root}/layers.json",
        "/vsis3/bucket/x.tif",
        "../../../../etc/passwd",
        "{root}/layers.json",
        "GTIFF_DIR:1:/etc/passwd",
        "<VRTDataset/>",
    ],
)
def test_path_and_gdal_layer_names_are_refused(
    client: TestClient, published: tuple[Settings, list[dict]], water: dict, name: str
) -> None:
    """A file path, a file: URL or a GDAL virtual file system name as a layer: 4xx, nothing read."""
    root = str(published[0].output_dir)
    name = name.format(root=root)
    tile = "&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=10&TILEROW=380&TILECOL=700"
    for path, status in [
        (f"/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER={quote(name, safe='')}{tile}", 404),
        (
            f"/wms?REQUEST=GetMap&LAYERS={quote(name, safe='')}&CRS=CRS:84&BBOX=77,43,78,44&WIDTH=9&HEIGHT=9",
            404,
        ),
        (f"/layers/{quote(name, safe='')}/{water['date']}/tiles/WebMercatorQuad/10/700/380.png", 422),
        (f"/stac/files/{quote(name, safe='')}", 404),
        (f"/tables/{quote(name, safe='')}.csv", 404),
    ]:
        response = client.get(path)
        assert response.status_code in (status, 404), (path, response.status_code)
        assert "root:x" not in response.text  # /etc/passwd's first line
        assert root not in response.text or root in name  # (an exception may quote the name asked for)


@pytest.mark.parametrize(
    "path",
    [
        "/stac/files/"
        + "9" * 400
        + "/2021-01-01/0",  # a segment over the file system's 255 bytes: 500 before
        "/stac/files/layers/" + "b" * 5000,
        "/stac/files/%00",  # a NUL byte: ValueError from os.path.realpath, 500 before
        "/stac/files/layers/a%00b/x.tif",
        "/stac/files/" + "/".join(["a" * 200] * 30),
        "/static/" + "a" * 400,
        "/static/a%00b",
        "/tables/" + "a" * 400 + ".csv",
        "/layers/" + "a" * 400 + "/2021-08-01/cog.tif",
        "/water-bodies/" + "a" * 400 + "/series",
    ],
)
def test_names_the_file_system_refuses_are_404_not_500(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (404, 422), response.text[:200]


def test_an_index_entry_naming_a_url_or_an_outside_path_is_never_opened(
    published: tuple[Settings, list[dict]], water: dict, tmp_path: Path, listener: Listener
) -> None:
    """Defence in depth: even the publisher's index cannot point the server at a URL or outside its tree."""
    url = f"http://127.0.0.1:{listener.port}/x.tif"
    layers = [
        water | {"id": "water-remote", "cog": f"/vsicurl/{url}", "item": None},
        water | {"id": "water-url", "cog": url, "item": None},
        water | {"id": "water-outside", "cog": "../../../../etc/passwd", "item": None},
    ]
    (tmp_path / "layers.json").write_text(json.dumps({"layers": layers}))
    # a missing file answers 500 (the operator's fault, not the client's): never from the listener
    client = TestClient(create_app(tmp_path), raise_server_exceptions=False)
    served = {layer["id"] for layer in client.get("/layers").json()["layers"]}
    assert served <= {"water-url"}  # "http:/127.0.0.1:.../x.tif" would be a file inside the tree
    for layer_id in ("water-remote", "water-url", "water-outside"):
        for path in ("tiles/WebMercatorQuad/10/700/380.png", "tiles/WGS1984Quad/9/700/130.tif",
                     "WebMercatorQuad/tilejson.json", "cog.tif"):  # fmt: skip
            response = client.get(f"/layers/{layer_id}/{water['date']}/{path}")
            assert response.status_code != 200 and "root:" not in response.text, (layer_id, path)
    time.sleep(0.3)
    assert listener.connections == 0


@pytest.mark.parametrize(
    ("tms", "z", "row", "col"),
    [
        ("WebMercatorQuad", 3, 8, 0),  # the matrix is 8 x 8
        ("WebMercatorQuad", 3, 0, 8),
        ("WebMercatorQuad", 3, 15, 15),
        ("WebMercatorQuad", 0, 1, 0),
        ("WGS1984Quad", 0, 0, 2),  # 2 columns, 1 row at z0
        ("WGS1984Quad", 0, 1, 0),
        ("WGS1984Quad", 3, 8, 0),  # 16 x 8 at z3
        ("WGS1984Quad", 3, 15, 0),
        ("WGS1984Quad", 3, 0, 16),
        ("WebMercatorQuad", 24, 2**24, 0),
        ("WebMercatorQuad", 25, 0, 0),
        ("WebMercatorQuad", -1, 0, 0),
        ("WebMercatorQuad", 3, -1, 0),
        ("WebMercatorQuad", 3, 0, -1),
        ("WebMercatorQuad", 10**30, 0, 0),
        ("WebMercatorQuad", 3, 10**30, 10**30),
    ],
)
def test_wmts_kvp_tiles_outside_the_matrix_are_tile_out_of_range(
    client: TestClient, water: dict, tms: str, z: int, row: int, col: int
) -> None:
    response = client.get(
        "/wmts", params={"SERVICE": "WMTS", "REQUEST": "GetTile", "LAYER": water["id"], "TILEMATRIXSET": tms,
                         "TILEMATRIX": z, "TILEROW": row, "TILECOL": col, "FORMAT": "image/png"},
    )  # fmt: skip
    assert response.status_code == 400, response.text[:300]
    assert 'exceptionCode="TileOutOfRange"' in response.text


@pytest.mark.parametrize(("z", "x", "y"), [(0, 2, 0), (0, 3, 0), (3, 0, 8), (3, 0, 15), (3, 40, 0)])
def test_xyz_tiles_outside_the_wgs84_matrix_are_404(
    client: TestClient, water: dict, z: int, x: int, y: int
) -> None:
    """WGS1984Quad is 2^(z+1) x 2^z tiles: beyond it a tile lies south of the pole (GDAL's read
    failed: 500) or around the globe again (the layer was drawn a second time: 200)."""
    response = client.get(f"/layers/{water['id']}/{water['date']}/tiles/WGS1984Quad/{z}/{x}/{y}.png")
    assert response.status_code == 404 and "outside" in response.json()["detail"]


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"WIDTH": "100000", "HEIGHT": "100000"}, 400, "InvalidParameterValue"),
        ({"WIDTH": str(MAX_SIZE + 1)}, 400, "InvalidParameterValue"),
        ({"HEIGHT": "0"}, 400, "InvalidParameterValue"),
        ({"WIDTH": "-256"}, 400, "InvalidParameterValue"),
        ({"WIDTH": "1e3"}, 400, "InvalidParameterValue"),
        ({"WIDTH": "9" * 5000}, 400, "InvalidParameterValue"),
        ({"BBOX": "78,44,77,43"}, 400, "InvalidParameterValue"),  # inverted
        ({"BBOX": "77,43,77,44"}, 400, "InvalidParameterValue"),  # empty
        ({"BBOX": "nan,43,78,44"}, 400, "InvalidParameterValue"),
        ({"BBOX": "nan,nan,nan,nan"}, 400, "InvalidParameterValue"),
        ({"BBOX": "-inf,-inf,inf,inf"}, 400, "InvalidParameterValue"),
        ({"BBOX": "-1e308,-1e308,1e308,1e308"}, 400, "InvalidParameterValue"),  # its width overflows
        ({"BBOX": "77,43,78"}, 400, "InvalidParameterValue"),
        ({"BBOX": "a,b,c,d"}, 400, "InvalidParameterValue"),
        ({"BBOX": ""}, 400, "MissingParameterValue"),
        ({"TIME": "2021-13-45"}, 404, "InvalidDimensionValue"),
        ({"TIME": "2021-08-01/2022-06-26"}, 404, "InvalidDimensionValue"),
        ({"TIME": "current"}, 404, "InvalidDimensionValue"),
        ({"TIME": "../../etc/passwd"}, 404, "InvalidDimensionValue"),
        ({"TIME": "\u0000" * 200}, 404, "InvalidDimensionValue"),
        ({"LAYERS": "no-such-layer"}, 404, "LayerNotDefined"),
        ({"LAYERS": ","}, 404, "LayerNotDefined"),
        ({"LAYERS": "x" * 10_000}, 404, "LayerNotDefined"),
        ({"CRS": "EPSG:"}, 400, "InvalidCRS"),
        ({"CRS": "EPSG:" + "9" * 400}, 400, "InvalidCRS"),
        ({"CRS": "+proj=longlat +datum=WGS84"}, 400, "InvalidCRS"),
        ({"REQUEST": "GetFeatureInfo"}, 400, "OperationNotSupported"),
        ({"SERVICE": "WFS"}, 400, "InvalidParameterValue"),
    ],
)
def test_absurd_getmap_requests_are_4xx_with_a_reason(
    client: TestClient, water: dict, changes: dict[str, str], status: int, code: str
) -> None:
    good = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": water["id"], "CRS": "CRS:84",
            "BBOX": "77,43,78,44", "WIDTH": "64", "HEIGHT": "64", "FORMAT": "image/png"}  # fmt: skip
    response = client.get("/wms", params={**good, **changes})
    assert response.status_code == status, response.text[:300]
    assert f'code="{code}"' in response.text and "<ServiceException" in response.text


@pytest.mark.parametrize(
    ("crs", "bbox"),
    [
        (
            "CRS:84",
            "-1000000,-1000000,1000000,1000000",
        ),  # a virtual raster of 1e10 px across: OverflowError, 500
        ("EPSG:32643", "-1e300,-1e300,1e300,1e300"),  # GDAL's read failed: 500
        ("EPSG:3857", "-1e30,0,1e30,1"),
        ("EPSG:4326", "0,0,1e-300,1e-300"),
        ("EPSG:3857", "-20037508.34,-20037508.34,20037508.34,20037508.34"),
    ],
)
def test_getmap_boxes_far_larger_or_smaller_than_the_layer_render(
    client: TestClient, water: dict, crs: str, bbox: str
) -> None:
    """A box whatever its size is an image (the layer a speck or nothing in it), never a 5xx."""
    response = client.get(
        "/wms", params={"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": water["id"],
                        "CRS": crs, "BBOX": bbox, "WIDTH": "256", "HEIGHT": "256", "TRANSPARENT": "TRUE"},
    )  # fmt: skip
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    "params",
    [
        {"LAYER": "no-such-layer"},
        {"TIME": "2021-13-45"},
        {"TIME": "1999-01-01"},
        {"TILEMATRIXSET": "EPSG:4326"},
        {"TILEMATRIX": "ten"},
        {"TILEROW": "1.5"},
        {"TILECOL": ""},
        {"FORMAT": "image/jpeg"},
        {"SERVICE": "WMS"},
        {"REQUEST": "GetFeatureInfo"},
    ],
)
def test_bad_wmts_kvp_requests_are_ows_exceptions(
    client: TestClient, water: dict, params: dict[str, str]
) -> None:
    good = {"SERVICE": "WMTS", "REQUEST": "GetTile", "LAYER": water["id"], "TILEMATRIXSET": "WebMercatorQuad",
            "TILEMATRIX": "10", "TILEROW": "380", "TILECOL": "700", "FORMAT": "image/png"}  # fmt: skip
    response = client.get("/wmts", params={**good, **params})
    assert 400 <= response.status_code < 500
    assert "<ExceptionReport" in response.text and "exceptionCode=" in response.text


# --- slow clients against the real server ---------------------------------------------------------


def _established(process: psutil.Process, port: int) -> int:
    return sum(
        1
        for c in process.net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
    )


def test_slow_clients_do_not_starve_the_others(
    published: tuple[Settings, list[dict]], demo_root: Path, water: dict
) -> None:
    """50 connections trickling a request's headers a byte every half second (slowloris): a tile
    requested meanwhile is answered promptly; once they go, the server holds none of them and still
    answers. (uvicorn sets no deadline on reading headers: such clients hold a socket each until
    they go, so the process's file limit bounds them; put a proxy with header timeouts in front.)"""
    with sensing_serve(demo_root / "config.yaml") as (url, process):
        port = int(url.rsplit(":", 1)[1])
        west, south, east, north = water["bounds"]
        tiles = [WEB_MERCATOR.tile((west + east) / 2, (south + north) / 2, z) for z in (10, 11, 12)]
        base = f"{url}/layers/{water['id']}/{water['date']}/tiles/WebMercatorQuad"
        assert httpx.get(f"{base}/{tiles[0].z}/{tiles[0].x}/{tiles[0].y}.png", timeout=30).status_code == 200
        baseline = _established(process, port)
        slow = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(50)]
        stop = threading.Event()

        def trickle() -> None:
            for sock in slow:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            header = b"X-Slow: " + b"a" * 1000
            for byte in header:
                if stop.wait(0.5):
                    return
                for sock in slow:
                    sock.sendall(bytes([byte]))

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        try:
            time.sleep(3)
            assert _established(process, port) >= baseline + 50  # all 50 are held open
            for tile in tiles:  # one warm, two rendered now
                started = time.monotonic()
                response = httpx.get(f"{base}/{tile.z}/{tile.x}/{tile.y}.png", timeout=30)
                assert response.status_code == 200 and response.headers["content-type"] == "image/png"
                assert time.monotonic() - started < 5
            assert httpx.get(f"{url}/wmts", timeout=30).status_code == 200
        finally:
            stop.set()
            thread.join()
            for sock in slow:
                sock.close()
        deadline = time.monotonic() + 10
        while _established(process, port) > baseline and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _established(process, port) <= baseline
        assert httpx.get(f"{url}/healthz", timeout=10).json()["status"] == "ok"
        assert process.is_running() and process.status() != psutil.STATUS_ZOMBIE


# --- fuzzing ---------------------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.integers(0, 30).map(str),
    st.sampled_from(
        ["", "-0", "+1", "0x10", "1e3", "1_000", "nan", "inf", "-inf", "١٢", "9" * 400, " 3", "3 "]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
TEXT = st.one_of(st.text(max_size=40), st.text(alphabet="%./\\:?#&=;\x00 ", max_size=20))


def _segment(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A path segment: valid, or a fuzzed one (percent-encoded, or raw ASCII)."""
    return st.one_of(
        valid,
        NUMBERS,
        TEXT.map(lambda s: quote(s, safe="")),
        st.text(
            alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#"),
            max_size=30,
        ),
        st.sampled_from(["..", "%2e%2e", "%2F", "%00", "%ff%fe", "%", "%zz", "~", "*"]),
    )


@pytest.fixture(scope="module")
def valid(published: tuple[Settings, list[dict]]) -> dict[str, list[str]]:
    layers = published[1]
    return {
        "id": sorted({e["id"] for e in layers}),
        "date": sorted({e["date"] for e in layers}),
        "tms": ["WebMercatorQuad", "WGS1984Quad"],
        "fmt": ["png", "tif"],
    }


def test_fuzzed_tile_paths_never_get_a_5xx(client: TestClient, valid: dict[str, list[str]]) -> None:
    @FUZZ
    @given(st.data())
    def check(data: st.DataObject) -> None:
        parts = {key: data.draw(_segment(st.sampled_from(values)), key) for key, values in valid.items()}
        z, x, y = (data.draw(_segment(st.integers(0, 14).map(str)), k) for k in "zxy")
        template = data.draw(
            st.sampled_from([
                "/layers/{id}/{date}/tiles/{tms}/{z}/{x}/{y}.{fmt}",
                "/layers/{id}/{date}/{tms}/tilejson.json",
                "/layers/{id}/{date}/legend.{fmt}",
                "/layers/{id}/{date}/legend.json",
                "/layers/{id}/{date}/cog.tif",
                "/layers/{id}/point?lon={x}&lat={y}&start={date}",
                "/stac/files/{id}/{date}/{z}",
                "/stac/search?bbox={x},{y},{z},{z}&datetime={date}&limit={z}&token={x}&collections={id}",
                "/stac/collections/{id}/items?limit={z}&bbox={x},{y},{x},{y}&datetime={date}/..",
                "/tables/{id}.csv",
                "/static/{id}/{date}",
                "/water-bodies/{id}/series",
            ]),
            "template",
        )  # fmt: skip
        response = client.get(template.format(**parts, z=z, x=x, y=y))
        assert response.status_code < 500, response.text[:300]

    check()


KVP_KEYS = ["SERVICE", "REQUEST", "VERSION", "LAYER", "LAYERS", "TILEMATRIXSET", "TILEMATRIX", "TILEROW",
            "TILECOL", "FORMAT", "TIME", "CRS", "SRS", "BBOX", "WIDTH", "HEIGHT", "TRANSPARENT", "STYLES", "SLD"]  # fmt: skip


def _kvp_value(key: str, valid: dict[str, list[str]]) -> st.SearchStrategy[str]:
    sensible: dict[str, st.SearchStrategy[str]] = {
        "SERVICE": st.sampled_from(["WMS", "WMTS", "wms", "WFS"]),
        "REQUEST": st.sampled_from(["GetMap", "GetTile", "GetCapabilities", "getmap", "GetFeatureInfo"]),
        "VERSION": st.sampled_from(["1.3.0", "1.1.1", "1.0.0", "9"]),
        "LAYER": st.sampled_from(valid["id"]),
        "LAYERS": st.lists(st.sampled_from(valid["id"]), min_size=1, max_size=3).map(",".join),
        "TILEMATRIXSET": st.sampled_from(valid["tms"]),
        "TIME": st.sampled_from(valid["date"]),
        "CRS": st.sampled_from(["CRS:84", "EPSG:4326", "EPSG:3857", "EPSG:32643", "EPSG:4978", "EPSG:0"]),
        "SRS": st.sampled_from(["EPSG:4326", "EPSG:3857"]),
        "FORMAT": st.sampled_from(["image/png", "image/jpeg", "image/gif"]),
        "TRANSPARENT": st.sampled_from(["TRUE", "false", "yes"]),
        # images up to 256 px: the fuzz is about parsing, and a 4096 px render takes seconds
        "WIDTH": st.integers(-5, 256).map(str),
        "HEIGHT": st.integers(-5, 256).map(str),
        "BBOX": st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=5).map(
            lambda v: ",".join(map(repr, v))
        ),
    }
    big = st.integers(257, 10**9).map(str)  # over MAX_SIZE or not, never rendered past 256 px ...
    numeric = NUMBERS.filter(lambda v: not (v.strip().isdigit() and 256 < int(v) <= MAX_SIZE))
    return st.one_of(
        sensible.get(key, st.integers(0, 20).map(str)),
        numeric,
        TEXT,
        big if key not in ("WIDTH", "HEIGHT") else numeric,
    )


def test_fuzzed_wms_and_wmts_requests_never_get_a_5xx(
    client: TestClient, valid: dict[str, list[str]]
) -> None:
    @FUZZ
    @given(st.data())
    def check(data: st.DataObject) -> None:
        endpoint = data.draw(
            st.sampled_from(["/wms", "/wmts", "/wmts/1.0.0/WMTSCapabilities.xml"]), "endpoint"
        )
        keys = data.draw(st.lists(st.sampled_from(KVP_KEYS), unique=True, max_size=len(KVP_KEYS)), "keys")
        params = {
            data.draw(st.sampled_from([k, k.lower()]), "case"): data.draw(_kvp_value(k, valid), k)
            for k in keys
        }
        params |= data.draw(st.dictionaries(TEXT, TEXT, max_size=3), "extra")
        response = client.get(endpoint, params=params)
        assert response.status_code < 500, (params, response.text[:300])
        if response.status_code >= 400:  # a reason, in the service's exception format
            assert "Exception" in response.text or "detail" in response.text

    check()
