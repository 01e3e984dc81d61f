"""Serialising OGC capabilities documents with ElementTree, whose namespace-prefix registry is global:
each document sets its own default namespace under a lock, so one service's document never comes out
with another's default (a WMTS document as <ns0:Capabilities>, which QGIS refuses)."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET

__all__ = ["serialise"]

_REGISTRY = threading.Lock()


def serialise(root: ET.Element, namespaces: dict[str, str]) -> bytes:
    """``root`` as indented UTF-8 XML, ``namespaces`` (prefix -> URI, "" the default) in force."""
    ET.indent(root)
    with _REGISTRY:
        for prefix, uri in namespaces.items():
            ET.register_namespace(prefix, uri)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)
