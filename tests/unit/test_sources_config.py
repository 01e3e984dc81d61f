"""Source configuration: named provider files, required fields per kind."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from sensing.config import SourceConfig, load_settings
from sensing.errors import ConfigError
from sensing.sources import StacApiSource, StaticStacSource, open_source

ROOT = Path(__file__).resolve().parents[2]


def test_named_source_is_read_from_configs_sources() -> None:
    settings = load_settings(ROOT / "configs" / "kapchagay-earth-search.yaml")
    assert settings.source.kind == "stac-api"
    assert settings.source.url == "https://earth-search.aws.element84.com/v1"
    assert settings.source.bands["swir16"] == "swir16"
    assert isinstance(open_source(settings.source), StacApiSource)


def test_unknown_named_source_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "mine.yaml").write_text("kind: stac-api\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        (ROOT / "configs" / "kapchagay-earth-search.yaml").read_text().replace("earth-search-s2-l2a", "nope")
    )
    with pytest.raises(ConfigError, match=r"unknown source 'nope'.*mine"):
        load_settings(config)


def test_each_kind_requires_its_location() -> None:
    with pytest.raises(ValidationError, match="needs 'catalog'"):
        SourceConfig(kind="static-stac")
    with pytest.raises(ValidationError, match="needs 'url'"):
        SourceConfig(kind="stac-api", collection="x", url="ftp://example.org")
    assert isinstance(open_source(SourceConfig(catalog=Path("catalog.json"))), StaticStacSource)


def test_landsat_scaling_from_raster_bands_or_the_usgs_rule() -> None:

    import pystac

    from sensing.sources.stac import band_scaling

    item = pystac.Item(
        "LC09_x",
        {"type": "Point", "coordinates": [77, 44]},
        [77, 44, 77, 44],
        dt.datetime(2023, 7, 1, tzinfo=dt.UTC),
        {},
    )
    item.add_asset(
        "nir08", pystac.Asset("n.tif", extra_fields={"raster:bands": [{"scale": 2.75e-05, "offset": -0.2}]})
    )
    assert band_scaling(item, "nir08", dt.date(2023, 7, 1)) == (2.75e-05, -0.2)
    item.add_asset("red", pystac.Asset("r.tif"))
    assert band_scaling(item, "red", dt.date(2023, 7, 1)) == (1.0, 0.0)
    item.properties["landsat:correction"] = "L2SP"
    assert band_scaling(item, "red", dt.date(2023, 7, 1)) == (0.0000275, -0.2)
    s2 = load_settings(ROOT / "configs" / "demo.yaml")
    assert s2.source.gdal_options == {}


def test_landsat_provider_config_is_requester_pays_without_secrets() -> None:
    import yaml

    doc = yaml.safe_load((ROOT / "configs" / "sources" / "earth-search-landsat-c2-l2.yaml").read_text())
    assert SourceConfig.model_validate(doc).gdal_options == {"AWS_REQUEST_PAYER": "requester"}
    assert not any("SECRET" in k or "KEY" in k for k in doc.get("gdal_options", {}))


@pytest.mark.parametrize("name", ["sentinelhub-s2-l2a", "cdse-sentinelhub-s2-l2a"])
def test_sentinelhub_provider_configs(name: str, tmp_path: Path) -> None:
    import yaml

    from sensing.sources.sentinelhub import SentinelHubSource

    doc = yaml.safe_load((ROOT / "configs" / "sources" / f"{name}.yaml").read_text())
    config = SourceConfig.model_validate(doc)
    assert config.max_retries and config.max_request_px <= 2500 and config.monthly_pu_budget
    assert isinstance(open_source(config, tmp_path), SentinelHubSource)
    assert "secret" not in json.dumps(doc).lower()  # credentials only come from the environment


def test_planetary_computer_signing_needs_its_package() -> None:
    import importlib.util

    import yaml

    doc = yaml.safe_load((ROOT / "configs" / "sources" / "planetary-computer-s2-l2a.yaml").read_text())
    source = open_source(SourceConfig.model_validate(doc))
    assert isinstance(source, StacApiSource)
    if importlib.util.find_spec("planetary_computer") is None:
        with pytest.raises(ConfigError, match=r"source\.sign.*pip install planetary-computer"):
            source.search(
                (77.0, 43.8, 77.2, 43.9),
                __import__("datetime").date(2024, 7, 1),
                __import__("datetime").date(2024, 7, 2),
            )


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "sources").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_source_is_valid_and_publishes_its_sensors_products(path: Path) -> None:
    settings = load_settings(ROOT / "configs" / "demo.yaml", source=path.stem)
    radar = "-s1-" in path.stem or "sentinel1" in path.stem
    assert settings.source.sensor == ("sar" if radar else "optical")
    expected = ("water-sar", "vv", "vh") if radar else ("water", "ndwi", "mndwi", "ndvi")
    assert settings.published_products == expected
