"""The values behind the map: a pixel's time series and statistics inside a drawn polygon, checked
against the published COGs read directly."""

from __future__ import annotations

import json

import pytest
import rasterio
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.features import geometry_mask
from shapely.geometry import box, mapping

from sensing.config import Settings
from sensing.serve.app import create_app
from sensing.waterbodies import to_crs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(nightly_run: tuple[Settings, dict]) -> TestClient:
    return TestClient(create_app(nightly_run[0].output_dir))


def _layers(settings: Settings, layer_id: str) -> list[dict]:
    entries = json.loads((settings.output_dir / "layers.json").read_text())["layers"]
    return sorted((e for e in entries if e["id"] == layer_id), key=lambda e: e["date"])


def _centre(entry: dict) -> tuple[float, float]:
    west, south, east, north = entry["bounds"]
    return (west + east) / 2, (south + north) / 2


@pytest.mark.parametrize("product", ["water", "mndwi"])
def test_a_pixels_time_series_holds_the_published_values(
    client: TestClient, nightly_run: tuple[Settings, dict], product: str
) -> None:
    settings, _ = nightly_run
    entries = _layers(settings, f"{product}-{settings.aoi.id}")
    lon, lat = _centre(entries[0])
    series = client.get(f"/layers/{product}-{settings.aoi.id}/point", params={"lon": lon, "lat": lat}).json()
    assert [v["date"] for v in series["values"]] == [e["date"] for e in entries]
    for value, entry in zip(series["values"], entries, strict=True):
        with rasterio.open(settings.output_dir / entry["cog"]) as ds:
            x, y = Transformer.from_crs("EPSG:4326", ds.crs, always_xy=True).transform(lon, lat)
            stored = next(ds.sample([(x, y)]))[0]
            expected = None if stored == ds.nodata else float(stored) * ds.scales[0] + ds.offsets[0]
        if expected is None:
            assert value["value"] is None
        else:
            assert value["value"] == pytest.approx(expected, abs=1e-4)
    if product == "water":
        assert {v["label"] for v in series["values"]} <= {
            "water",
            "dry land",
            "snow / ice",
            "cloud / shadow",
            None,
        }
    window = client.get(
        f"/layers/{product}-{settings.aoi.id}/point",
        params={"lon": lon, "lat": lat, "start": entries[1]["date"], "end": entries[2]["date"]},
    ).json()
    assert [v["date"] for v in window["values"]] == [entries[1]["date"], entries[2]["date"]]


def test_water_area_inside_a_drawn_polygon_counts_the_published_pixels(
    client: TestClient, nightly_run: tuple[Settings, dict]
) -> None:
    settings, _ = nightly_run
    entry = _layers(settings, f"water-{settings.aoi.id}")[0]
    lon, lat = _centre(entry)
    polygon = box(lon - 0.1, lat - 0.06, lon + 0.1, lat + 0.06)
    feature = {"type": "Feature", "properties": {}, "geometry": mapping(polygon)}
    result = client.post(f"/layers/water-{settings.aoi.id}/{entry['date']}/statistics", json=feature).json()
    with rasterio.open(settings.output_dir / entry["cog"]) as ds:
        classes = ds.read(1)
        inside = ~geometry_mask([to_crs(polygon, str(ds.crs))], classes.shape, ds.transform)
        pixel_km2 = abs(ds.transform.a * ds.transform.e) / 1e6
    water_km2 = next(c["km2"] for c in result["classes"] if c["label"] == "water")
    assert water_km2 > 10
    assert water_km2 == pytest.approx((classes[inside] == 1).sum() * pixel_km2, rel=0.01)
    assert result["pixels"] * pixel_km2 == pytest.approx(result["polygon_km2"], rel=0.01)


@pytest.mark.parametrize(
    ("geometry", "status", "message"),
    [
        ({"type": "Polygon", "coordinates": [[[77.2, 43.8], [77.3, 43.9], [77.3, 43.8], [77.2, 43.9], [77.2, 43.8]]]},
         422, "invalid polygon"),  # a bow tie
        ({"type": "Point", "coordinates": [77.2, 43.8]}, 422, "Polygon or MultiPolygon"),
        ({"type": "Polygon", "coordinates": [[[500000, 4800000], [510000, 4800000], [510000, 4810000],
                                              [500000, 4800000]]]}, 422, "longitude, latitude"),  # projected
        (mapping(box(60.0, 40.0, 80.0, 50.0)), 413, "pixels"),
        (mapping(box(10.0, 10.0, 10.1, 10.1)), 404, "does not reach"),
        ({"type": "Polygon"}, 422, "not a GeoJSON geometry"),
    ],
)  # fmt: skip
def test_bad_polygons_are_refused_with_the_reason(
    client: TestClient, nightly_run: tuple[Settings, dict], geometry: dict, status: int, message: str
) -> None:
    settings, _ = nightly_run
    date = _layers(settings, f"water-{settings.aoi.id}")[0]["date"]
    response = client.post(f"/layers/water-{settings.aoi.id}/{date}/statistics", json=geometry)
    assert response.status_code == status and message in response.json()["detail"]
    assert str(settings.output_dir) not in response.text


def test_a_point_outside_the_layer_is_404(client: TestClient, nightly_run: tuple[Settings, dict]) -> None:
    settings, _ = nightly_run
    response = client.get(f"/layers/water-{settings.aoi.id}/point", params={"lon": 10, "lat": 10})
    assert response.status_code == 404
    assert (
        client.get(f"/layers/water-{settings.aoi.id}/point", params={"lon": 200, "lat": 10}).status_code
        == 422
    )
    assert client.get("/layers/nowhere/point", params={"lon": 77, "lat": 43}).status_code == 404
