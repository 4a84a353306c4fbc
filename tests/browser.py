"""Debian's Chromium for the browser tests, driven by Playwright; nothing is downloaded but the apt packages.

`ensure_chromium()` installs `chromium` and `chromium-driver` with apt when they are missing (the test
machine and CI start without them). Playwright only drives the browser (its own browser download does
not work here): `launch()` points it at /usr/bin/chromium with the flags that keep Chromium off the
closed network, and a fresh profile folder per launch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"


def ensure_chromium() -> str:
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None:
        raise RuntimeError("the browser tests need Debian's chromium and chromium-driver, and apt-get is missing")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = [*sudo, apt, "install", "-y", "-q", "--no-install-recommends", "chromium", "chromium-driver"]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:  # stale package lists
        subprocess.run([*sudo, apt, "update", "-q"], env=env, capture_output=True, check=False)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError("apt-get install chromium chromium-driver failed:\n"
                               f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return CHROMIUM


@contextmanager
def launch(viewport=(1600, 1000)) -> Iterator[object]:
    """A Playwright page in headless Debian Chromium with a fresh, throw-away profile."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="mhc-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=ensure_chromium(), args=FLAGS, headless=True,
                viewport={"width": viewport[0], "height": viewport[1]})
            context.set_default_timeout(60_000)
            try:
                yield context.new_page()
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
