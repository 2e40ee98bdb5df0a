"""/account/approvals in a real browser (Debian's Chromium through Playwright, as tests/test_browser.py):
an operator follows the approval URL a tool answered, approves one write and rejects another.
Saves docs/screenshots/approvals.png (one write pending, one decided) for docs/operator-pages.md."""
from __future__ import annotations

from ..support.browser import VIEWPORT, chromium, require_chromium, screenshot
from ..support.pages import PASSWORD, create_operator
from ..support.rpc import structured
from .conftest import open_ticket
from .test_approvals import set_policy, vendor_writes

require_chromium()

ADMIN = "approver@abrowser.example"


async def test_an_operator_approves_one_write_and_rejects_another(make_vendor_tenant, http):
    tenant = await make_vendor_tenant("abrowser", ("connectwise", "ninjaone", "datto_bcdr"))
    await set_policy(tenant, "customer_visible")
    await create_operator(tenant.server.storage, tenant.slug, ADMIN, "admin")
    ticket = await open_ticket(tenant)
    sim = tenant.sim("psa")
    queued = [await structured(http, tenant.url, tenant.token, "reply_to_ticket",
                               {"ticket_id": ticket["_id"], "body": body})
              for body in ("The new switch is in.", "Please reboot everything.")]
    send, drop = (q["approval_id"] for q in queued)
    before = vendor_writes(sim)

    async with chromium() as browser:
        page = await browser.new_page(viewport=VIEWPORT)
        await page.goto(queued[0]["approval_url"])              # what the AI client shows its user
        await page.fill("input[name=email]", ADMIN)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector(f"article#{send}")
        assert "The new switch is in." in await page.text_content(f"article#{send} ol.plan")

        await page.click(f"article#{send} form.approve button")
        await page.wait_for_selector("#decision-notice")
        assert "Approved by you and sent to" in await page.text_content("#decision-notice")
        assert await page.locator(f"article#{send}").count() == 0
        assert "succeeded" in await page.text_content(f"tr#{send}")
        assert vendor_writes(sim) == before + 1
        await screenshot(page, "approvals.png")

        await page.fill(f"article#{drop} input[name=reason]", "Too broad.")
        await page.click(f"article#{drop} form.reject button")
        await page.wait_for_selector(f"tr#{drop}")
        assert "Rejected by you; nothing was sent. Reason: Too broad." in await page.text_content("#decision-notice")
        assert await page.locator("#nothing-pending").count() == 1
    assert vendor_writes(sim) == before + 1
    statuses = {doc["_id"]: doc["status"] for doc in await tenant.db["approvals"].find({}).to_list()}
    assert statuses == {send: "succeeded", drop: "rejected"}
