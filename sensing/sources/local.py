"""Analysts' own scenes: register GeoTIFFs (or a Landsat MTL layout) into a local static STAC catalog.

One item per scene. A multi-band file becomes one asset whose ``eo:bands`` (one per band of the file)
carry the common names (``green``, ``nir``...) and whose ``raster:bands`` carry scale, offset and
nodata, so odc-stac loads bands by common name and the loader turns DN into reflectance from the
catalog alone. With one file per band, each file is an asset named after its band. Files open with
GDAL's GeoTIFF and JPEG2000 drivers only (see sensing.sources.inputs).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pystac
from rasterio.errors import RasterioIOError
from shapely.geometry import box, mapping

from sensing.errors import ConfigError
from sensing.sources.inputs import open_input
from sensing.waterbodies import to_lonlat

__all__ = [
    "COMMON_BANDS",
    "LOCAL_COLLECTION",
    "Registration",
    "catalog_band_names",
    "parse_band_values",
    "read_mtl",
    "register_scene",
    "registrations_from_options",
]

LOCAL_COLLECTION = "local-scenes"
COMMON_BANDS = (
    "coastal", "blue", "green", "red", "rededge1", "rededge2", "rededge3", "nir", "nir08", "nir09", "cirrus",
    "swir16", "swir22", "scl", "qa_pixel",
)  # fmt: skip
"""Band names an analyst's band map may use (STAC eo common names; red edges and B09 numbered)."""
LANDSAT_BANDS = {
    "LANDSAT_8": {"coastal": 1, "blue": 2, "green": 3, "red": 4, "nir": 5, "swir16": 6, "swir22": 7},
    "LANDSAT_9": {"coastal": 1, "blue": 2, "green": 3, "red": 4, "nir": 5, "swir16": 6, "swir22": 7},
    "LANDSAT_7": {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir16": 5, "swir22": 7},
    "LANDSAT_5": {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir16": 5, "swir22": 7},
    "LANDSAT_4": {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir16": 5, "swir22": 7},
}


@dataclass(frozen=True)
class Registration:
    """What is known about one scene to register."""

    files: dict[str, tuple[Path, int]]
    """Common band name -> (file, 1-based band index in that file)."""
    datetime: dt.datetime
    platform: str
    scale: dict[str, float] = field(default_factory=dict)
    """Per common band: reflectance = DN * scale + offset (default 1)."""
    offset: dict[str, float] = field(default_factory=dict)
    nodata: dict[str, float] = field(default_factory=dict)
    """Per common band: overrides the file's own nodata."""
    default_nodata: float | None = None
    """Used when neither ``nodata`` nor the file says (Landsat Level-1 fill is DN 0)."""
    id: str = ""


def parse_band_values(text: str | None, bands: list[str], option: str) -> dict[str, float]:
    """``0.0001`` (every band) or ``green=0.0001,nir=0.0002`` (per band) -> {band: value}."""
    if not text:
        return {}
    try:
        if "=" not in text:
            return dict.fromkeys(bands, float(text))
        pairs = dict(part.split("=", 1) for part in text.split(","))
        values = {k.strip(): float(v) for k, v in pairs.items()}
    except ValueError as exc:
        raise ConfigError(f"{option}: expected a number or band=number pairs, got {text!r}") from exc
    unknown = sorted(set(values) - set(bands))
    if unknown:
        raise ConfigError(f"{option}: band(s) {unknown} are not in --band-map {bands}")
    return values


def registrations_from_options(
    files: list[Path], band_map: str | None, scale: str | None, offset: str | None,
    nodata: str | None, when: str | None, platform: str,
) -> list[Registration]:  # fmt: skip
    """Registrations from ``sensing catalog add`` style options: ``band_map`` of band indices (one
    scene per file) or of file-name fragments with optional ``:INDEX`` (one scene from several files)."""
    if not band_map:
        raise ConfigError("--band-map: required unless a Landsat MTL file is given")
    if not when:
        raise ConfigError("--datetime: required unless a Landsat MTL file is given")
    try:
        moment = dt.datetime.fromisoformat(when)
    except ValueError as exc:
        raise ConfigError(f"--datetime: {when!r} is not an ISO 8601 time") from exc
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    try:
        mapping = dict(part.split("=", 1) for part in band_map.split(","))
    except ValueError as exc:
        raise ConfigError(f"--band-map: expected band=value pairs, got {band_map!r}") from exc
    bands = list(mapping)
    make = functools.partial(
        Registration, datetime=moment, platform=platform, nodata=parse_band_values(nodata, bands, "--nodata"),
        scale=parse_band_values(scale, bands, "--scale"), offset=parse_band_values(offset, bands, "--offset"),
    )  # fmt: skip
    if all(v.isdigit() for v in mapping.values()):  # band indices: one scene per file
        return [make({b: (f, int(i)) for b, i in mapping.items()}, id=f.stem) for f in files]
    chosen = {}
    for band, value in mapping.items():
        pattern, _, index = value.rpartition(":") if value.rpartition(":")[2].isdigit() else (value, "", "1")
        matches = [f for f in files if pattern in f.name]
        if len(matches) != 1:
            raise ConfigError(f"--band-map: {band}={pattern!r} matches {len(matches)} of the files, not one")
        chosen[band] = (matches[0], int(index))
    return [make(chosen, id=files[0].stem.rsplit("_", 1)[0])]


def read_mtl(path: Path) -> Registration:
    """A Landsat Level-1 MTL: band files, acquisition time and TOA reflectance rescaling.

    With reflectance coefficients: (M * DN + A) / sin(sun elevation). Pre-collection TM/ETM+ MTLs
    carry only radiance coefficients: pi * L * d^2 / (ESUN * sin(sun elevation)), with ESUN from
    Chander et al. (2009) and the Earth-Sun distance d of the day. Either is folded into each band's
    scale and offset.
    """
    text = path.read_text(errors="replace")
    fields = dict(re.findall(r'^\s*([A-Z0-9_]+)\s*=\s*"?([^"\n]*)"?\s*$', text, flags=re.MULTILINE))
    spacecraft = fields.get("SPACECRAFT_ID", "")
    if spacecraft not in LANDSAT_BANDS:
        raise ConfigError(f"{path}: unsupported SPACECRAFT_ID {spacecraft!r}")
    sun = math.sin(math.radians(float(fields["SUN_ELEVATION"])))
    when = dt.datetime.fromisoformat(
        f"{fields['DATE_ACQUIRED']}T{fields.get('SCENE_CENTER_TIME', '00:00:00')[:8]}+00:00"
    )
    files, scale, offset = {}, {}, {}
    for band, number in LANDSAT_BANDS[spacecraft].items():
        name = fields.get(f"FILE_NAME_BAND_{number}")
        if name is None:
            raise ConfigError(f"{path}: no FILE_NAME_BAND_{number}")
        files[band] = (path.parent / name, 1)
        scale[band], offset[band] = _toa_rescaling(fields, spacecraft, number, sun, when.date(), path)
    return Registration(files, when, spacecraft.lower().replace("_", "-"), scale, offset, default_nodata=0,
                        id=fields.get("LANDSAT_PRODUCT_ID") or fields.get("LANDSAT_SCENE_ID") or path.stem)  # fmt: skip


ESUN = {  # mean exo-atmospheric solar irradiance, W m-2 um-1 (Chander, Markham and Helder 2009)
    "LANDSAT_4": {1: 1983.0, 2: 1795.0, 3: 1539.0, 4: 1028.0, 5: 219.8, 7: 83.49},
    "LANDSAT_5": {1: 1983.0, 2: 1796.0, 3: 1536.0, 4: 1031.0, 5: 220.0, 7: 83.44},
    "LANDSAT_7": {1: 1997.0, 2: 1812.0, 3: 1533.0, 4: 1039.0, 5: 230.8, 7: 84.90},
}


def _toa_rescaling(
    fields: dict[str, str], spacecraft: str, number: int, sun: float, day: dt.date, path: Path
) -> tuple[float, float]:
    """Scale and offset from DN to TOA reflectance for one band."""
    mult, add = fields.get(f"REFLECTANCE_MULT_BAND_{number}"), fields.get(f"REFLECTANCE_ADD_BAND_{number}")
    if mult is not None and add is not None:
        return float(mult) / sun, float(add) / sun
    gain, bias = fields.get(f"RADIANCE_MULT_BAND_{number}"), fields.get(f"RADIANCE_ADD_BAND_{number}")
    esun = ESUN.get(spacecraft, {}).get(number)
    if gain is None or bias is None or esun is None:
        raise ConfigError(
            f"{path}: no reflectance or radiance rescaling for band {number}; give --scale/--offset"
        )
    distance = 1 - 0.01672 * math.cos(math.radians(0.9856 * (day.timetuple().tm_yday - 4)))
    factor = math.pi * distance**2 / (esun * sun)
    return float(gain) * factor, float(bias) * factor


def _asset(href: Path, bands: list[str], reg: Registration) -> pystac.Asset:
    try:
        ds = open_input(str(href))  # GeoTIFF or JPEG2000 only: a VRT under a .tif name is refused
    except RasterioIOError as exc:
        raise ConfigError(f"{href}: {exc}") from exc
    with ds:
        if any(reg.files[b][1] > ds.count for b in bands):
            raise ConfigError(f"--band-map: {href} has {ds.count} band(s), fewer than asked for {bands}")
        crs, shape, transform = ds.crs, [ds.height, ds.width], list(ds.transform)[:6]
        dtypes, file_nodata, res, count = ds.dtypes, ds.nodata, ds.res[0], ds.count
    if crs is None:
        raise ConfigError(f"{href}: has no CRS; georeference it first")
    by_index = {reg.files[b][1]: b for b in bands}
    eo_bands, raster_bands = [], []
    for index in range(1, count + 1):
        name = by_index.get(index)
        eo_bands.append(
            {"name": name or f"band{index}", **({"common_name": name} if name in COMMON_BANDS else {})}
        )
        raster: dict[str, object] = {"data_type": dtypes[index - 1], "spatial_resolution": res}
        nodata = next(
            (v for v in (reg.nodata.get(name or ""), file_nodata, reg.default_nodata) if v is not None), None
        )
        if nodata is not None:
            raster["nodata"] = nodata
        if name:
            raster["scale"] = reg.scale.get(name, 1.0)
            raster["offset"] = reg.offset.get(name, 0.0)
        raster_bands.append(raster)
    return pystac.Asset(
        href=str(href.resolve()),
        media_type=pystac.MediaType.GEOTIFF,
        roles=["data"],
        extra_fields={
            "proj:code": crs.to_string(),
            "proj:shape": shape,
            "proj:transform": transform,
            "eo:bands": eo_bands,
            "raster:bands": raster_bands,
        },
    )


def register_scene(reg: Registration, catalog_dir: Path) -> pystac.Item:
    """Add (or replace) the scene's item in the local catalog at ``catalog_dir``; return the item."""
    by_file: dict[Path, list[str]] = {}
    for band, (path, _) in reg.files.items():
        if not path.exists():
            raise ConfigError(f"{path}: no such file (band {band})")
        by_file.setdefault(path, []).append(band)
    # Asset keys never equal a band name: odc-stac would take "green" for band 1 of an asset "green".
    assets = {
        f"image{n}" if len(by_file) > 1 else "image": _asset(p, bands, reg)
        for n, (p, bands) in enumerate(by_file.items(), 1)
    }
    first = next(iter(assets.values()))
    footprint = to_lonlat(box(*_bounds(first.extra_fields)), first.extra_fields["proj:code"])
    item = pystac.Item(
        id=reg.id or next(iter(by_file)).stem,
        geometry=mapping(footprint),
        bbox=list(footprint.bounds),
        datetime=reg.datetime,
        properties={"platform": reg.platform},
        stac_extensions=[
            "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
        ],
    )
    for key, asset in assets.items():
        item.add_asset(key, asset)
    catalog = _open_or_create(catalog_dir)
    collection = next(iter(catalog.get_children()))
    assert isinstance(collection, pystac.Collection)
    if collection.get_item(item.id) is not None:
        collection.remove_item(item.id)
    collection.add_item(item)
    collection.update_extent_from_items()
    catalog.normalize_hrefs(f"{catalog_dir}/")
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return item


def catalog_band_names(catalog: Path) -> set[str]:
    """Band names (common name, else name) of the first item of a static catalog; empty if none."""
    item = next(pystac.Catalog.from_file(str(catalog)).get_items(recursive=True), None)
    if item is None:
        return set()
    return {
        str(band.get("common_name") or band.get("name"))
        for asset in item.assets.values()
        for band in asset.extra_fields.get("eo:bands") or []
    }


def _bounds(fields: dict[str, Any]) -> tuple[float, float, float, float]:
    a, _, c, _, e, f = (float(v) for v in fields["proj:transform"])
    rows, cols = (int(v) for v in fields["proj:shape"])
    xs, ys = (c, c + a * cols), (f, f + e * rows)
    return min(xs), min(ys), max(xs), max(ys)


def _open_or_create(folder: Path) -> pystac.Catalog:
    path = folder / "catalog.json"
    if path.exists():
        return pystac.Catalog.from_file(str(path))
    catalog = pystac.Catalog(
        id="local-scenes", description="Scenes registered by analysts (sensing catalog add)."
    )
    interval: list[list[dt.datetime | None]] = [[None, None]]
    extent = pystac.Extent(
        pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]), pystac.TemporalExtent(interval)
    )
    catalog.add_child(pystac.Collection(LOCAL_COLLECTION, "Analysts' own scenes.", extent, license="other"))
    return catalog
