"""The operator pages in a real browser: headless Chromium (Debian's package) driven by Playwright.

Chromium resolves *.localhost to loopback itself, so the pages are visited at their real URLs.
Saves docs/screenshots/signin.png, mfa.png and token-issued.png (this run's throwaway key and token).
"""
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pyotp

from vectis.scopes import READ_SCOPES

from .conftest import tenant_of
from .support.browser import PASSWORD, SHOTS, VIEWPORT, require_chromium
from .support.rpc import rpc

require_chromium()


async def test_sign_in_enroll_mfa_issue_copy_use_elevate_and_revoke_a_token(acme_technician, browser, http):
    operator = acme_technician
    SHOTS.mkdir(parents=True, exist_ok=True)
    origin = operator.url("acme", "").rstrip("/")
    context = await browser.new_context(viewport=VIEWPORT)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    page = await context.new_page()

    await page.goto(origin + "/account/mcp")
    assert page.url.startswith(origin + "/signin")
    await page.screenshot(path=str(SHOTS / "signin.png"), full_page=True)
    bar = (await page.locator("header").bounding_box())["height"]
    await page.fill("input[name=email]", "alex@acme.example")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(origin + "/account/mcp")
    assert "MCP access" in await page.text_content("h1")
    assert abs((await page.locator("header").bounding_box())["height"] - bar) < 1   # no jump at sign-in

    # Enroll TOTP, reading the secret off the page as a person would type it into an app.
    await page.goto(origin + "/account/mfa")
    assert await page.locator("#mfa-qr svg").count() == 1
    secret = (await page.text_content("#mfa-secret")).strip()
    totp = pyotp.TOTP(secret)
    await page.screenshot(path=str(SHOTS / "mfa.png"), full_page=True)   # this test's throwaway key
    await page.fill("form[action='/account/mfa/confirm'] input[name=code]", totp.now())
    await page.click("form[action='/account/mfa/confirm'] button[type=submit]")
    await page.wait_for_selector("#recovery-codes")
    assert await page.locator("#recovery-codes li").count() == 10
    await page.goto(origin + "/account/mcp")

    await page.fill("input[name=label]", "laptop")
    # Custom starts from the read-only preset's boxes: keep only read:customers.
    await page.check("input[name=preset][value=custom]")
    for scope in READ_SCOPES[1:]:
        await page.uncheck(f"input[name=scope][value='{scope}']")
    assert READ_SCOPES[0] == "read:customers" and await page.is_checked("input[name=scope][value='read:customers']")
    await page.click("#generate-token")
    await page.wait_for_selector("#token-value")
    shown = (await page.text_content("#token-value")).strip()
    assert shown.startswith("vct_pat_")
    page_text = await page.content()
    assert operator.url("acme", "/api/mcp") in page_text          # snippets carry the real URL
    assert "mcp-remote" in page_text and "Authorization" in page_text
    await page.click("button[data-copy='token-value']")
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == shown
    await page.screenshot(path=str(SHOTS / "token-issued.png"), full_page=True)   # this test's token

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


async def test_restricted_operator_token_and_consent_pages_show_and_keep_the_limit(live_server, browser, http):
    from datetime import UTC, datetime

    from vectis.demo.generator import demo_operators
    from vectis.demo.seed import seed_tenant

    from .oauth.flow import REDIRECT, authorize_params, exchange, pkce, register

    storage = live_server.storage
    email = next(o.email for o in demo_operators("acme") if o.role == "technician")
    await seed_tenant(storage, "acme", "Acme IT", passwords={email: PASSWORD}, customers=12,
                      tickets_per_customer=1, now=datetime.now(UTC))
    names = {d["_id"]: d["name"] for d in
             await storage.db.tenant("acme")["customers"].find({}, {"name": 1}).to_list()}
    mine = sorted(names)[:3]
    user = await storage.users.by_email("acme", email)
    await storage.users.set_customers("acme", user["_id"], frozenset(mine))
    url = live_server.url("acme", "/api/mcp")

    async def customers_seen(token: str) -> set[str]:
        status, data, _ = await rpc(http, url, token, "tools/call",
                                    {"name": "list_customers", "arguments": {"limit": 100}})
        assert status == 200 and data["result"]["isError"] is False, data
        return {c["id"] for c in data["result"]["structuredContent"]["items"]}

    origin = live_server.url("acme", "").rstrip("/")
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(origin + "/account/mcp")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(origin + "/account/mcp")
    limit = await page.text_content("#account-customers")
    assert all(names[c] in limit for c in mine) and "only these 3 customers" in limit.lower()
    assert await page.locator("input[name=customer]").count() == 3
    assert await page.locator("a[href='/rules']").count() == 0

    # Filter the picker by typing (the script), tick one customer: "Only these customers" follows.
    chosen = mine[1]
    await page.fill("#customer-filter", names[chosen][:6].lower())
    assert await page.locator(f"input[name=customer][value='{chosen}']").is_visible()
    await page.check(f"input[name=customer][value='{chosen}']")
    assert await page.is_checked("input[name=customer_mode][value=only]")
    await page.fill("input[name=label]", "contractor")
    await page.check("input[name=scope][value='read:customers']")
    await page.click("#generate-token")
    await page.wait_for_selector("#token-value")
    assert f"only the customer {names[chosen]} ({chosen})" in await page.text_content("#token-customers")
    token = (await page.text_content("#token-value")).strip()
    assert await customers_seen(token) == {chosen}
    await page.goto(origin + "/account/mcp")
    assert names[chosen] in await page.text_content("td.reach")

    # The consent page says what an app will see, and the app's token sees exactly that.
    client = await register(http, live_server, "acme")
    verifier, challenge = pkce()
    params = authorize_params(live_server, client, challenge, scope="read:customers")
    codes = []

    async def client_callback(route):
        codes.append(route.request.url)
        await route.fulfill(status=200, body="connected")

    await page.route(REDIRECT + "*", client_callback)
    await page.goto(origin + "/oauth/authorize?" + urlencode(params))
    shown = await page.text_content("#consent-customers")
    assert all(names[c] in shown for c in mine) and "Only these 3 customers" in shown
    assert "limited to 3 customers" in await page.text_content("#consent-limit")
    await page.click("#approve")
    await page.wait_for_url(REDIRECT + "*")
    code = parse_qs(urlsplit(codes[0]).query)["code"][0]
    answer = await exchange(http, live_server, client, code, verifier)
    assert answer.status == 200, answer
    assert await customers_seen(answer.body["access_token"]) == set(mine)
    await page.goto(origin + "/account/mcp")
    connected = await page.text_content("#connected-apps td.reach")
    assert all(names[c] in connected for c in mine)
    await context.close()
