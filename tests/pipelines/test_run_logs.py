"""The library's log records and Python warnings reach the Prefect run's logs (the UI, the API)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, logging, sys, warnings
from pathlib import Path
from pipelines.environment import configure_prefect

configure_prefect(Path(sys.argv[1]))
import pipelines.flows  # installs the run stamps on the library's log handlers
from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.context import get_run_context
from prefect.logging.handlers import APILogHandler

@flow
def noisy() -> str:
    logging.getLogger("sensing.sources").warning("B11 missing from scene X: MNDWI falls back to NDWI")
    warnings.warn("rasterio: dataset has no geotransform", UserWarning)
    get_run_logger().warning("Prefect's run logger still works beside them")
    return str(get_run_context().flow_run.id)

run_id = noisy()
APILogHandler().flush()  # logs go to the API in the background
with get_client(sync_client=True) as client:
    logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
print(json.dumps([record.message for record in logs]))
"""


def test_library_warnings_and_log_records_are_in_the_flow_runs_logs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    messages = json.loads(done.stdout.strip().splitlines()[-1])
    assert any("B11 missing from scene X" in m for m in messages), messages
    assert any("dataset has no geotransform" in m for m in messages), messages
    assert any("run logger still works" in m for m in messages), messages


def test_json_logs_carry_the_run_of_the_librarys_records_too(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {
        "SENSING_LOG_FORMAT": "json"
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    (record,) = [r for r in records if r["name"] == "sensing.sources"]
    assert record["levelname"] == "WARNING" and "B11 missing" in record["msg"]
    assert record["flow_run_name"] and len(record["flow_run_id"]) == 36  # the run it was logged in
