"""A real ``prefect server`` on this machine (SQLite in its home), started and stopped by the project.

Prefect's ephemeral API runs no scheduler and has no UI: schedules, workers and the UI need this.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

__all__ = ["LocalPrefectServer", "server_environment"]

PREFECT = str(Path(sys.executable).with_name("prefect"))


def server_environment(home: Path, url: str) -> dict[str, str]:
    """Environment of a process using the server at ``url`` whose state lives in ``home``."""
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }


class LocalPrefectServer:
    """``prefect server start`` on ``host:port`` with its database (SQLite) and logs under ``home``.

    The UI is served unless ``ui`` is false. ``auth`` (``user:password``, default the environment's
    ``PREFECT_SERVER_API_AUTH_STRING``) protects the API and UI with basic auth; ``env`` (for the
    clients: workers, flows, the CLI) then carries it as ``PREFECT_API_AUTH_STRING``.
    Records ``startup_s``. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        home: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 4200,
        ui: bool = True,
        auth: str | None = None,
        timeout_s: float = 120,
    ) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.url = f"http://{host}:{port}/api"
        self.auth = auth or os.environ.get("PREFECT_SERVER_API_AUTH_STRING")
        self.env = server_environment(home, self.url) | {"PREFECT_UI_ENABLED": "true" if ui else "false"}
        server_env = {**os.environ, **self.env}
        if self.auth:
            self.env["PREFECT_API_AUTH_STRING"] = server_env["PREFECT_SERVER_API_AUTH_STRING"] = self.auth
        self.log = home / "server.log"
        started = time.perf_counter()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [PREFECT, "server", "start", "--host", host, "--port", str(port)],
                env=server_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_healthy(timeout_s)
        except BaseException:
            self.close()
            raise
        self.startup_s = round(time.perf_counter() - started, 2)

    def _wait_healthy(self, timeout_s: float) -> None:
        credentials = tuple(self.auth.split(":", 1)) if self.auth and ":" in self.auth else None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"prefect server exited during start-up (is {self.url} already in use?); see {self.log}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=2, auth=credentials).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(
            f"prefect server not healthy at {self.url} after {timeout_s:.0f} s; see {self.log}"
        )

    def close(self) -> None:
        """Stop the server and its children (SIGTERM, then SIGKILL after 30 s)."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> LocalPrefectServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
