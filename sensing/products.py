"""What each published product is: encoding, colours and legend. Shared by publishing and serving."""

from __future__ import annotations

from dataclasses import dataclass, field

from sensing.compute.burn import BURN_CLASSES, BURN_NODATA
from sensing.compute.encode import INT16_NODATA
from sensing.compute.water import CLASS_CLOUD, CLASS_DRY, CLASS_NODATA, CLASS_SNOW_ICE, CLASS_WATER
from sensing.config import CLASS_PRODUCTS, LAND_INDEX_PRODUCTS, SAR_BANDS, IndexScale
from sensing.flood import FLOOD_CLASSES
from sensing.publish.cog import CogSpec

__all__ = [
    "ANOMALY_PRODUCTS",
    "CHANGE_CLASSES",
    "COMPOSITE_INDICES",
    "COMPOSITE_PRODUCTS",
    "DERIVED_PRODUCTS",
    "INDEX_COLORMAPS",
    "PARCEL_CLASSES",
    "PERCENTILES",
    "SEASONAL_PRODUCTS",
    "TREND_CLASSES",
    "WATER_CLASSES",
    "ProductSpec",
    "change_product",
    "product_spec",
]

WATER_CLASSES: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    CLASS_DRY: ("dry land", (222, 206, 170, 255)),
    CLASS_WATER: ("water", (23, 96, 200, 255)),
    CLASS_SNOW_ICE: ("snow / ice", (180, 240, 250, 255)),
    CLASS_CLOUD: ("cloud / shadow", (150, 150, 150, 255)),
    CLASS_NODATA: ("no data", (0, 0, 0, 0)),
}
"""Class value -> (label, RGBA colour) of the water layer."""
CHANGE_CLASSES: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    0: ("not water", (0, 0, 0, 0)),
    1: ("permanent", (0, 0, 255, 255)),
    2: ("new permanent", (34, 177, 76, 255)),
    3: ("lost permanent", (209, 16, 45, 255)),
    4: ("seasonal", (153, 217, 234, 255)),
    5: ("new seasonal", (181, 230, 29, 255)),
    6: ("lost seasonal", (230, 161, 170, 255)),
    7: ("seasonal to permanent", (255, 127, 39, 255)),
    8: ("permanent to seasonal", (255, 201, 14, 255)),
    9: ("ephemeral permanent", (127, 127, 127, 255)),
    10: ("ephemeral seasonal", (195, 195, 195, 255)),
    255: ("no data", (0, 0, 0, 0)),
}
"""Class value -> (label, RGBA colour) of the change layers: JRC Global Surface Water's transition
classes and palette (see ``sensing.change``)."""
CHANGE_PRODUCTS = ("water-change", "water-change-sar")
COMPOSITE_INDICES = ("ndvi", "evi")
"""Vegetation indices with monthly composites and anomalies (when they are configured products)."""
COMPOSITE_PRODUCTS = (
    *(f"{i}-{kind}" for i in COMPOSITE_INDICES for kind in ("median", "max")),
    "clear-count",
)
"""Monthly land composites of the clear NDVI observations (see ``sensing.land_products``)."""
COMPOSITE_SCALE = IndexScale(scale=0.0001, offset=0.0)
ANOMALY_PRODUCTS = (*(f"{i}-anomaly" for i in COMPOSITE_INDICES), "vci")
"""Monthly NDVI against the same month of the baseline years: z-score and Vegetation Condition Index."""
ANOMALY_SCALE = IndexScale(scale=0.001, offset=0.0)
"""z-scores stored as int16 thousandths."""
FLOOD_PRODUCTS = ("flood", "flood-sar")
"""Flood extent of an event (see ``sensing.flood``), from optical or radar layers."""


PERCENTILES = (10, 50, 90)
"""Percentiles of the growing-season composites (``ndvi-p10``, ``ndvi-p50``, ``ndvi-p90``)."""
SEASONAL_PRODUCTS = (
    "snow-days", "ndvi-trend", "ndvi-trend-class", "burn-severity", "dnbr", *(f"ndvi-p{p}" for p in PERCENTILES),
    "parcel-labels",
)  # fmt: skip
"""Per season or period of years (see ``sensing.land_seasons``)."""
TREND_CLASSES: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    0: ("no significant trend", (0, 0, 0, 0)),
    1: ("significant decline", (166, 97, 26, 255)),
    2: ("significant increase", (1, 133, 113, 255)),
    255: ("no data", (0, 0, 0, 0)),
}
"""Class value -> (label, RGBA colour) of ``ndvi-trend-class`` (Mann-Kendall p below the level)."""
_BURN_COLOURS = {0: (0, 0, 0, 0), 1: (255, 255, 178, 255), 2: (254, 204, 92, 255), 3: (253, 141, 60, 255),
                 4: (189, 0, 38, 255)}  # fmt: skip
BURN_SEVERITY_CLASSES: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    **{code: (label, _BURN_COLOURS[code]) for code, label in BURN_CLASSES.items()},
    BURN_NODATA: ("no data", (0, 0, 0, 0)),
}
"""Class value -> (label, RGBA colour) of ``burn-severity`` (sensing.compute.burn)."""
PARCEL_CLASSES: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    0: ("not a parcel", (0, 0, 0, 0)),
    1: ("cultivated", (230, 171, 2, 255)),
    2: ("grassland / pasture", (102, 166, 30, 255)),
    3: ("not used", (166, 118, 29, 255)),
    4: ("uncertain (too few clear observations)", (153, 153, 153, 255)),
    255: ("no data", (0, 0, 0, 0)),
}
"""Class value -> (label, RGBA colour) of ``parcel-labels``, in the order of sensing.compute.phenology.LABELS."""
DERIVED_PRODUCTS = (*FLOOD_PRODUCTS, *COMPOSITE_PRODUCTS, *ANOMALY_PRODUCTS, *SEASONAL_PRODUCTS)
"""Products derived from published layers rather than configured: catalogued once they exist."""


def flood_product(class_product: str) -> str:
    """The flood product of a class product (``water`` -> ``flood``, ``water-sar`` -> ``flood-sar``)."""
    return class_product.replace("water", "flood", 1)


def change_product(class_product: str) -> str:
    """The change product of a class product (``water`` -> ``water-change``)."""
    return class_product.replace("water", "water-change", 1)


INDEX_COLORMAPS = {"ndwi": "rdbu", "mndwi": "rdbu", "ndvi": "rdylgn", "ndvi-median": "rdylgn", "ndvi-max": "rdylgn",
                   "ndvi-p10": "rdylgn", "ndvi-p50": "rdylgn", "ndvi-p90": "rdylgn",
                   "evi": "rdylgn", "evi-median": "rdylgn", "evi-max": "rdylgn",
                   "vv": "gray", "vh": "gray"}  # fmt: skip
"""rio-tiler colour map per value product."""

TITLES = {
    "water": "Water classes",
    "water-sar": "Water classes (Sentinel-1 radar)",
    "ndwi": "NDWI (green, NIR)",
    "mndwi": "MNDWI (green, SWIR1)",
    "ndvi": "NDVI (NIR, red)",
    "vv": "VV backscatter (dB, speckle-filtered)",
    "vh": "VH backscatter (dB, speckle-filtered)",
    "water-change": "Surface-water change between two periods",
    "water-change-sar": "Surface-water change between two periods (Sentinel-1 radar)",
    "flood": "Flood extent of an event",
    "flood-sar": "Flood extent of an event (Sentinel-1 radar)",
    "ndvi-median": "NDVI, monthly median of clear observations",
    "ndvi-max": "NDVI, monthly maximum of clear observations",
    "evi": "EVI (NIR, red, blue)",
    **{f"ndvi-p{p}": f"NDVI, {p}th percentile of the season's clear observations" for p in PERCENTILES},
    "evi-median": "EVI, monthly median of clear observations",
    "evi-max": "EVI, monthly maximum of clear observations",
    "evi-anomaly": "EVI anomaly (z-score against the same month of the baseline years)",
    "clear-count": "Clear observations in the month",
    "ndvi-anomaly": "NDVI anomaly (z-score against the same month of the baseline years)",
    "snow-days": "Snow-cover duration of the season (days)",
    "ndvi-trend": "NDVI trend (Theil-Sen slope per year of the growing-season median)",
    "ndvi-trend-class": "NDVI trend, significant decline or increase (Mann-Kendall)",
    "burn-severity": "Burn severity of a fire event (dNBR classes)",
    "parcel-labels": "Parcels in use over a growing season (rule-based label)",
    "dnbr": "dNBR of a fire event (NBR before minus after)",
    "vci": "Vegetation Condition Index (percent of the baseline's range for the month)",
}
NEVER_SEEN = 255
"""Nodata of summary layers: pixels never observed clear."""
SUMMARIES = {
    "occurrence": (
        "Water occurrence (% of clear observations)",
        "water occurrence (percent)",
        "blues",
        (0.0, 100.0),
    ),
    "water-months": ("Months with water", "months with water", "viridis", (0.0, 12.0)),
    "max-extent": ("Maximum water extent", "water seen at least once (1) or never (0)", "blues", (0.0, 1.0)),
}
"""Summary kind -> (title, band description, colour map, rescale); ``-sar`` variants for radar."""
BACKSCATTER_SCALE = IndexScale(scale=0.01, offset=0.0)
"""Backscatter in dB stored as int16 hundredths of a dB."""
BACKSCATTER_RANGE = (-25.0, 0.0)


@dataclass(frozen=True)
class ProductSpec:
    """Encoding and rendering of one product."""

    name: str
    title: str
    cog: CogSpec
    rescale: tuple[float, float] | None = None
    """Value range mapped onto the colour map (in physical units), None for class layers."""
    colormap_name: str | None = None
    legend: list[dict[str, object]] = field(default_factory=list)


DERIVED_RAMPS: dict[str, tuple[CogSpec, tuple[float, float], str]] = {
    "clear-count": (CogSpec("uint8", NEVER_SEEN, "nearest", description="clear observations"), (0.0, 10.0), "viridis"),
    "snow-days": (CogSpec("uint16", 65535, "average", description="snow-cover days"), (0.0, 180.0), "blues"),
    "ndvi-trend": (
        CogSpec("int16", INT16_NODATA, "average", scale=COMPOSITE_SCALE.scale, description="NDVI per year"),
        (-0.03, 0.03), "brbg",
    ),
    "vci": (CogSpec("uint8", NEVER_SEEN, "average", description="VCI (percent, clipped to 0-100)"), (0.0, 100.0), "rdylgn"),
    **{
        f"{index}-anomaly": (
            CogSpec("int16", INT16_NODATA, "average", scale=ANOMALY_SCALE.scale, description=f"{index.upper()} z-score"),
            (-3.0, 3.0), "brbg",
        )
        for index in COMPOSITE_INDICES
    },
    "dnbr": (
        CogSpec("int16", INT16_NODATA, "average", scale=COMPOSITE_SCALE.scale, description="dNBR"),
        (-0.5, 1.0), "ylorrd",
    ),
}  # fmt: skip
"""Derived continuous products: encoding, value range of the colour map, rio-tiler colour map."""


def product_spec(name: str, scale: IndexScale | None = None) -> ProductSpec:
    """The spec of product ``name``; index products need their int16 ``scale``.

    Indices are stored as int16 = round((value - offset) / scale), clipped to the int16 range: with
    the default scale 1e-4 a normalized difference in [-1, 1] always fits. Backscatter (vv, vh) is
    stored in hundredths of a dB.
    """
    kind = name.removesuffix("-sar")
    if kind in SUMMARIES:
        title, description, colormap_name, rescale = SUMMARIES[kind]
        title += " (Sentinel-1 radar)" if name.endswith("-sar") else ""
        cog = CogSpec("uint8", NEVER_SEEN, "nearest", description=description)
        return ProductSpec(name, title, cog, rescale=rescale, colormap_name=colormap_name)
    if name in DERIVED_RAMPS:
        cog, rescale, colormap_name = DERIVED_RAMPS[name]
        return ProductSpec(name, TITLES[name], cog, rescale=rescale, colormap_name=colormap_name)
    seasonal_percentile = name in SEASONAL_PRODUCTS and name.startswith("ndvi-p")
    if name in COMPOSITE_PRODUCTS or seasonal_percentile or (name in LAND_INDEX_PRODUCTS and scale is None):
        scale = COMPOSITE_SCALE
    palettes = {
        **dict.fromkeys(CLASS_PRODUCTS, (WATER_CLASSES, "water class")),
        **dict.fromkeys(CHANGE_PRODUCTS, (CHANGE_CLASSES, "change class")),
        **dict.fromkeys(FLOOD_PRODUCTS, (FLOOD_CLASSES, "flood class")),
        "ndvi-trend-class": (TREND_CLASSES, "trend class"),
        "burn-severity": (BURN_SEVERITY_CLASSES, "burn severity class"),
        "parcel-labels": (PARCEL_CLASSES, "parcel label"),
    }
    if name in palettes:
        classes, description = palettes[name]
        colormap = {value: rgba for value, (_, rgba) in classes.items()}
        legend = [{"value": v, "label": label, "color": rgba} for v, (label, rgba) in classes.items()]
        spec = CogSpec("uint8", CLASS_NODATA, "nearest", description=description, colormap=colormap)
        return ProductSpec(name, TITLES[name], spec, legend=legend)
    backscatter = name in SAR_BANDS
    scale = BACKSCATTER_SCALE if backscatter else scale
    if scale is None:
        raise ValueError(f"product {name!r} needs an IndexScale")
    description = f"{name.upper()} backscatter (dB)" if backscatter else name.upper()
    cog = CogSpec(
        "int16", INT16_NODATA, "average", scale=scale.scale, offset=scale.offset, description=description
    )
    return ProductSpec(
        name,
        TITLES.get(name, name.upper()),
        cog,
        rescale=BACKSCATTER_RANGE if backscatter else (-1.0, 1.0),
        colormap_name=INDEX_COLORMAPS.get(name),
    )
