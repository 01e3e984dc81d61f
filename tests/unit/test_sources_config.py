"""Source configuration: named provider files, required fields per kind."""

from __future__ import annotations

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
