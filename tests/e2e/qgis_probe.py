"""Run by Debian's python3 with QGIS (python3-qgis), headless: load the tile server's layers as QGIS
itself does (WMTS with a Time dimension, WMS with TIME, XYZ), render each and report what was drawn.

Usage: python3 qgis_probe.py BASE_URL LAYER_ID DATE OUT_DIR MINX,MINY,MAXX,MAXY(EPSG:3857)
Prints JSON: per connection, whether the layer is valid and the fractions of the image in the water,
dry-land and snow/ice colours.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

COLOURS = {"water": (23, 96, 200), "dry": (222, 206, 170), "ice": (180, 240, 250)}
SIZE = 256


def main() -> None:
    base, layer_id, date, out, box = sys.argv[1:6]
    app = QgsApplication([], False)
    app.initQgis()
    common = f"contextualWMSLegend=0&crs=EPSG:3857&dpiMode=7&format=image/png&layers={layer_id}"
    uris = {
        "wmts": f"{common}&styles=default&tileMatrixSet=WebMercatorQuad&tileDimensions=Time%3D{date}"
        f"&url={base}/wmts/1.0.0/WMTSCapabilities.xml",
        # QGIS sends GetMap to the capabilities' address unless told to keep the given one (with TIME).
        "wms": f"{common}&styles=&IgnoreGetMapUrl=1&url={base}/wms?TIME%3D{date}",
        "xyz": f"type=xyz&url={base}/layers/{layer_id}/{date}/tiles/WebMercatorQuad/%7Bz%7D/%7Bx%7D/%7By%7D.png"
        "&zmax=14&zmin=0",
    }
    west, south, east, north = (float(v) for v in box.split(","))
    result = {}
    for name, uri in uris.items():
        layer = QgsRasterLayer(uri, name, "wms")
        entry = {"valid": layer.isValid()}
        if layer.isValid():
            settings = QgsMapSettings()
            settings.setLayers([layer])
            settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
            settings.setBackgroundColor(QColor(255, 255, 255, 0))
            settings.setOutputSize(QSize(SIZE, SIZE))
            settings.setExtent(QgsRectangle(west, south, east, north))
            job = QgsMapRendererParallelJob(settings)
            job.start()
            job.waitForFinished()
            image = job.renderedImage()
            image.save(os.path.join(out, f"qgis-{name}-{date}.png"))
            counts = dict.fromkeys(COLOURS, 0)
            for y in range(SIZE):
                for x in range(SIZE):
                    colour = QColor(image.pixel(x, y))
                    rgb = (colour.red(), colour.green(), colour.blue())
                    for key, wanted in COLOURS.items():
                        if all(abs(a - b) <= 2 for a, b in zip(rgb, wanted, strict=True)):
                            counts[key] += 1
            entry |= {key: count / SIZE**2 for key, count in counts.items()}
        result[name] = entry
    print(json.dumps(result))
    app.exitQgis()


if __name__ == "__main__":
    main()
