"""Real HTTP servers on 127.0.0.1 for contract tests: static files with range requests, rustac's STAC API."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextlib.contextmanager
def file_server(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP (Starlette's StaticFiles answers Range requests); yield the base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[]), host="127.0.0.1", port=port, log_level="warning")
    )
    server.config.app.mount("/", StaticFiles(directory=folder))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def publish_over_http(catalog: Path, base_url: str, out: Path) -> tuple[Path, Path]:
    """Collection and item collection of a static catalog, asset hrefs rewritten to ``base_url``."""
    import pystac

    root = pystac.Catalog.from_file(str(catalog))
    collection = next(iter(root.get_children()))
    items = []
    for item in collection.get_items():
        doc = item.to_dict(include_self_link=False, transform_hrefs=True)
        for key, asset in item.assets.items():
            path = Path(asset.get_absolute_href() or "").relative_to(catalog.parent)
            doc["assets"][key]["href"] = f"{base_url}/{path.as_posix()}"
        doc["links"] = []
        items.append(doc)
    coll = collection.to_dict(include_self_link=False, transform_hrefs=False)
    coll["links"] = []
    out.mkdir(parents=True, exist_ok=True)
    (out / "collection.json").write_text(json.dumps(coll))
    (out / "items.json").write_text(json.dumps({"type": "FeatureCollection", "features": items}))
    return out / "collection.json", out / "items.json"


@contextlib.contextmanager
def rustac_api(*hrefs: Path) -> Iterator[str]:
    """rustac's STAC API server (in-memory backend) loaded with ``hrefs``; yield its root URL."""
    port = free_port()
    rustac = Path(sys.executable).with_name("rustac")
    proc = subprocess.Popen(
        [str(rustac), "serve", "--addr", f"127.0.0.1:{port}", *map(str, hrefs)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
