"""The simulated archive: a valid static STAC of COGs, both baselines, truth consistent with outlines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pystac
import rasterio
from rio_cogeo.cogeo import cog_validate

from sensing.config import load_settings
from sensing.demo.landscape import nominal_outlines
from sensing.grid import aoi_geobox
from sensing.publish.stac_validation import validate_stac
from sensing.registry import load_water_bodies
from sensing.sources.stac import StaticStacSource
from sensing.waterbodies import to_crs

ROOT = Path(__file__).resolve().parents[2]


def test_archive_is_valid_stac_of_cogs(demo_root: Path) -> None:
    settings = load_settings(demo_root / "config.yaml")
    catalog = pystac.Catalog.from_file(str(settings.source.catalog))
    items = list(catalog.get_items(recursive=True))
    assert len(items) == 10
    for item in items:
        validate_stac(item.to_dict(), item.id)
        assert set(item.assets) == {"B02", "B03", "B04", "B08", "B11", "B12", "SCL"}
    baselines = {i.properties["s2:processing_baseline"] for i in items}
    assert baselines == {"03.01", "04.00"}
    first = items[0]
    for asset in first.assets.values():
        assert cog_validate(asset.get_absolute_href(), strict=True, quiet=True)[0]
    with (
        rasterio.open(first.assets["B11"].get_absolute_href()) as swir,
        rasterio.open(first.assets["B03"].get_absolute_href()) as green,
    ):
        assert swir.res == (2 * green.res[0], 2 * green.res[1])


def test_harmonised_water_reflectance_is_equal_across_baselines(demo_root: Path) -> None:
    """The same clear water reads the same reflectance before and after the +1000 DN offset."""
    settings = load_settings(demo_root / "config.yaml")
    source = StaticStacSource(settings.source)
    scenes = {s.date: s for s in source.search((76, 43, 79, 45), dt.date(2021, 1, 1), dt.date(2023, 1, 1))}
    geobox = aoi_geobox(settings.aoi)
    old = source.load(scenes[dt.date(2021, 10, 13)], ["green", "scl"], geobox, 512)
    new = source.load(scenes[dt.date(2022, 4, 14)], ["green", "scl"], geobox, 512)
    window = {"y": slice(480, 520), "x": slice(150, 190)}  # open water near the dam on both dates
    assert (old.scl.isel(window) == 6).all() and (new.scl.isel(window) == 6).all()
    raw_new = float(new.green.isel(window).mean())
    assert abs(float(old.green.isel(window).mean()) - raw_new) < 0.003
    assert 0.03 < raw_new < 0.07


def test_committed_outlines_match_the_simulator() -> None:
    settings = load_settings(ROOT / "configs" / "demo.yaml")
    expected = nominal_outlines(settings.aoi.bounds)
    for body in load_water_bodies(settings.water_bodies, settings.hydrography):
        outline = to_crs(body.geometry, settings.aoi.crs)
        assert outline.symmetric_difference(expected[body.id]).area / expected[body.id].area < 0.01


def test_truth_lies_inside_the_outlines(demo_root: Path) -> None:
    settings = load_settings(demo_root / "config.yaml")
    assert settings.demo is not None
    rows = [
        r.split(",") for r in (settings.demo.archive / "truth" / "areas.csv").read_text().splitlines()[1:]
    ]
    with rasterio.open(settings.demo.archive / "truth" / "2021-08-01_water.tif") as ds:
        truth = ds.read(1)
        px_km2 = ds.res[0] * ds.res[1] / 1e6
    true_kapchagay = next(float(r[2]) for r in rows if r[0] == "2021-08-01" and r[1] == "kapchagay")
    bodies = load_water_bodies(settings.water_bodies, settings.hydrography)
    assert {b.id for b in bodies} == {"kapchagay", "pond-north"}
    assert all(b.geometry.is_valid for b in bodies)
    # The river below the dam is water outside every outline: the truth raster holds more than the table.
    assert np.sum(truth == 1) * px_km2 > true_kapchagay


def test_loading_and_building_a_scene_graph_reads_no_pixels(demo_root: Path) -> None:
    """From the archive to the class layer and the zonal counts, nothing computes until asked."""
    import dask

    from sensing.compute.indices import compute_index
    from sensing.compute.masks import scl_masks
    from sensing.compute.water import classify
    from sensing.compute.zonal import zone_class_counts, zones_raster

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a computation was triggered while building the graph")

    settings = load_settings(demo_root / "config.yaml")
    source = StaticStacSource(settings.source)
    scene = source.search((76, 43, 79, 45), dt.date(2021, 8, 1), dt.date(2021, 8, 1))[0]
    geobox = aoi_geobox(settings.aoi)
    with dask.config.set(scheduler=refuse):
        ds = source.load(scene, ["green", "red", "nir", "swir16", "scl"], geobox, 512)
        masks = scl_masks(ds["scl"])
        classes = classify(compute_index("mndwi", ds), masks["nodata"], masks["cloud"], masks["snow"], 0.1)
        counts = zone_class_counts(
            classes.data,
            zones_raster(load_water_bodies(settings.water_bodies, settings.hydrography), geobox, 512),
            2,
        )
    assert classes.shape == (1000, 1000) and counts.shape == (3, 5)
