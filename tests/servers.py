"""Real HTTP servers on 127.0.0.1 for contract tests: static files with range requests, rustac's STAC API."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
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
def serve_asgi(app: object, port: int | None = None) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread on 127.0.0.1; yield its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def file_server(folder: Path) -> contextlib.AbstractContextManager[str]:
    """Serve ``folder`` over HTTP (Starlette's StaticFiles answers Range requests); yield the base URL."""
    app = Starlette(routes=[])
    app.mount("/", StaticFiles(directory=folder))
    return serve_asgi(app)


def publish_over_http(
    catalog: Path, base_url: str, out: Path, collection_id: str | None = None
) -> tuple[Path, Path]:
    """Collection (the first, or ``collection_id``) and item collection of a static catalog, asset
    hrefs rewritten to ``base_url``."""
    import pystac

    root = pystac.Catalog.from_file(str(catalog))
    collection = next(c for c in root.get_children() if collection_id in (None, c.id))
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


class FaultProxy:
    """A reverse proxy on 127.0.0.1 in front of a real server that injects faults on matching paths.

    ``inject(pattern, *faults)`` queues faults for requests whose path contains ``pattern``; each
    request consumes one. A fault is ``("status", code, headers)``, ``("stall", seconds)``,
    ``("reset",)`` (headers and half the body, then the connection drops) or ``("self_next",)`` (the
    page's next link points back at the page itself).
    """

    def __init__(self, upstream: str) -> None:
        self.port = free_port()
        self.upstream = upstream.rstrip("/")
        self.faults: list[tuple[str, tuple[object, ...]]] = []
        self.requests: list[str] = []
        self._lock = threading.Lock()

    def inject(self, pattern: str, *faults: tuple[object, ...]) -> None:
        with self._lock:
            self.faults += [(pattern, f) for f in faults]

    def _take(self, path: str) -> tuple[object, ...] | None:
        with self._lock:
            self.requests.append(path)
            for n, (pattern, fault) in enumerate(self.faults):
                if pattern in path:
                    del self.faults[n]
                    return fault
        return None

    async def __call__(self, scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
        import asyncio

        import httpx

        if scope["type"] != "http":
            return
        path = scope["path"] + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        fault = self._take(path)
        if fault and fault[0] == "status":
            headers = [
                (k.encode(), str(v).encode()) for k, v in dict(fault[2] if len(fault) > 2 else {}).items()
            ]  # type: ignore[arg-type]
            await send({"type": "http.response.start", "status": fault[1], "headers": headers})
            await send({"type": "http.response.body", "body": b'{"code": "injected"}'})
            return
        if fault and fault[0] == "stall":
            await asyncio.sleep(float(fault[1]))  # type: ignore[arg-type]
        headers = {
            k.decode(): v.decode()
            for k, v in scope["headers"]
            if k.decode() not in ("host", "content-length")
        }
        async with httpx.AsyncClient() as client:
            upstream = await client.request(
                scope["method"], self.upstream + path, content=body, headers=headers
            )
        content = upstream.content.replace(self.upstream.encode(), f"http://127.0.0.1:{self.port}".encode())
        if fault and fault[0] == "self_next":  # the page's next link points back at this very page
            doc = json.loads(content)
            for link in doc.get("links", []):
                if link.get("rel") == "next":
                    link["href"] = f"http://127.0.0.1:{self.port}{path}"
                    if body:
                        link["body"] = json.loads(body)
            content = json.dumps(doc).encode()
        out_headers = [(b"content-type", upstream.headers.get("content-type", "application/json").encode()),
                       (b"content-length", str(len(content)).encode())]  # fmt: skip
        await send({"type": "http.response.start", "status": upstream.status_code, "headers": out_headers})
        if fault and fault[0] == "reset":
            await send(
                {"type": "http.response.body", "body": content[: len(content) // 2], "more_body": True}
            )
            raise ConnectionResetError("injected reset mid-body")
        await send({"type": "http.response.body", "body": content})


@contextlib.contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """Start a FaultProxy for ``upstream`` on a free loopback port."""
    proxy = FaultProxy(upstream)
    with serve_asgi(proxy, proxy.port):
        yield proxy


@dataclasses.dataclass(frozen=True)
class DaskProcesses:
    """A running ``dask scheduler`` and its ``dask worker`` processes (each a nanny and its worker)."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]


@contextlib.contextmanager
def dask_processes(workers: int, memory_limit: str, log_dir: Path) -> Iterator[DaskProcesses]:
    """``dask scheduler`` and ``workers`` x ``dask worker`` processes (one thread each) on 127.0.0.1,
    once every worker has joined."""
    from distributed import Client

    dask = str(Path(sys.executable).with_name("dask"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = [(log_dir / f"dask-{i}.log").open("wb") for i in range(workers + 1)]
    commands = [[dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]] + [
        [dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
         "--memory-limit", memory_limit, "--no-dashboard", "--name", f"worker-{i}"]
        for i in range(workers)
    ]  # fmt: skip
    processes = [
        subprocess.Popen(c, stdout=log, stderr=subprocess.STDOUT)
        for c, log in zip(commands, logs, strict=True)
    ]
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield DaskProcesses(address, processes[0], processes[1:])
    finally:
        for process in reversed(processes):
            process.terminate()
        for process, log in zip(processes, logs, strict=True):
            process.wait(timeout=60)
            log.close()


class WorkerMemory:
    """Samples the RSS of each Dask worker process (the nanny's children) every 0.1 s in a thread;
    ``peaks_mb`` per worker, and ``restarts`` (worker processes replaced by their nanny). ``others``
    (name: pid) are sampled too, each process on its own: ``other_peaks_mb``."""

    def __init__(self, nannies: list[subprocess.Popen[bytes]], others: dict[str, int] | None = None) -> None:
        import psutil

        self._nannies = [psutil.Process(n.pid) for n in nannies]
        self._others = {name: psutil.Process(pid) for name, pid in (others or {}).items()}
        self.other_peaks_mb = dict.fromkeys(self._others, 0.0)
        self.peaks_mb = [0.0] * len(nannies)
        self._pids: list[set[int]] = [set() for _ in nannies]
        self._most: list[int] = [0] * len(nannies)  # processes at once under a nanny (worker + helpers)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            for i, nanny in enumerate(self._nannies):
                try:
                    children = nanny.children(recursive=True)
                    rss = sum(c.memory_info().rss for c in children)
                except psutil.NoSuchProcess:
                    continue
                self._pids[i] |= {c.pid for c in children}
                self._most[i] = max(self._most[i], len(children))
                self.peaks_mb[i] = max(self.peaks_mb[i], rss / 2**20)
            for name, process in self._others.items():
                with contextlib.suppress(psutil.NoSuchProcess):
                    self.other_peaks_mb[name] = max(
                        self.other_peaks_mb[name], process.memory_info().rss / 2**20
                    )
            time.sleep(0.1)

    @property
    def restarts(self) -> int:
        return sum(len(pids) - most for pids, most in zip(self._pids, self._most, strict=True))

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def sensing_serve(config: Path) -> Iterator[tuple[str, psutil.Process]]:
    """`sensing serve` as a subprocess on a free loopback port; yields its URL and process."""
    port = free_port()
    sensing = Path(sys.executable).with_name("sensing")
    log = config.parent / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(sensing), "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{url}/healthz", timeout=60)
            yield url, psutil.Process(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
