"""/account/activity in a real browser (Debian's Chromium through Playwright, as tests/test_browser.py):
after real MCP calls of two operators' tokens (a replayed write, calls denied by MFA and by scope),
an admin reads the rows, filters them with the form and opens a call; a technician sees only their
own calls. Saves the screenshots docs/operator-pages.md shows (docs/screenshots/activity*.png)."""
from __future__ import annotations

from ..support.browser import VIEWPORT, chromium, require_chromium, screenshot
from ..support.pages import PASSWORD
from .test_activity_page import ADMIN, LONG_BODY, TECH, make_activity

require_chromium()


async def sign_in(page, url: str, email: str) -> None:
    await page.goto(url)                                  # the sign-in form, with next= this page
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("h1:text('Activity')")


async def outcomes(page) -> list[tuple[str, str]]:
    """(tool, outcome) per table row, as the browser renders them."""
    return [(await row.locator("td.tool").inner_text(), await row.locator("td.outcome").inner_text())
            for row in await page.locator("table#activity tbody tr").all()]


async def test_activity_page_rows_filters_detail_and_visibility(make_vendor_tenant, http):
    activity = await make_activity(make_vendor_tenant, http, "actbrowser")
    tenant = activity.tenant
    url = tenant.server.url(tenant.slug, "/account/activity")

    async with chromium() as browser:
        page = await browser.new_page(viewport=VIEWPORT)
        await sign_in(page, url, ADMIN)
        assert await outcomes(page) == [
            ("get_ticket", "success"), ("get_ticket", "error"), ("reply_to_ticket", "denied by scope"),
            ("close_ticket", "denied by MFA"), ("reply_to_ticket", "replayed"), ("reply_to_ticket", "success"),
            ("list_open_tickets", "success")]
        first = page.locator("table#activity tbody tr").first
        assert TECH in await first.locator("td.who").inner_text()
        assert "token “tech laptop”" in await first.locator("td.who").inner_text()
        last = page.locator("table#activity tbody tr").last
        assert "token “test”" in await last.locator("td.who").inner_text()
        # Layout: the table fits the page (no column pushed past the main column).
        table = await page.locator("table#activity").bounding_box()
        main = await page.locator("main").bounding_box()
        assert table["x"] + table["width"] <= main["x"] + main["width"] + 1
        await screenshot(page, "activity.png")

        # Filters through the form: a tool and an outcome, then an operator.
        await page.select_option("select[name=tool]", "reply_to_ticket")
        await page.select_option("select[name=outcome]", "replayed")
        await page.click("form#filters button[type=submit]")
        await page.wait_for_selector("select[name=outcome] option[value=replayed][selected]", state="attached")
        assert await outcomes(page) == [("reply_to_ticket", "replayed")]
        await page.click("form#filters a:text('Clear')")
        await page.select_option("select[name=operator]", label=TECH)
        await page.click("form#filters button[type=submit]")
        await page.wait_for_selector(f"select[name=operator] option[value={activity.tech_id}][selected]",
                                     state="attached")
        assert [t for t, _ in await outcomes(page)] == ["get_ticket", "get_ticket", "reply_to_ticket"]
        await page.fill("input[name=from]", "last week")
        await page.click("form#filters button[type=submit]")
        assert "is not a time for From" in await page.text_content("#filter-error")

        # A row opens its call: the write that went to the vendor, its long body cut.
        await page.goto(url + "?outcome=success&tool=reply_to_ticket")
        await page.click("table#activity tbody tr td.time a")
        await page.wait_for_selector("section#arguments pre")
        arguments = await page.text_content("section#arguments pre")
        assert LONG_BODY[:200] in arguments and f"[{len(LONG_BODY)} characters]" in arguments
        assert '"idempotency_key": "present"' in arguments
        assert "connectwise" in await page.text_content("section#result")
        await screenshot(page, "activity-detail.png")
        admin_row = page.url.rsplit("/", 1)[1]

        # A secret-looking argument, elided.
        await page.goto(url + "?outcome=error&tool=get_ticket")
        await page.click("table#activity tbody tr td.time a")
        await page.wait_for_selector("section#arguments pre")
        assert '"api_token": "[elided]"' in await page.text_content("section#arguments pre")
        await page.close()

        # The technician: their own calls only, and another's call is not there.
        tech = await browser.new_page(viewport=VIEWPORT)
        await sign_in(tech, url, TECH)
        assert [t for t, _ in await outcomes(tech)] == ["get_ticket", "get_ticket", "reply_to_ticket"]
        assert await tech.locator("select[name=operator]").count() == 0
        response = await tech.goto(url + "/" + admin_row)
        assert response.status == 404 and "There is nothing here." in await tech.text_content("main")

    views = await tenant.db["audit_log"].find({"action": "activity.viewed"}).to_list()
    by = {v["actor"]["email"] for v in views}
    assert by == {ADMIN, TECH} and len(views) >= 10
    assert {"tool": "reply_to_ticket", "outcome": "replayed"} in [v["detail"].get("filters") for v in views]
