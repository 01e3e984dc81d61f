"""The outputs as a STAC API, searched with pystac-client (a real STAC client) over HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sensing.config import Settings
from sensing.publish.cog import validate_cog
from sensing.publish.layout import OutputLayout
from sensing.publish.stac import read_items
from sensing.publish.stac_validation import validate_stac
from sensing.serve.app import create_app
from tests.servers import serve_asgi

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(nightly_run: tuple[Settings, dict]) -> Iterator[tuple[str, OutputLayout]]:
    settings, _ = nightly_run
    with serve_asgi(create_app(settings.output_dir)) as base:
        yield f"{base}/stac", OutputLayout(settings.output_dir)


def test_pystac_client_searches_the_published_items(api: tuple[str, OutputLayout]) -> None:
    from pystac_client import Client

    url, layout = api
    client = Client.open(url)
    static = {p.parent.name for p in layout.stac_root.glob("*/collection.json")}
    assert {c.id for c in client.get_collections()} == static
    expected = [
        i["id"]
        for i in read_items(layout, "water")
        if "2021-08-01" <= i["properties"]["datetime"][:10] <= "2021-12-31"
    ]
    found = client.search(collections=["water"], datetime="2021-08-01/2021-12-31", limit=2)  # pages of two
    items = list(found.items())
    assert [i.id for i in items] == expected and len(expected) >= 3
    item = items[0].to_dict()
    validate_stac(item)
    data = httpx.get(item["assets"]["data"]["href"])
    assert data.status_code == 200 and data.content[:4] in (b"II*\x00", b"MM\x00*")
    vectors = httpx.get(item["assets"]["vectors"]["href"])
    assert vectors.status_code == 200 and vectors.content[:16].startswith(b"SQLite format 3")


def test_post_search_filters_by_bbox_and_collections(api: tuple[str, OutputLayout], tmp_path) -> None:
    from pystac_client import Client

    url, layout = api
    bbox = [77.2, 43.8, 77.3, 43.9]
    items = list(
        Client.open(url).search(collections=["water", "mndwi"], bbox=bbox, method="POST", limit=3).items()
    )
    assert len(items) == len(read_items(layout, "water")) + len(read_items(layout, "mndwi"))
    for item in items:
        west, south, east, north = item.bbox
        assert west <= bbox[2] and east >= bbox[0] and south <= bbox[3] and north >= bbox[1]
    cog = tmp_path / "mndwi.tif"
    mndwi = next(i for i in items if i.collection_id == "mndwi")
    cog.write_bytes(httpx.get(mndwi.assets["data"].href).content)
    validate_cog(cog)
    far = list(Client.open(url).search(collections=["water"], bbox=[10, 10, 11, 11]).items())
    assert far == []


@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        ("GET", "/files/layers.json", None, 404),
        ("GET", "/files/../../../etc/passwd", None, 404),
        ("GET", "/files/tables/water_areas.parquet", None, 404),
        ("GET", "/search?datetime=yesterday", None, 400),
        ("GET", "/search?bbox=1,2,3", None, 400),
        ("GET", "/search?limit=100000", None, 400),
        ("POST", "/search", {"query": {"eo:cloud_cover": {"lt": 5}}}, 400),
        ("GET", "/collections/nowhere", None, 404),
    ],
)
def test_the_api_refuses_what_it_does_not_publish(
    api: tuple[str, OutputLayout], method: str, path: str, payload: dict | None, status: int
) -> None:
    url, layout = api
    response = httpx.request(method, url + path, json=payload)
    assert response.status_code == status
    assert str(layout.root) not in response.text
