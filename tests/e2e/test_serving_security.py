"""The tile server refuses what it does not publish: path traversal, malformed tiles, oversized
requests, files that are not GeoTIFFs (a VRT renamed .tif is never followed); CORS only when asked."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sensing.config import Settings
from sensing.serve.app import create_app
from tests.servers import serve_asgi

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def published(nightly_run: tuple[Settings, dict]) -> tuple[Settings, dict]:
    settings, _ = nightly_run
    entry = next(
        e
        for e in json.loads((settings.output_dir / "layers.json").read_text())["layers"]
        if e["product"] == "water"
    )
    return settings, entry


@pytest.fixture(scope="module")
def base(published: tuple[Settings, dict]) -> Iterator[str]:
    with serve_asgi(create_app(published[0].output_dir)) as url:
        yield url


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/layers/..%2F..%2Fetc/2021-08-01/legend.json",
        "/layers/water-x/..%2F..%2F/legend.json",
        "/static/",
        "/static/vendor/",
        "/tables/..%2Fconfig.csv",
        "/tables/secrets.csv",
    ],
)
def test_paths_outside_the_catalogue_are_not_served(
    base: str, published: tuple[Settings, dict], path: str
) -> None:
    response = httpx.get(base + path)
    assert 400 <= response.status_code < 500
    assert "root:" not in response.text and str(published[0].output_dir) not in response.text


@pytest.mark.parametrize(
    ("z", "x", "y", "status"),
    [(25, 0, 0, 422), (3, 8, 0, 404), (3, 0, 8, 404), (-1, 0, 0, 422), (3, "a", 0, 422), (2, 3, 3, 404)],
)
def test_malformed_and_out_of_range_tiles_are_4xx(
    base: str, published: tuple[Settings, dict], z: object, x: object, y: object, status: int
) -> None:
    _, entry = published
    response = httpx.get(f"{base}/layers/{entry['id']}/{entry['date']}/tiles/WebMercatorQuad/{z}/{x}/{y}.png")
    assert response.status_code == status
    assert str(published[0].output_dir) not in response.text


def test_oversized_requests_are_refused_not_crashed(base: str) -> None:
    """A 200 kB request line (clients refuse to send one, so a raw socket does)."""
    import socket

    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET /layers?x={'a' * 200_000} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        status_line = sock.recv(200).split(b"\r\n")[0]
    assert status_line.split()[1].startswith(b"4"), status_line
    assert httpx.get(f"{base}/healthz").status_code == 200  # and the server still answers


def test_a_vrt_renamed_tif_is_never_followed(published: tuple[Settings, dict], tmp_path: Path) -> None:
    """A crafted VRT pointing GDAL at /etc/passwd, published under a .tif name: GTiff refuses it."""
    settings, entry = published
    root = tmp_path / "outputs"
    root.mkdir()
    (root / "evil.tif").write_text(
        '<VRTDataset rasterXSize="64" rasterYSize="64"><GeoTransform>500000,30,0,4850000,0,-30</GeoTransform>'
        '<SRS>EPSG:32643</SRS><VRTRasterBand dataType="Byte" band="1" subClass="VRTRawRasterBand">'
        "<SourceFilename>/etc/passwd</SourceFilename><ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset>"
        "<LineOffset>64</LineOffset></VRTRasterBand></VRTDataset>"
    )
    shutil.copy(settings.output_dir / entry["cog"], root / "good.tif")
    layers = [
        entry | {"id": "water-evil", "cog": "evil.tif", "item": None},
        entry | {"cog": "good.tif", "item": None},
    ]
    (root / "layers.json").write_text(json.dumps({"layers": layers}))
    client = TestClient(create_app(root), raise_server_exceptions=False)
    bad = client.get(f"/layers/water-evil/{entry['date']}/tiles/WebMercatorQuad/10/700/380.tif")
    assert bad.status_code == 500 and bad.json()["detail"] == "the layer's file cannot be read"
    assert "passwd" not in bad.text and str(root) not in bad.text
    assert client.get(f"/layers/water-evil/{entry['date']}/WebMercatorQuad/tilejson.json").status_code == 500
    assert (
        client.get(f"/layers/{entry['id']}/{entry['date']}/WebMercatorQuad/tilejson.json").status_code == 200
    )


def test_cors_only_for_configured_origins(published: tuple[Settings, dict]) -> None:
    settings, _ = published
    closed = TestClient(create_app(settings.output_dir))
    assert (
        "access-control-allow-origin"
        not in closed.get("/layers", headers={"Origin": "https://maps.example.kz"}).headers
    )
    open_ = TestClient(create_app(settings.output_dir, cors_origins=["https://maps.example.kz"]))
    allowed = open_.get("/layers", headers={"Origin": "https://maps.example.kz"})
    assert allowed.headers["access-control-allow-origin"] == "https://maps.example.kz"
    other = open_.get("/layers", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers
