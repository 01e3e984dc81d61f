"""The water-body registry on the real Kazakh hydrography (Natural Earth lakes, water-management basins)."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pytest

from sensing.errors import ConfigError
from sensing.registry import load_water_bodies, read_registry
from sensing.waterbodies import water_body_frame
from tests.conftest import ROOT, SHARED_DATA

KAZAKHSTAN = SHARED_DATA / "vector" / "kazakhstan"
LAKES = KAZAKHSTAN / "kazakhstan_lakes_reservoirs_ne10m.geojson"
REGISTRY = ROOT / "configs" / "water_bodies" / "kazakhstan.yaml"
EQUAL_AREA = "EPSG:6933"


def _km2(geometry: object) -> float:
    return float(gpd.GeoSeries([geometry], crs="EPSG:4326").to_crs(EQUAL_AREA).area.iloc[0] / 1e6)


def test_national_registry_resolves_every_outline_from_the_hydrography_file() -> None:
    bodies = {b.id: b for b in read_registry(REGISTRY, LAKES)}
    for required in (
        "kapchagay",
        "balkhash",
        "bukhtarma",
        "zaysan",
        "shardara",
        "northern-aral",
        "alakol",
        "tengiz",
    ):
        assert required in bodies
    lakes = gpd.read_file(LAKES).set_index("name")
    # whole features keep their area; the file records each feature's geodesic area
    for body_id, name in (
        ("kapchagay", "Kapchagay Reservoir"),
        ("balkhash", "Lake Balkhash"),
        ("alakol", "Alakol"),
    ):
        assert _km2(bodies[body_id].geometry) == pytest.approx(lakes.loc[name, "area_km2_geodesic"], rel=0.01)
    # Natural Earth joins Bukhtarma and Zaysan: the bounding boxes split the polygon without overlap
    joined = lakes.loc["Lake Zaysan", "area_km2_geodesic"]
    split = _km2(bodies["bukhtarma"].geometry) + _km2(bodies["zaysan"].geometry)
    assert split == pytest.approx(joined, rel=0.01)
    assert bodies["bukhtarma"].geometry.intersection(bodies["zaysan"].geometry).area == pytest.approx(
        0, abs=1e-9
    )
    # the Northern Aral alone: a fraction of the sea's feature, north of the Berg strait
    assert 3000 < _km2(bodies["northern-aral"].geometry) < 4500
    assert bodies["northern-aral"].geometry.bounds[1] >= 45.9


def test_registry_basins_agree_with_the_water_management_basin_file() -> None:
    basins = gpd.read_file(KAZAKHSTAN / "kazakhstan_water_management_basins_waterhydro.geojson").to_crs(
        EQUAL_AREA
    )
    for body in read_registry(REGISTRY, LAKES):
        outline = gpd.GeoSeries([body.geometry], crs="EPSG:4326").to_crs(EQUAL_AREA).iloc[0]
        overlap = basins.geometry.intersection(outline).area
        assert basins.loc[overlap.idxmax(), "BASIN_NAME"] == body.basin, body.id


def test_names_in_three_languages() -> None:
    frame = water_body_frame(read_registry(REGISTRY, LAKES))
    cyrillic = re.compile(r"[А-Яа-яЁё]")
    assert frame["name_en"].str.fullmatch(r"[A-Za-z ()'-]+").all()
    assert frame["name_ru"].map(lambda n: bool(cyrillic.search(n))).all()
    # Kazakh names use the letters Russian lacks (ә ғ қ ң ө ұ ү һ і) in most entries
    assert frame["name_kk"].str.contains("[әғқңөұүһіІ]").sum() >= len(frame) // 2
    assert frame.set_index("id").loc["kapchagay", "name_kk"] == "Қапшағай су қоймасы"


def test_outlines_from_a_projected_geopackage_match_the_geojson(tmp_path: Path) -> None:
    gpkg = tmp_path / "lakes.gpkg"
    gpd.read_file(LAKES).to_crs("EPSG:3857").to_file(gpkg, driver="GPKG")
    from_geojson = {b.id: b.geometry for b in read_registry(REGISTRY, LAKES)}
    for body in read_registry(REGISTRY, gpkg):
        assert _km2(body.geometry) == pytest.approx(_km2(from_geojson[body.id]), rel=1e-4), body.id


def _registry(tmp_path: Path, entry: str, header: str = "") -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(header + "water_bodies:\n" + entry, encoding="utf-8")
    return path


ENTRY = """  - id: kapchagay
    names: {en: Kapchagay Reservoir, ru: Капшагайское водохранилище, kk: Қапшағай су қоймасы}
    type: reservoir
    region: Almaty Region
    basin: Balkhash-Alakol
    bbox: BBOX
    outline: {match: {name: MATCH}}
"""


@pytest.mark.parametrize(
    ("bbox", "match", "hydrography", "message"),
    [
        ("[76.9, 43.6, 78.4, 44.1]", "Kapchagay Reservoir", None, "'kapchagay' has no outline file"),
        ("[76.9, 43.6, 78.4, 44.1]", "Lake Nowhere", LAKES, "kapchagay: no feature of"),
        ("[78.4, 43.6, 76.9, 44.1]", "Kapchagay Reservoir", LAKES, "water_bodies.0.bbox"),
        ("[76.9, 43.6, 78.4, 44.1]", "Kapchagay Reservoir", KAZAKHSTAN / "missing.gpkg", "cannot read"),
    ],
)
def test_registry_errors_name_the_entry_and_field(
    tmp_path: Path, bbox: str, match: str, hydrography: Path | None, message: str
) -> None:
    path = _registry(tmp_path, ENTRY.replace("BBOX", bbox).replace("MATCH", match))
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_water_bodies(path, hydrography)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    entry = ENTRY.replace("BBOX", "[76.9, 43.6, 78.4, 44.1]").replace("MATCH", "Kapchagay Reservoir")
    with pytest.raises(ConfigError, match=r"duplicated id\(s\) \['kapchagay'\]"):
        load_water_bodies(_registry(tmp_path, entry + entry), LAKES)


def test_waterbodies_list_command_prints_and_writes_the_registry(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    out = tmp_path / "outlines.gpkg"
    result = CliRunner().invoke(
        app, ["waterbodies", "list", "--registry", str(REGISTRY), "--hydrography", str(LAKES), "--out", str(out)],
        env={"COLUMNS": "250"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Қапшағай су қоймасы" in result.output and "Balkhash-Alakol" in result.output
    written = gpd.read_file(out)
    assert len(written) == 12 and written.crs.to_epsg() == 4326
    missing = CliRunner().invoke(app, ["waterbodies", "list", "--registry", str(REGISTRY)])
    assert missing.exit_code == 2 and "has no outline file" in missing.output
