"""Alerts through the flow: a low August against four earlier Augusts, POSTed to a local receiver."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sensing.config import load_settings
from sensing.models import WaterBodyArea
from sensing.publish.layout import OutputLayout
from sensing.publish.tables import upsert_water_areas
from tests.servers import serve_asgi

DAY = dt.date(2021, 8, 1)  # the demo reservoir holds 282 km2 that day


class Receiver:
    """A webhook endpoint that keeps what it is sent, failing with ``status`` when set."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.status = 200
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        self.received.append(await request.json())
        return JSONResponse({"ok": self.status == 200}, status_code=self.status)


def _history(config: Path) -> None:
    """Four earlier Augusts at about 350 km2, as earlier nights would have measured them."""
    settings = load_settings(config)
    rows = [
        WaterBodyArea("kapchagay", dt.date(year, 8, 5), km2, 0.0, 1.0, "ok", sensor="sentinel-2", usable=True)
        for year, km2 in ((2017, 352.0), (2018, 347.5), (2019, 355.1), (2020, 349.0))
    ]
    upsert_water_areas(OutputLayout(settings.output_dir).water_areas, rows)


def test_a_low_month_is_alerted_and_posted(demo_copy: Path, prefect_api: None) -> None:
    from pipelines.flows import reprocess

    config = demo_copy / "config.yaml"
    receiver = Receiver()
    with serve_asgi(receiver.app) as url:
        doc = yaml.safe_load(config.read_text())
        doc["alerts"] = {"webhook_url": f"{url}/hook"}
        config.write_text(yaml.safe_dump(doc))
        _history(config)
        summary = reprocess(aoi="kapchagay-dam", start=DAY, end=DAY, products=["water"], config=str(config))
        receiver.status = 500
        again = reprocess(
            aoi="kapchagay-dam", start=DAY, end=DAY, products=["water"], config=str(config), force=True
        )
    (alert,) = summary["alerts"]
    assert alert["water_body"] == "kapchagay" and alert["kind"] == "low" and alert["baseline_years"] == 4
    assert alert["percent_of_median"] < 85 and summary["webhook"] == "sent"
    posted = receiver.received[0]
    assert posted["aoi"] == "kapchagay-dam" and posted["alerts"][0]["date"] == DAY.isoformat()
    table = pd.read_parquet(OutputLayout(load_settings(config).output_dir).alerts)
    assert list(table.kind) == ["low"]  # the forced rerun replaced its row, not added one
    assert again["webhook"] == "not sent: HTTP 500" and len(receiver.received) == 4  # 1 + 3 attempts


def test_an_excluded_observation_leaves_alerts_and_occurrence_until_withdrawn(
    demo_copy: Path, prefect_api: None
) -> None:
    import json

    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.flows import reprocess

    config = demo_copy / "config.yaml"
    _history(config)
    layout = OutputLayout(load_settings(config).output_dir)
    assert reprocess(aoi="kapchagay-dam", start=DAY, end=DAY, products=["water"], config=str(config))[
        "alerts"
    ]
    occurrence = layout.item("occurrence", "kapchagay-dam", dt.date(DAY.year, 1, 1))

    def exclude(*args: str) -> None:
        result = CliRunner().invoke(
            app, ["exclude", "--date", DAY.isoformat(), "--config", str(config), *args]
        )
        assert result.exit_code == 0, result.output

    def row() -> pd.Series:
        table = pd.read_parquet(layout.water_areas)
        return table[(table.water_body == "kapchagay") & (table.date == DAY.isoformat())].iloc[0]

    exclude("--water-body", "kapchagay", "--reason", "sun glint on the dam", "--by", "a.analyst")
    assert (
        not row().usable
        and row().excluded
        and "a.analyst" in row().exclusion
        and "sun glint" in row().exclusion
    )
    assert pd.read_parquet(layout.alerts).empty  # the alert raised on it is withdrawn
    again = reprocess(
        aoi="kapchagay-dam", start=DAY, end=DAY, products=["water"], config=str(config), force=True
    )
    assert again["alerts"] == [] and row().excluded  # reprocessing does not bring it back
    assert DAY.isoformat() in json.loads(occurrence.read_text())["properties"]["sensing:dates"]

    exclude("--water-body", "all", "--reason", "geolocation error", "--by", "a.analyst")
    assert DAY.isoformat() not in json.loads(occurrence.read_text())["properties"]["sensing:dates"]
    exclusions = pd.read_csv(layout.exclusions.with_suffix(".csv"), encoding="utf-8-sig")
    assert list(exclusions.by) == ["a.analyst", "a.analyst"] and exclusions.recorded_at.notna().all()

    exclude("--water-body", "all", "--reason", "geolocation checked: fine", "--withdraw")
    exclude("--water-body", "kapchagay", "--reason", "glint was a misreading", "--withdraw")
    assert row().usable and not row().excluded
    assert DAY.isoformat() in json.loads(occurrence.read_text())["properties"]["sensing:dates"]
    assert not pd.read_parquet(layout.exclusions).active.any()  # withdrawn, kept on record


def test_failures_are_posted_to_the_failure_webhook(demo_copy: Path, prefect_api: None) -> None:
    from prefect.states import State

    from pipelines.flows import reprocess
    from sensing.errors import ConfigError

    config = demo_copy / "config.yaml"
    receiver = Receiver()
    broken = next(demo_copy.rglob("S2A_43TGJ_20210801_0_L2A/B03.tif"))
    broken.write_bytes(broken.read_bytes()[:5000])  # a truncated download
    with serve_asgi(receiver.app) as url:
        doc = yaml.safe_load(config.read_text())
        doc["alerts"] = {"failure_webhook_url": f"{url}/hook"}
        config.write_text(yaml.safe_dump(doc))
        summary = reprocess(aoi="kapchagay-dam", start=DAY, end=DAY, products=["water"], config=str(config))
        state: State = reprocess(
            aoi="kapchagay-dam", start=DAY, end=DAY, products=["lai"], config=str(config), return_state=True
        )
    assert summary["failure_webhook"] == "sent"
    scenes, run = receiver.received
    assert scenes["event"] == "scenes-failed" and scenes["aoi"] == "kapchagay-dam"
    assert (
        scenes["failed"][0]["scene"] == "S2A_43TGJ_20210801_0_L2A"
        and "B03.tif" in scenes["failed"][0]["reason"]
    )
    assert state.is_failed() and isinstance(state.result(raise_on_failure=False), ConfigError)
    assert run["event"] == "flow-run-failed" and run["flow"] == "reprocess" and "lai" in run["message"]
    assert run["parameters"]["products"] == ["lai"]
