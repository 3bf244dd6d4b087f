"""The live page in a real browser: headless Chromium (Debian's chromium and chromium-driver)
opens ``/``, sees a charge point connect, chooses it, sends a Reset from the form and sees the
response and the frames of that exchange. Skipped locally without Chromium (with the install
command); under CI=true a missing Chromium fails (.ci/run installs it)."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest
import trio

pytest.importorskip("hypercorn")
pytest.importorskip("selenium")

from helpers.central_http import central_system
from helpers.cluster_parts import Station
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import trio_ocpp

INSTALL = "apt-get install -y chromium chromium-driver"


def browser() -> Any:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        missing = pytest.fail if os.environ.get("CI") == "true" else pytest.skip
        missing(f"no headless Chromium: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


async def until(condition: Any, what: str) -> Any:
    """Poll the browser (in a thread: its calls block) until ``condition()`` is truthy."""
    with trio.fail_after(15):
        while not (found := await trio.to_thread.run_sync(condition)):
            await trio.sleep(0.1)
    return found


async def test_the_page_shows_a_charge_point_and_sends_it_a_reset() -> None:
    page = browser()
    try:
        async with central_system() as central:
            await trio.to_thread.run_sync(page.get, central.http + "/")

            def buttons() -> list[Any]:
                return page.find_elements(By.CSS_SELECTOR, "#charge-points button")

            assert await trio.to_thread.run_sync(buttons) == []
            async with trio_ocpp.connect(central.url, Station, identity="CP-PAGE") as cp:
                [button] = await until(buttons, "the charge point listed")
                assert button.text == "CP-PAGE"
                await trio.to_thread.run_sync(button.click)

                def form_ready() -> bool:
                    return bool(page.find_elements(By.CSS_SELECTOR, "#action option"))

                await until(form_ready, "the form")

                def send_reset() -> None:
                    Select(page.find_element(By.ID, "action")).select_by_value("Reset")
                    payload = page.find_element(By.ID, "payload").get_attribute("value")
                    assert '"type": "Immediate"' in payload  # the schema's skeleton
                    page.find_element(By.CSS_SELECTOR, "#send button").click()

                await trio.to_thread.run_sync(send_reset)

                def answered() -> str:
                    return str(page.find_element(By.ID, "status").text)

                assert await until(lambda: "HTTP" in answered(), "the response") and (
                    answered() == "HTTP 502"  # the station refuses resets: InternalError
                )
                response = await trio.to_thread.run_sync(
                    lambda: page.find_element(By.ID, "response").text
                )
                assert "InternalError" in response

                def frames() -> list[str]:
                    return [e.text for e in page.find_elements(By.CSS_SELECTOR, "#frames div")]

                shown = await until(
                    lambda: [f for f in frames() if "Reset" in f or "InternalError" in f],
                    "the frames",
                )
                assert any("-> [2," in f and '"Reset"' in f for f in shown), shown
                await until(lambda: any("<- [4," in f for f in frames()), "the CALLERROR")
                assert cp.received == ["Reset"]
    finally:
        await trio.to_thread.run_sync(page.quit)
