"""Bad parameters are refused before any work starts, with a message naming the field (issue 9):
AOI files that are not valid lon/lat polygons, AOIs outside every scene or over the size limit,
reversed dates, missing credentials. Nothing is written to the output folder."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyproj
import pytest
import yaml
from typer.testing import CliRunner, Result

from pipelines.cli import app
from sensing.config import load_settings
from sensing.errors import ConfigError
from tests.conftest import write_test_config

runner = CliRunner()


def _demo_lonlat(demo_root: Path) -> tuple[float, float, float, float]:
    aoi = load_settings(demo_root / "config.yaml").aoi
    to_lonlat = pyproj.Transformer.from_crs(aoi.crs, "EPSG:4326", always_xy=True)
    lon0, lat0 = to_lonlat.transform(aoi.bounds[0], aoi.bounds[1])
    lon1, lat1 = to_lonlat.transform(aoi.bounds[2], aoi.bounds[3])
    return lon0, lat0, lon1, lat1


def _ring(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def _polygon(ring: list[list[float]], **members: object) -> dict[str, object]:
    return {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    } | members


def _reprocess_over(demo_root: Path, aoi: Path, config: Path | None = None) -> Result:
    options = ["--aoi", str(aoi), "--start", "2021-08-01", "--end", "2021-09-30"]
    return runner.invoke(app, ["reprocess", *options, "--config", str(config or demo_root / "config.yaml")])


def _refused(result: Result, *phrases: str) -> None:
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())  # rich wraps long messages
    for phrase in phrases:
        assert phrase in text, (phrase, text)


def _write(tmp_path: Path, name: str, doc: object) -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


@pytest.fixture()
def untouched_outputs(demo_root: Path):
    """The demo folder's outputs must not appear (or change) while a refused request is made."""
    outputs = load_settings(demo_root / "config.yaml").output_dir
    before = sorted(p.relative_to(outputs) for p in outputs.rglob("*")) if outputs.exists() else None
    yield
    after = sorted(p.relative_to(outputs) for p in outputs.rglob("*")) if outputs.exists() else None
    assert after == before


@pytest.mark.parametrize(
    ("doc", "phrases"),
    [
        ("{not json", ["--aoi", "cannot read GeoJSON"]),
        ([1, 2, 3], ["--aoi", "not a GeoJSON object"]),
        ({"type": "FeatureCollection", "features": []}, ["--aoi", "holds no geometry"]),
        (
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": "north of the dam"}},
            ["--aoi", "feature 0", "not a GeoJSON geometry"],
        ),
        ({"type": "Point", "coordinates": [77.2, 43.8]}, ["--aoi", "feature 0", "a Point has no area"]),
        (
            _polygon([[77.0, 43.7], [77.3, 44.0], [77.3, 43.7], [77.0, 44.0], [77.0, 43.7]]),
            ["--aoi", "feature 0", "invalid polygon (Self-intersection"],
        ),
        (
            _polygon(_ring(8572000, 5420000, 8605000, 5460000)),
            ["--aoi", "is not in lon/lat (EPSG:4326) coordinates"],
        ),
        (
            _polygon(
                _ring(8572000, 5420000, 8605000, 5460000),
                crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}},
            ),
            ["--aoi", "declares crs 'urn:ogc:def:crs:EPSG::3857'", "reproject it first"],
        ),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "no-features",
        "bad-coordinates",
        "point",
        "bowtie",
        "metres",
        "crs-3857",
    ],
)
def test_aoi_files_that_are_not_valid_lonlat_polygons_are_refused_naming_the_problem(
    demo_root: Path, tmp_path: Path, untouched_outputs: None, doc: object, phrases: list[str]
) -> None:
    _refused(_reprocess_over(demo_root, _write(tmp_path, "aoi.geojson", doc)), *phrases)


def test_an_aoi_with_latitude_and_longitude_swapped_lies_outside_every_scene(
    demo_root: Path, tmp_path: Path, untouched_outputs: None
) -> None:
    lon0, lat0, lon1, lat1 = _demo_lonlat(demo_root)
    right = _write(tmp_path, "right.geojson", _polygon(_ring(lon0, lat0, lon1, lat1)))
    swapped = _write(tmp_path, "swapped.geojson", _polygon(_ring(lat0, lon0, lat1, lon1)))
    from sensing.preflight import check_run_request
    from sensing.selection import select

    check_run_request(select(demo_root / "config.yaml", str(right)))  # the same AOI the right way round
    result = _reprocess_over(demo_root, swapped)
    _refused(result, "--aoi", "lies outside every scene of the source", "check the axis order")


def test_an_aoi_elsewhere_in_the_world_is_refused_before_any_search(
    demo_root: Path, tmp_path: Path, untouched_outputs: None
) -> None:
    aral = _write(tmp_path, "aral.geojson", _polygon(_ring(59.5, 44.5, 60.5, 45.5)))
    _refused(_reprocess_over(demo_root, aral), "--aoi", "'aral'", "lies outside every scene")


def test_an_aoi_over_the_configured_maximum_is_refused(
    demo_root: Path, tmp_path: Path, untouched_outputs: None
) -> None:
    lon0, lat0, lon1, lat1 = _demo_lonlat(demo_root)
    around = _write(tmp_path, "around.geojson", _polygon(_ring(lon0 - 1, lat0 - 1, lon1 + 1, lat1 + 1)))
    strict = write_test_config(tmp_path / "strict", limits={"max_aoi_km2": 5000})
    _refused(_reprocess_over(demo_root, around, strict), "--aoi", "limits.max_aoi_km2 (5,000 km2)")
    asia = _write(tmp_path, "asia.geojson", _polygon(_ring(40, 10, 140, 70)))
    _refused(_reprocess_over(demo_root, asia), "--aoi", "more than limits.max_aoi_km2 (3,000,000 km2)")


def test_a_configured_aoi_over_the_maximum_names_the_config_field(tmp_path: Path) -> None:
    config = write_test_config(tmp_path, limits={"max_aoi_km2": 500})
    with pytest.raises(
        ConfigError, match=r"aoi\.bounds: the AOI covers 900 km2, more than limits\.max_aoi_km2"
    ):
        load_settings(config)
    doc = yaml.safe_load(config.read_text())
    doc["limits"] = {"max_aoi_km2": 500, "max_scenes": 3}
    config.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=r"limits\.max_scenes: Extra inputs are not permitted"):
        load_settings(config)


def test_missing_sentinel_hub_credentials_are_named_before_the_flow_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SH_CLIENT_ID", raising=False)
    monkeypatch.setenv("SH_CLIENT_SECRET", "s3cret-value")
    source = yaml.safe_load(
        (Path(__file__).parents[2] / "configs/sources/sentinelhub-s2-l2a.yaml").read_text()
    )
    config = write_test_config(tmp_path, source=source)
    result = runner.invoke(app, ["run", "nightly", "--config", str(config)])
    _refused(result, "Sentinel Hub credentials", "SH_CLIENT_ID")
    assert "s3cret-value" not in result.output
    assert not (tmp_path / "data").exists()  # no Prefect run, no Dask cluster, no output folder


def test_deployment_parameters_are_checked_by_the_flows_themselves(
    demo_root: Path, prefect_api: None
) -> None:
    """From the Prefect UI or API the CLI's checks are skipped: the flows refuse the same requests."""
    from pipelines.backfill import backfill
    from pipelines.flows import reprocess

    config = str(demo_root / "config.yaml")
    with pytest.raises(ConfigError, match="start: 2022-03-01 is after end 2022-02-01"):
        reprocess(aoi="kapchagay-dam", start=dt.date(2022, 3, 1), end=dt.date(2022, 2, 1), config=config)
    with pytest.raises(ConfigError, match="start: 2022-03-01 is after end 2022-02-01"):
        backfill(aois=["kapchagay-dam"], start=dt.date(2022, 3, 1), end=dt.date(2022, 2, 1), config=config)
    with pytest.raises(ConfigError, match="unknown product"):
        reprocess(
            aoi="kapchagay-dam",
            start=dt.date(2021, 8, 1),
            end=dt.date(2021, 9, 1),
            products=["lai"],
            config=config,
        )
