"""Offline STAC validation: core schemas shipped with pystac, extension schemas vendored here."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pyproj
import pystac
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from sensing.errors import FatalError

__all__ = ["StacValidationError", "schema_files", "validate_stac"]

VENDORED = Path(__file__).with_name("stac_schemas")
CORE_URI = "https://schemas.stacspec.org/v{version}/{spec}/json-schema/{name}"
CORE_SPEC = {"catalog.json": "catalog-spec", "collection.json": "collection-spec"}
ENTRY = {"Feature": "item.json", "Collection": "collection.json", "Catalog": "catalog.json"}


class StacValidationError(FatalError):
    """A STAC document does not match its core or extension schemas."""


def _resource(doc: dict[str, Any]) -> Resource[Any]:
    return Resource.from_contents(doc, default_specification=DRAFT7)


@cache
def schema_files() -> dict[str, Path]:
    """Every schema a published document may reference: the URI used to reach it -> its local file
    (core and GeoJSON schemas shipped with pystac, PROJJSON with pyproj, extensions vendored here).
    Also the schema map that lets stac-validator run offline."""
    files: dict[str, Path] = {}
    pystac_schemas = Path(pystac.__file__).parent / "validation" / "jsonschemas"
    for path in (pystac_schemas / "stac-spec").glob("v*/*.json"):
        version = path.parent.name.lstrip("v")
        files[
            CORE_URI.format(version=version, spec=CORE_SPEC.get(path.name, "item-spec"), name=path.name)
        ] = path
    extra = [*(pystac_schemas / "geojson").glob("*.json"), *VENDORED.glob("*.json")]
    extra.append(Path(pyproj.datadir.get_data_dir()) / "projjson.schema.json")
    for path in extra:
        files[json.loads(path.read_text())["$id"].rstrip("#")] = path
    return files


@cache
def _registry() -> Registry[Any]:
    """The schemas of :func:`schema_files`, keyed by their URIs."""
    resources = [(uri, _resource(json.loads(path.read_text()))) for uri, path in schema_files().items()]
    return Registry().with_resources(resources)


def _schema_uris(doc: dict[str, Any]) -> list[str]:
    kind = doc.get("type")
    if kind not in ENTRY:
        raise StacValidationError(f"not a STAC Item, Collection or Catalog (type={kind!r})")
    name = ENTRY[str(kind)]
    core = CORE_URI.format(
        version=doc.get("stac_version", "1.1.0"), spec=CORE_SPEC.get(name, "item-spec"), name=name
    )
    return [core, *doc.get("stac_extensions", [])]


def validate_stac(doc: dict[str, Any], source: str = "") -> None:
    """Validate a STAC document against its core schema and every schema in ``stac_extensions``.

    Offline: an extension whose schema is not vendored is an error, not a download.
    """
    doc = json.loads(json.dumps(doc))  # validate what will be written (tuples become arrays)
    registry = _registry()
    label = source or doc.get("id", "?")
    for uri in _schema_uris(doc):
        try:
            schema = registry.contents(uri.rstrip("#"))
        except Exception as exc:
            raise StacValidationError(f"{label}: no offline schema for {uri}") from exc
        validator = jsonschema.Draft7Validator(schema, registry=registry)
        error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
        while error is not None and error.context:  # oneOf/anyOf: report the deepest cause
            error = max(error.context, key=lambda e: len(e.absolute_path))
        if error is not None:
            where = "/".join(map(str, error.absolute_path)) or "."
            raise StacValidationError(f"{label}: invalid against {uri} at {where}: {error.message[:300]}")
