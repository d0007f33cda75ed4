"""Headless Chromium for the web pages' tests and benches: Debian's ``chromium`` driven by its
``chromium-driver`` through Selenium (a ``dev`` dependency), with a fresh profile and nothing
fetched from the network.

Layer: testing (imports nothing of the project; Selenium is imported when a browser starts).
"""

from __future__ import annotations

import os
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def chromium_missing() -> list[str]:
    """The browser's executables that are not installed (scripts/dev.sh installs them)."""
    return [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]


def start_chromium(profile_dir: str, *, window: tuple[int, int] = (1280, 900)) -> Any:
    """A Selenium ``WebDriver`` on a new headless Chromium whose profile is ``profile_dir``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--window-size={window[0]},{window[1]}", f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
