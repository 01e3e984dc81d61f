"""Scheduled and server-mode operation on a real ``prefect server`` (SQLite, 127.0.0.1).

* ``sensing schedule`` starts its own server and serves the deployments: the server's scheduler
  creates a nightly run (a short interval) that runs to Completed.
* A protected server (basic auth), a process worker and ``sensing deploy``: a triggered reprocess
  deployment run completes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from pipelines.prefect_server import LocalPrefectServer
from tests.conftest import write_test_config
from tests.servers import free_port

SENSING = str(Path(sys.executable).with_name("sensing"))
PREFECT = str(Path(sys.executable).with_name("prefect"))
FAST_SERVICES = {
    "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",  # default 60 s
    "PREFECT_RUNNER_POLL_FREQUENCY": "2",  # default 10 s
    "PREFECT_WORKER_QUERY_SECONDS": "2",
}


RETRYABLE = {429, 502, 503}  # the server answers 503 to errors it calls retryable (SQLite busy)


class Api:
    """The Prefect REST API at ``url``, with basic auth when given.

    Retries what the server marks retryable, as Prefect's own client does
    (``PREFECT_CLIENT_MAX_RETRIES``): on a loaded machine SQLite is busy now and then.
    """

    def __init__(self, url: str, auth: tuple[str, str] | None = None) -> None:
        self.client = httpx.Client(base_url=url, auth=auth, timeout=30)

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        for attempt in range(6):
            response = self.client.request(method, path, json=body)
            if response.status_code not in RETRYABLE or attempt == 5:
                break
            time.sleep(2**attempt)
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> Any:
        return self._send("GET", path)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._send("POST", path, body)

    def runs_of(self, deployment_id: str) -> list[dict[str, Any]]:
        return self.post("/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}}})

    def wait_final(self, run_id: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.get(f"/flow_runs/{run_id}")
            if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                return run
            time.sleep(2)
        raise AssertionError(f"flow run {run_id} not finished after {timeout_s} s: {run['state_type']}")

    def state_types(self, run_id: str) -> list[str]:
        states = self.get(f"/flow_run_states/?flow_run_id={run_id}")
        return [s["type"] for s in sorted(states, key=lambda s: s["timestamp"])]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return env | FAST_SERVICES | extra


@pytest.fixture()
def scheduled_config(demo_copy: Path) -> Path:
    """The demo copy with one nightly group (water classes) every 60 s."""
    return write_test_config(
        demo_copy, schedule={"groups": {"water": {"products": ["water"], "interval_s": 60}}}
    )


@pytest.fixture()
def schedule_process(scheduled_config: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Api]]:
    """``sensing schedule`` running on a free port; stopped with SIGTERM (as a service manager would)."""
    port = free_port()
    log = (tmp_path / "schedule.log").open("wb")
    process = subprocess.Popen(
        [SENSING, "schedule", "--config", str(scheduled_config), "--port", str(port), "--no-ui"],
        env=_env(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    api = Api(f"http://127.0.0.1:{port}/api")
    try:
        yield process, api
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        log.close()


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM a process group; SIGKILL it if it has not exited 30 s later (Prefect's worker may wait
    on its flow-run subprocesses well past a minute on a loaded machine)."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _deployment(api: Api, name: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return api.get(f"/deployments/name/{name}")
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_the_server_schedule_creates_a_nightly_run_that_completes(
    schedule_process: tuple[subprocess.Popen[bytes], Api], scheduled_config: Path
) -> None:
    process, api = schedule_process
    deployment = _deployment(api, "nightly/nightly-water")
    assert deployment["parameters"]["products"] == ["water"]
    deadline = time.monotonic() + 300
    done: list[dict[str, Any]] = []
    while not done and time.monotonic() < deadline:
        assert process.poll() is None, "sensing schedule exited"
        runs = api.runs_of(deployment["id"])
        done = [r for r in runs if r["state_type"] in ("COMPLETED", "FAILED", "CRASHED")]
        time.sleep(2)
    assert done, "no scheduled run finished in 300 s"
    run = done[0]
    assert run["state_type"] == "COMPLETED", run["state"]
    # Created by the server's scheduler from the deployment's schedule, not by this test:
    assert run["auto_scheduled"] is True
    assert run["created_by"]["type"] == "SCHEDULE"
    history = api.state_types(run["id"])
    assert (history[0], history[-1]) == ("SCHEDULED", "COMPLETED") and "RUNNING" in history, history
    data = yaml.safe_load(scheduled_config.read_text())["data_dir"]
    layers = list((Path(data) / "outputs" / "layers" / "water").rglob("*.tif"))
    assert len(layers) >= 5, layers
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    with pytest.raises(httpx.HTTPError):  # the server went with it
        api.get("/health")


def test_a_process_worker_runs_a_deployment_on_a_server_protected_by_basic_auth(
    demo_copy: Path, tmp_path: Path
) -> None:
    config = write_test_config(demo_copy)
    port = free_port()
    with LocalPrefectServer(tmp_path / "server", port=port, ui=False, auth="sensing:s3cret") as server:
        anonymous = httpx.post(f"{server.url}/deployments/filter", json={}, timeout=10)
        assert anonymous.status_code == 401
        api = Api(server.url, auth=("sensing", "s3cret"))
        env = _env(**server.env)
        subprocess.run([PREFECT, "work-pool", "create", "local", "--type", "process"], env=env, check=True)
        deployed = subprocess.run(
            [SENSING, "deploy", "--pool", "local", "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        nightly = api.get("/deployments/name/nightly/nightly-water")
        schedule = nightly["schedules"][0]["schedule"]
        assert (schedule["cron"], schedule["timezone"]) == ("30 1 * * *", "Asia/Almaty")
        reprocess = api.get("/deployments/name/reprocess/reprocess")
        run = api.post(
            f"/deployments/{reprocess['id']}/create_flow_run",
            {"parameters": {"aoi": "kapchagay-dam", "start": "2021-08-01", "end": "2021-09-30",
                            "products": ["water"]}},
        )  # fmt: skip
        with (tmp_path / "worker.log").open("wb") as log:
            worker = subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", "local", "--type", "process", "--limit", "1"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            try:
                final = api.wait_final(run["id"], timeout_s=300)
            finally:
                _stop_group(worker)
        assert final["state_type"] == "COMPLETED", (tmp_path / "worker.log").read_text()[-3000:]
    layers = sorted((demo_copy / "data" / "outputs" / "layers" / "water").rglob("*.tif"))
    assert {p.parent.parent.name for p in layers} == {"2021-08-01", "2021-09-07"}  # the period's dates


def test_a_backfill_runs_month_partitions_as_reprocess_runs_within_its_concurrency_limit(
    schedule_process: tuple[subprocess.Popen[bytes], Api], scheduled_config: Path
) -> None:
    _, api = schedule_process
    backfill = _deployment(api, "backfill/backfill")
    run = api.post(
        f"/deployments/{backfill['id']}/create_flow_run",
        {"parameters": {"aois": ["kapchagay-dam"], "start": "2021-08-01", "end": "2021-10-31",
                        "products": ["water"], "concurrency": 2}},
    )  # fmt: skip
    final = api.wait_final(run["id"], timeout_s=400)
    assert final["state_type"] == "COMPLETED", final["state"]
    children = api.post("/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [run["id"]]}}})
    assert sorted(c["name"] for c in children) == [
        "reprocess-kapchagay-dam-2021-08",
        "reprocess-kapchagay-dam-2021-09",
        "reprocess-kapchagay-dam-2021-10",
    ]
    assert {c["state_type"] for c in children} == {"COMPLETED"}
    spans = sorted((c["start_time"], c["end_time"]) for c in children)
    most_at_once = max(sum(s <= start < e for s, e in spans) for start, _ in spans)
    assert most_at_once <= 2
    data = Path(yaml.safe_load(scheduled_config.read_text())["data_dir"])
    dates = {p.parent.parent.name for p in (data / "outputs" / "layers" / "water").rglob("*.tif")}
    reports = [json.loads(p.read_text()) for p in (data / "outputs" / "runs").glob("*.json")]
    # one report per run, named by the full run id (uuid7 ids share their first 8 digits within a minute)
    assert {c["id"] for c in children} <= {r["run_id"] for r in reports}
    for child in children:
        assert len(list((data / "outputs" / "runs").glob(f"*-{child['id']}.json"))) == 1
    assert {"2021-08-01", "2021-09-07", "2021-10-13"} <= dates


def test_schedule_on_a_port_in_use_says_so(scheduled_config: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [SENSING, "schedule", "--config", str(scheduled_config), "--port", str(port), "--no-ui"],
            env=_env(), capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--port {port}" in done.stdout and "already in use" in done.stdout
