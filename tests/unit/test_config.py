"""Settings: defaults, path resolution, clear errors naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sensing.config import load_settings
from sensing.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_demo_config_loads_with_resolved_paths() -> None:
    settings = load_settings(ROOT / "configs" / "demo.yaml")
    assert settings.aoi.crs == "EPSG:32643"
    assert settings.water_bodies.is_absolute() and settings.water_bodies.exists()
    assert settings.source.catalog == settings.data_dir / "demo-archive" / "catalog.json"
    assert settings.version_key().startswith("v1.0.0-")


def _write(tmp_path: Path, **changes: object) -> Path:
    doc = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    doc.update(changes)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_unknown_key_is_rejected_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="colour"):
        load_settings(_write(tmp_path, colour="blue"))


def test_unknown_product_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"products.*'lai'"):
        load_settings(_write(tmp_path, products=["water", "lai"]))


def test_bad_bounds_name_the_field(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    doc["aoi"]["bounds"] = [10, 10, 5, 20]
    with pytest.raises(ConfigError, match=r"aoi\.bounds"):
        load_settings(_write(tmp_path, aoi=doc["aoi"]))


def test_a_reversed_land_baseline_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"land\.baseline_years.*2024 is after last year 2018"):
        load_settings(_write(tmp_path, land={"baseline_years": [2024, 2018]}))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_settings(tmp_path / "nope.yaml")


def test_config_hash_changes_with_classifier_settings(tmp_path: Path) -> None:
    base = load_settings(ROOT / "configs" / "demo.yaml")
    changed = load_settings(_write(tmp_path, water={"index": "ndwi"}))
    assert base.version_key() != changed.version_key()
