"""The token page, the consent page and the rule form in a real browser (Debian's Chromium through
Playwright): each checkbox on one row with its label, read-only preselected so the first Generate
works, the rule form's problems all at once, and a rule written in the form firing on a simulated
vendor event. Saves the screenshots docs/operator-pages.md shows (docs/screenshots/)."""
import json
import secrets
from datetime import UTC, datetime
from urllib.parse import urlencode

from vectis.rules.definitions import plan_rules
from vectis.scopes import ALL_SCOPES, READ_SCOPES, SCOPE_DESCRIPTIONS

from .support.browser import PASSWORD, SHOTS, VIEWPORT, require_chromium
from .support.rpc import rpc
from .test_operator_rules_form import BAD

require_chromium()


async def sign_in(page, origin: str, email: str, path: str = "/account/mcp") -> None:
    await page.goto(origin + path)
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(origin + path)


async def assert_beside(page, label_selector: str, text_selector: str) -> int:
    """Each box of `label_selector` sits left of its label's first words, on the same row: its
    vertical middle within the words' line box. Returns how many were checked."""
    labels = page.locator(label_selector)
    count = await labels.count()
    assert count
    for i in range(count):
        label = labels.nth(i)
        box = await label.locator("input").bounding_box()
        words = await label.locator(text_selector).first.bounding_box()
        assert box and words, (label_selector, i)
        middle = box["y"] + box["height"] / 2
        assert words["y"] <= middle <= words["y"] + words["height"], (await label.inner_text(), box, words)
        assert box["x"] + box["width"] <= words["x"] < box["x"] + box["width"] + 20, (box, words)
        # One row per scope: the label is no taller than two lines of text (a wrapped sentence).
        assert (await label.bounding_box())["height"] < 3 * words["height"]
    return count


async def test_token_page_presets_layout_and_the_consent_page(acme_technician, browser, http):
    operator = acme_technician
    SHOTS.mkdir(parents=True, exist_ok=True)
    origin = operator.url("acme", "").rstrip("/")
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    await sign_in(page, origin, "alex@acme.example")

    # Read-only is chosen and the boxes are out of the way; Generate works at once.
    assert await page.is_checked("input[name=preset][value=read]")
    assert not await page.is_visible("#scope-boxes")
    await assert_beside(page, "#scopes .presets label.option", "strong")
    await page.fill("input[name=label]", "Claude Desktop")
    await page.click("#generate-token")
    await page.wait_for_selector("#token-value")
    token = (await page.text_content("#token-value")).strip()
    url = operator.url("acme", "/api/mcp")
    for _ in range(2):
        status, _, _ = await rpc(http, url, token, "tools/call", {"name": "list_customers", "arguments": {}},
                                 headers={"User-Agent": "Claude-User/1.0 (mcp-remote)"})
        assert status == 200
    status, _, _ = await rpc(http, url, token, "tools/call", {"name": "list_open_tickets", "arguments": {}})
    assert status == 200                                   # read-only includes every read scope
    user = await operator.storage.users.by_email("acme", "alex@acme.example")
    [pat] = await operator.storage.pats.for_user("acme", user["_id"])
    assert pat["scopes"] == list(READ_SCOPES)
    await operator.services.authenticator.drain()
    await operator.services.audit.flush()

    # Custom reveals the boxes, starting from what the preset meant; each box beside its scope.
    await page.goto(origin + "/account/mcp")
    await page.check("input[name=preset][value=custom]")
    assert await page.is_visible("#scope-boxes")
    checked = [s for s in ALL_SCOPES if await page.is_checked(f"input[name=scope][value='{s}']")]
    assert checked == list(READ_SCOPES)
    assert await assert_beside(page, "#scope-boxes label.scope", "code") == len(ALL_SCOPES)
    for scope in ALL_SCOPES:
        assert SCOPE_DESCRIPTIONS[scope] in await page.inner_text(
            f"label.scope:has(input[value='{scope}'])")
    # Ticking a box means custom; choosing a preset again hides the boxes.
    await page.check("input[name=preset][value=write]")
    assert not await page.is_visible("#scope-boxes")
    await page.check("input[name=preset][value=custom]")
    await page.uncheck("input[name=scope][value='run:rules']")
    assert await page.is_checked("input[name=preset][value=custom]")
    row = await page.inner_text(f"#token-{pat['_id']}")
    assert "Claude-User/1.0 (mcp-remote)" in row
    assert await page.inner_text(f"#token-{pat['_id']} a.calls") == "3 calls in 7 days"
    assert await page.get_attribute(f"#token-{pat['_id']} a.calls", "href") == \
        f"/account/activity?credential={pat['_id']}"
    await page.screenshot(path=str(SHOTS / "tokens.png"), full_page=True)

    # The consent page: the same sentences, each box beside its scope.
    from .oauth.flow import authorize_params, pkce, register
    client = await register(http, operator, "acme", client_name="Claude")
    _, challenge = pkce()
    params = authorize_params(operator, client, challenge, scope="read:tickets read:alerts write:notes")
    await page.goto(origin + "/oauth/authorize?" + urlencode(params))
    assert await assert_beside(page, "#consent label.scope", "code") == 3
    assert SCOPE_DESCRIPTIONS["write:notes"] in await page.inner_text("#consent")
    await page.screenshot(path=str(SHOTS / "consent.png"), full_page=True)
    await context.close()


async def test_rule_written_in_the_form_fires_on_a_simulated_vendor_event(live_server, browser):
    from vectis.demo.generator import demo_operators
    from vectis.demo.rules import seed_demo_rules
    from vectis.demo.seed import seed_tenant
    from vectis.rules.matching import enqueue_for_new_events
    from vectis.rules.worker import RuleWorker
    from vectis.runtime import start_demo_vendors
    from vectis.vendors.base import TicketDraft

    SHOTS.mkdir(parents=True, exist_ok=True)
    storage, services = live_server.storage, live_server.services
    admin = next(o.email for o in demo_operators("acme") if o.role == "admin")
    await seed_tenant(storage, "acme", "Acme IT", passwords={admin: PASSWORD}, customers=4,
                      tickets_per_customer=1, now=datetime.now(UTC))
    await seed_demo_rules(storage, "acme")            # the page as a demo tenant shows it
    fleet = await start_demo_vendors(storage, services, ["acme"])
    await fleet.activity.stop()                        # only this test's ticket, not the demo's
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        psa = next(s for s in await storage.sources.list("acme") if s["kind"] == "psa")
        await services.sync.sync_source("acme", psa["_id"])             # baseline
        await enqueue_for_new_events(storage, "acme")
        before = {r["_id"] for r in await storage.rules.all("acme")}
        origin = live_server.url("acme", "").rstrip("/")
        page = await context.new_page()
        await sign_in(page, origin, admin, "/rules")
        await page.click("#new-rule")
        await page.wait_for_url(origin + "/rules/edit")
        template = json.loads(await page.input_value("#definition"))
        assert template["name"] == "" and template["enabled"] is False

        # Every problem at once, next to the form, and nothing saved.
        await page.fill("#definition", json.dumps(BAD, indent=2))
        await page.click("#save-rule")
        await page.wait_for_selector("#rule-problems")
        _, expected = plan_rules([BAD], [], labelled=False)
        shown = await page.locator("#rule-problems li").all_inner_texts()
        assert shown == expected and len(shown) >= 7
        problems, form = (await page.locator("#rule-problems").bounding_box(),
                          await page.locator("#definition").bounding_box())
        assert problems["x"] >= form["x"] + form["width"] and problems["y"] < form["y"] + form["height"]
        assert json.loads(await page.input_value("#definition")) == BAD
        await page.screenshot(path=str(SHOTS / "rule-form.png"), full_page=True)
        assert {r["_id"] for r in await storage.rules.all("acme")} == before

        marker = "Label printer jammed " + secrets.token_hex(3)
        rule = {"name": "Label printer: note", "description": "Written in the browser test.",
                "enabled": True,
                "trigger": {"event": "ticket.created",
                            "conditions": [{"field": "ticket.subject", "op": "contains", "value": marker}]},
                "actions": [{"verb": "add_internal_note",
                             "params": {"ticket_id": "{{ticket.id}}",
                                        "body": "Check the label printer's queue for {{customer.name}}."}}],
                "cooldown_seconds": 0}
        await page.fill("#definition", json.dumps(rule, indent=2))
        await page.click("#save-rule")
        await page.wait_for_url(origin + "/rules?done=created*")
        [created] = [r for r in await storage.rules.all("acme") if r["_id"] not in before]
        owner = await storage.users.by_email("acme", admin)
        assert created["owner_user_id"] == owner["_id"] and created["name"] == rule["name"]
        assert "Rule created." in await page.inner_text("main")
        assert rule["name"] in await page.inner_text(f"#rule-{created['_id']}")

        # A ticket opened at the vendor (the PSA simulator), then a sync: the rule fires.
        companies = sorted(await storage.sync.source_external_ids("acme", "customers", psa["_id"]))
        _, connector = await services.connections.connector("acme", psa["_id"])
        await connector.perform("create_ticket", TicketDraft(
            company_ref=companies[0], subject=marker, description="Opened at the vendor.",
            priority="low"))
        await services.sync.sync_source("acme", psa["_id"])
        await enqueue_for_new_events(storage, "acme")
        executions = storage.db.tenant("acme")["rule_executions"]
        [execution] = await executions.find({"rule_id": created["_id"]}).to_list()
        assert execution["event"]["type"] == "ticket.created"
        ran = await RuleWorker(storage, services.writes).run_next("acme")
        assert ran["_id"] == execution["_id"] and ran["status"] == "succeeded", ran.get("last_error")
        await page.goto(origin + "/rules")
        assert "succeeded" in await page.inner_text(f"#execution-{execution['_id']}")
        await page.screenshot(path=str(SHOTS / "rules.png"), full_page=True)
    finally:
        await context.close()
        await fleet.stop()
