"""The install flow in a real browser: headless Chromium through selenium.

Two workspaces install the app the way a person does: open the install page,
click "Add to Slack", approve on (mock) Slack, land on the success page. Each
page we serve is checked at a laptop's 1280 px and a phone's 390 px width
(no horizontal overflow, the main button fully visible) and screenshotted into
the test's tmp dir. Then each workspace's signed requests are answered with its
own token, and uninstalling one pauses only its digests.

Skipped only when no Chromium or chromedriver is installed (Debian:
``apt-get install chromium chromium-driver``; ``.ci/run`` installs them).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from bot.state.db import make_engine
from tests.support.app_server import RunningApp, running_app
from tests.support.installs import (
    TOKENS,
    answered,
    command,
    event,
    oauth_env,
    paused_by_team,
)
from tests.support.mock_slack import MockSlack
from tests.support.polling import eventually

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WIDTHS = (1280, 390)

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="no browser: install Debian's chromium and chromium-driver to run this test",
)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield browser
    finally:
        browser.quit()


def check_layout(driver: webdriver.Chrome, name: str, shots: Path, button_id: str) -> None:
    """At each width: nothing wider than the viewport, the button inside it; a screenshot."""
    for width in WIDTHS:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        metrics: dict[str, Any] = driver.execute_script(
            "const b = document.getElementById(arguments[0]).getBoundingClientRect();"
            "return {inner: window.innerWidth, scroll: document.documentElement.scrollWidth,"
            " left: b.left, right: b.right, height: b.height};",
            button_id,
        )
        assert metrics["inner"] == width, metrics
        assert metrics["scroll"] <= width, f"{name} overflows at {width}px: {metrics}"
        assert metrics["left"] >= 0 and metrics["right"] <= width, (name, width, metrics)
        assert metrics["height"] >= 40, f"{name}: button too small to tap at {width}px"
        driver.save_screenshot(str(shots / f"{name}-{width}.png"))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def wait_for(driver: webdriver.Chrome, element_id: str) -> Any:
    return WebDriverWait(driver, 10).until(
        expected_conditions.presence_of_element_located((By.ID, element_id))
    )


def test_two_workspaces_install_in_a_browser_and_are_kept_apart(
    driver: webdriver.Chrome, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    database_url = f"sqlite:///{tmp_path / 'browser.sqlite3'}"
    with (
        MockSlack() as mock,
        running_app(
            mock.base_url,
            database_url,
            tmp_path_factory.mktemp("log"),
            workers=1,
            **oauth_env(mock),
        ) as app,
    ):
        for team_id, token in TOKENS.items():
            mock.add_workspace(team_id, f"Workspace {team_id}", token)
        mock.redirect_uri = f"{app.url}/slack/oauth_redirect"

        # A person who changes their mind gets the "cancelled" page, which must look right too.
        driver.get(app.url + "/")
        wait_for(driver, "add-to-slack")
        check_layout(driver, "install", tmp_path, "add-to-slack")
        driver.find_element(By.ID, "add-to-slack").click()
        wait_for(driver, "cancel").click()
        assert (
            "Installation cancelled"
            in wait_for(driver, "start-again").find_element(By.XPATH, "preceding::h1").text
        )
        check_layout(driver, "cancelled", tmp_path, "start-again")

        for team_id in TOKENS:
            driver.get(app.url + "/")
            wait_for(driver, "add-to-slack").click()
            wait_for(driver, f"allow-{team_id}").click()
            wait_for(driver, "open-slack")
            heading = driver.find_element(By.TAG_NAME, "h1").text
            assert heading == "AI Race Bot is installed"
            assert f"Workspace {team_id}" in driver.find_element(By.TAG_NAME, "p").text
            check_layout(driver, f"success-{team_id}", tmp_path, "open-slack")

        _each_team_answered_with_its_own_token(app, mock)
        assert event(app, "T1", {"type": "app_uninstalled"}, "EvBrowserUninstall") == 200
        engine = make_engine(database_url)
        try:
            expected = {"T1": "app_uninstalled", "T2": None}
            assert eventually(lambda: paused_by_team(engine) == expected)
        finally:
            engine.dispose()
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(
        f"{page}-{w}.png"
        for page in ("install", "cancelled", "success-T1", "success-T2")
        for w in WIDTHS
    )


def _each_team_answered_with_its_own_token(app: RunningApp, mock: MockSlack) -> None:
    for team_id, token in TOKENS.items():
        mock.reset()
        _, ack, key = command(app, mock, team_id, "digest on 08:30 daily")
        assert ack == b"" and "08:30" in str(answered(mock, key))
        assert [c.headers["authorization"] for c in mock.calls_to("users.info")] == [
            f"Bearer {token}"
        ]
        mention = {
            "type": "app_mention",
            "user": "U123",
            "channel": "C9",
            "text": "<@UBOT> distillation",
            "ts": f"{time.time():.6f}",
        }
        assert event(app, team_id, mention, f"EvBrowser{team_id}") == 200
        posted = mock.wait_for("chat.postMessage")
        assert [c.headers["authorization"] for c in posted] == [f"Bearer {token}"]
