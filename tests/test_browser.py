"""The operator pages in a real browser: headless Chromium (Debian's package) driven by Playwright.

Chromium resolves *.localhost to loopback itself, so the pages are visited at their real URLs.
"""
import os
import shutil
import time

import pyotp
import pytest

from vectis.credentials.passwords import hash_password

from .conftest import tenant_of
from .support.rpc import rpc

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery staple"

if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium (scripts/test does)")
    pytest.skip("no Chromium here (scripts/test installs it)", allow_module_level=True)

playwright_api = pytest.importorskip("playwright.async_api")


@pytest.fixture
async def browser():
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def operator(live_server):
    storage = live_server.storage
    await storage.tenants.create("acme", "Acme IT")
    await storage.users.create("acme", "alex@acme.example", "Alex Morgan", "technician", hash_password(PASSWORD))
    return live_server


async def test_sign_in_enroll_mfa_issue_copy_use_elevate_and_revoke_a_token(operator, browser, http, tmp_path):
    origin = operator.url("acme", "").rstrip("/")
    context = await browser.new_context()
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    page = await context.new_page()

    await page.goto(origin + "/account/mcp")
    assert page.url.startswith(origin + "/signin")
    await page.fill("input[name=email]", "alex@acme.example")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(origin + "/account/mcp")
    assert "MCP access" in await page.text_content("h1")

    # Enroll TOTP, reading the secret off the page as a person would type it into an app.
    await page.goto(origin + "/account/mfa")
    assert await page.locator("#mfa-qr svg").count() == 1
    secret = (await page.text_content("#mfa-secret")).strip()
    totp = pyotp.TOTP(secret)
    await page.fill("form[action='/account/mfa/confirm'] input[name=code]", totp.now())
    await page.click("form[action='/account/mfa/confirm'] button[type=submit]")
    await page.wait_for_selector("#recovery-codes")
    assert await page.locator("#recovery-codes li").count() == 10
    await page.goto(origin + "/account/mcp")

    await page.fill("input[name=label]", "laptop")
    await page.check("input[name=scope][value='read:customers']")
    await page.click("form[action='/account/mcp/tokens'] button[type=submit]")
    await page.wait_for_selector("#token-value")
    shown = (await page.text_content("#token-value")).strip()
    assert shown.startswith("vct_pat_")
    page_text = await page.content()
    assert operator.url("acme", "/api/mcp") in page_text          # snippets carry the real URL
    assert "mcp-remote" in page_text and "Authorization" in page_text
    await page.click("button[data-copy='token-value']")
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == shown
    await page.screenshot(path=str(tmp_path / "token-issued.png"), full_page=True)

    url = operator.url("acme", "/api/mcp")
    status, data, _ = await rpc(http, url, copied, "tools/call", {"name": "list_customers", "arguments": {}})
    assert status == 200 and data["result"]["isError"] is False
    status, _, _ = await rpc(http, url, copied, "tools/call", {"name": "list_open_tickets", "arguments": {}})
    assert status == 403                                          # only the scope that was ticked

    await page.goto(origin + "/account/mcp")
    assert shown not in await page.content()                       # shown exactly once
    # Elevate with the next time step's code (the current one was spent on enrollment).
    next_code = totp.at(time.time() + totp.interval)
    await page.fill("form[action='/account/mcp/elevate'] input[name=code]", next_code)
    await page.click("form[action='/account/mcp/elevate'] button[type=submit]")
    await page.wait_for_load_state()
    principal = await operator.services.authenticator.authenticate(await tenant_of(operator.services, "acme"), f"Bearer {copied}")
    assert principal.elevated()
    await page.goto(origin + "/account/mcp")
    await page.click("form[action='/account/mcp/revoke'] button[type=submit]")
    await page.wait_for_load_state()
    assert "revoked" in (await page.content()).lower()
    status, _, _ = await rpc(http, url, copied, "ping")
    assert status == 401
    await context.close()
