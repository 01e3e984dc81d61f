"""The viewer in headless Chromium (Debian's, driven by Playwright; no browser download): tiles render,
the date slider changes them, the charts draw, the interface speaks Kazakh, Russian and English, no
console error and no request leaves the machine. Screenshots are kept in build/test-artifacts/."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sensing.config import Settings
from sensing.serve.app import create_app
from tests.servers import serve_asgi

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
MAP_BACKGROUND = (232, 228, 218)


@pytest.fixture(scope="module")
def viewer(nightly_run: tuple[Settings, dict]) -> Iterator[tuple[object, str, list[str], list[str]]]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    settings, _ = nightly_run
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serve_asgi(create_app(settings.output_dir)) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 800}, locale="en-US")
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"{base}/")
        page.wait_for_function("document.querySelectorAll('.leaflet-tile-loaded').length > 0", timeout=30_000)
        page.wait_for_load_state("networkidle")
        yield page, base, errors, requests
        browser.close()


def _map_pixels(page: object, name: str) -> np.ndarray:
    shot = page.locator("#map").screenshot()  # type: ignore[attr-defined]
    (ARTIFACTS / name).write_bytes(shot)
    return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))


def test_tiles_render_and_the_date_slider_changes_them(viewer: tuple) -> None:
    page, _, errors, _ = viewer
    first = _map_pixels(page, "viewer-latest.png")
    painted = np.any(np.abs(first.astype(int) - MAP_BACKGROUND) > 8, axis=2)
    assert painted.mean() > 0.2  # the water layer covers a good part of the view
    assert page.locator("#legend .row").count() >= 3
    # Slide back to the first winter date: the frozen reservoir is drawn in the ice colour.
    for index in range(int(page.get_attribute("#date", "max") or 0), -1, -1):
        page.eval_on_selector(
            "#date", f"el => {{ el.value = '{index}'; el.dispatchEvent(new Event('input')); }}"
        )
        page.wait_for_function(f"document.getElementById('date-label').textContent !== '' && "
                               f"document.getElementById('date').value === '{index}'")  # fmt: skip
        if page.locator("#date-label").inner_text()[5:7] in ("01", "02"):
            break
    page.wait_for_load_state("networkidle")
    for _ in range(30):  # Leaflet fades the new tiles in; a busy machine takes longer
        page.wait_for_timeout(500)
        winter = _map_pixels(page, "viewer-winter.png")
        if np.mean(np.any(first != winter, axis=2)) > 0.05:
            break
    assert np.mean(np.any(first != winter, axis=2)) > 0.05
    assert not errors, errors


def test_charts_draw_and_a_click_gives_the_pixels_series(viewer: tuple) -> None:
    page, _, errors, _ = viewer
    page.wait_for_function("document.querySelectorAll('#chart circle').length > 0", timeout=15_000)
    assert page.locator("#chart circle").count() >= 10
    assert page.locator("#chart rect.observed").count() >= 1  # cloudy dates: seen area below the filled one
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.5)
    page.wait_for_function("document.querySelectorAll('#pixel-chart circle').length > 0", timeout=15_000)
    assert page.locator("#pixel-value").inner_text()
    page.locator("#panel").screenshot(path=str(ARTIFACTS / "viewer-panel.png"))
    assert not errors, errors


def test_the_interface_speaks_kazakh_russian_and_english(viewer: tuple) -> None:
    page, _, errors, _ = viewer
    for lang, title in [
        ("kk", "Су нысандарының мониторингі"),
        ("ru", "Мониторинг водных объектов"),
        ("en", "Water monitoring"),
    ]:
        page.select_option("#ui-lang", lang)
        assert page.locator("h1").inner_text() == title
        assert page.evaluate("document.documentElement.lang") == lang
    page.select_option("#ui-lang", "kk")
    assert "Қапшағай" in page.locator("#body").inner_text()
    assert not errors, errors


def test_downloads_point_at_this_servers_files_and_nothing_leaves_the_machine(viewer: tuple) -> None:
    page, base, errors, requests = viewer
    cog = page.locator("#dl-cog").get_attribute("href")
    item = page.locator("#dl-item").get_attribute("href")
    assert cog and cog.startswith(base) and cog.endswith("/cog.tif")
    assert item and item.endswith("/item.json")
    assert page.request.get(cog).body()[:4] in (b"II*\x00", b"MM\x00*")
    assert page.request.get(item).json()["type"] == "Feature"
    csv = page.request.get(f"{base}/tables/water_areas.csv").body()
    assert csv.startswith("\ufeff".encode())
    assert requests and all(url.startswith((base, "data:")) for url in requests), [
        u for u in requests if not u.startswith(base)
    ]
    assert not errors, errors
