"""Headless Chromium (Debian's package) driven by Playwright, for the tests that look at pages.

A module that needs it calls `require_chromium()` at import: where Chromium is missing the
module is skipped, except on CI, which must have it (scripts/test installs it). Screenshots go to
docs/screenshots/, which docs/operator-pages.md shows.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
PASSWORD = "correct horse battery staple"   # the acme_technician fixture's (tests/conftest.py)


def require_chromium():
    """Playwright's async API, or a skip of the calling module when there is no Chromium."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            raise RuntimeError("CI must install Debian's chromium (scripts/test does)")
        pytest.skip("no Chromium here (scripts/test installs it)", allow_module_level=True)
    return pytest.importorskip("playwright.async_api")


@contextlib.asynccontextmanager
async def chromium():
    api = require_chromium()
    async with api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def screenshot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / name), full_page=True)
