"""The /rules operator page: listing, the status filter, enable/disable, dead-letter replay, roles,
CSRF and tenant isolation, over HTTP against the live server."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vectis.ids import new_id
from vectis.rules.matching import new_execution

from .support.html import parse
from .support.http import client_session
from .support.pages import create_operator, form_fields, sign_in

ADMIN, READER = "ops@acme.example", "viewer@acme.example"
HOSTILE = "<script>alert(1)</script> disk"


async def add_rule(storage, slug: str, name: str, *, enabled: bool = True) -> dict:
    return await storage.rules.insert(slug, {
        "_id": new_id("rul"), "name": name, "description": "", "enabled": enabled,
        "trigger": {"event": "alert.created",
                    "conditions": [{"field": "alert.title", "op": "matches", "value": "(?i)disk"},
                                   {"field": "alert.severity", "op": "eq", "value": "critical"}]},
        "actions": [{"verb": "acknowledge_alert", "params": {"alert_id": "{{alert.id}}"}},
                    {"verb": "resolve_alert", "params": {"alert_id": "{{alert.id}}"}}],
        "cooldown_seconds": 300, "owner_user_id": None})


async def add_execution(storage, slug: str, rule: dict, status: str, *, minutes_ago: int = 0,
                        **extra) -> dict:
    now = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    execution = new_execution(rule, key=new_id("evt"), event=None, trigger="manual",
                              dry_run=status == "dry_run", now=now)
    execution.update(status=status, **extra)
    if status == "dead_letter":
        execution.update(attempts=5, last_error="action 1 (acknowledge_alert): HTTP 500 <b>oops</b>",
                         dead_lettered_at=now, finished_at=now)
    assert await storage.rules.insert_execution(slug, execution)
    return execution


@pytest.fixture
async def seeded(live_server):
    storage = live_server.storage
    await create_operator(storage, "acme", ADMIN, "admin")
    await create_operator(storage, "acme", READER, "readonly")
    disk = await add_rule(storage, "acme", HOSTILE)
    quiet = await add_rule(storage, "acme", "Quiet rule", enabled=False)
    executions = {
        "succeeded": await add_execution(storage, "acme", disk, "succeeded", minutes_ago=3),
        "dead_letter": await add_execution(storage, "acme", disk, "dead_letter", minutes_ago=2),
        "queued": await add_execution(storage, "acme", quiet, "queued", minutes_ago=1),
    }
    return {"disk": disk, "quiet": quiet, "executions": executions}


async def get_page(http, server, path: str = "/rules"):
    async with http.get(server.url("acme", path), allow_redirects=False) as resp:
        return resp.status, await resp.text()


async def post(http, server, path: str, fields: dict):
    async with http.post(server.url("acme", path), data=fields, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location"), await resp.text()


def rule_form(body: str, rule_id: str) -> dict:
    return next(dict(f.fields) for f in parse(body).forms
                if f.action == "/rules/toggle" and f.fields.get("rule_id") == rule_id)


async def test_signed_out_is_sent_to_signin(live_server, http, seeded):
    async with http.get(live_server.url("acme", "/rules?status=queued"), allow_redirects=False) as resp:
        assert resp.status == 303
        assert resp.headers["Location"] == "/signin?next=%2Frules%3Fstatus%3Dqueued"
        assert "Quiet rule" not in await resp.text()


async def test_lists_rules_and_executions_with_status_filter(live_server, http, seeded):
    assert (await sign_in(http, live_server, "acme", ADMIN))[0] == 303
    status, body = await get_page(http, live_server)
    assert status == 200
    page, ids = parse(body), {e["_id"]: e for e in seeded["executions"].values()}
    assert HOSTILE not in body and "&lt;script&gt;alert(1)&lt;/script&gt; disk" in body
    assert "<b>oops</b>" not in body and "&lt;b&gt;oops&lt;/b&gt;" in body
    row = page.by_id[f"rule-{seeded['disk']['_id']}"]
    for text in ("yes", "alert.created", "2", "acknowledge_alert, resolve_alert", "300 s", "Disable"):
        assert text in row
    assert "Enable" in page.by_id[f"rule-{seeded['quiet']['_id']}"]
    assert rule_form(body, seeded["quiet"]["_id"])["enabled"] == "true"
    listed = [key.removeprefix("execution-") for key in page.by_id if key.startswith("execution-")]
    assert listed == list(reversed(list(ids)))          # newest first
    assert "Quiet rule" in page.by_id[f"execution-{seeded['executions']['queued']['_id']}"]
    dead = seeded["executions"]["dead_letter"]["_id"]
    assert [k for k in page.by_id if k.startswith("dlq-")] == [f"dlq-{dead}"]
    assert page.form("/rules/replay").fields["execution_id"] == dead
    assert "admin rules-export" in body and "admin rules-import" in body

    status, body = await get_page(http, live_server, "/rules?status=queued")
    listed = [k for k in parse(body).by_id if k.startswith("execution-")]
    assert status == 200 and listed == [f"execution-{seeded['executions']['queued']['_id']}"]
    status, body = await get_page(http, live_server, "/rules?status=failed")
    assert status == 200 and "No executions with status failed." in body
    status, body = await get_page(http, live_server, "/rules?status=bogus")
    assert status == 400 and "Unknown status" in body


async def test_toggle_changes_rule_and_audits(live_server, http, seeded):
    storage, rule_id = live_server.storage, seeded["disk"]["_id"]
    await sign_in(http, live_server, "acme", ADMIN)
    _, body = await get_page(http, live_server)
    status, location, _ = await post(http, live_server, "/rules/toggle", rule_form(body, rule_id))
    assert (status, location) == (303, "/rules?done=disabled")
    assert (await storage.rules.get("acme", rule_id))["enabled"] is False
    _, body = await get_page(http, live_server, location)
    assert "Rule disabled." in body
    status, location, _ = await post(http, live_server, "/rules/toggle", rule_form(body, rule_id))
    assert (status, location) == (303, "/rules?done=enabled")
    assert (await storage.rules.get("acme", rule_id))["enabled"] is True
    rows = [r for r in await storage.audit.recent("acme") if r["action"].startswith("rule.")]
    assert [(r["action"], r["kind"], r["status"], r["target"], r["actor"]["email"]) for r in rows] == [
        ("rule.enabled", "rule", "success", {"kind": "rule", "id": rule_id}, ADMIN),
        ("rule.disabled", "rule", "success", {"kind": "rule", "id": rule_id}, ADMIN)]
    fields = dict(rule_form(body, rule_id), rule_id=new_id("rul"))
    assert (await post(http, live_server, "/rules/toggle", fields))[0] == 404


async def test_replay_requeues_dead_letter(live_server, http, seeded):
    storage, dead = live_server.storage, seeded["executions"]["dead_letter"]["_id"]
    await sign_in(http, live_server, "acme", ADMIN)
    fields = await form_fields(http, live_server.url("acme", "/rules"), "/rules/replay")
    status, location, _ = await post(http, live_server, "/rules/replay", fields)
    assert (status, location) == (303, "/rules?done=replayed")
    stored = await storage.rules.get_execution("acme", dead)
    assert (stored["status"], stored["attempts"], stored["dead_lettered_at"]) == ("queued", 0, None)
    [row] = [r for r in await storage.audit.recent("acme") if r["action"] == "rule.replayed"]
    assert row["target"] == {"kind": "rule_execution", "id": dead}
    assert row["detail"]["rule_id"] == seeded["disk"]["_id"] and row["detail"]["attempts"] == 5
    _, body = await get_page(http, live_server)
    assert "The dead-letter queue is empty." in body
    # Not (or no longer) in the dead-letter queue: refused, nothing changes.
    status, _, body = await post(http, live_server, "/rules/replay", fields)
    assert status == 400 and "Only executions in the dead-letter queue can be replayed" in body
    succeeded = seeded["executions"]["succeeded"]["_id"]
    status, _, body = await post(http, live_server, "/rules/replay", dict(fields, execution_id=succeeded))
    assert status == 400 and "this one is succeeded" in body
    assert (await storage.rules.get_execution("acme", succeeded))["status"] == "succeeded"
    status, _, _ = await post(http, live_server, "/rules/replay", dict(fields, execution_id="rex_nope"))
    assert status == 404


async def test_readonly_sees_no_buttons_and_cannot_post(live_server, http, seeded):
    await sign_in(http, live_server, "acme", READER)
    status, body = await get_page(http, live_server)
    page = parse(body)
    assert status == 200
    assert f"rule-{seeded['disk']['_id']}" in page.by_id
    assert f"dlq-{seeded['executions']['dead_letter']['_id']}" in page.by_id
    assert not [f for f in page.forms if f.action in ("/rules/toggle", "/rules/replay")]
    assert "Disable" not in body and "Replay</button>" not in body
    await assert_changes_refused(http, live_server, seeded, page, "can view rules but not change them")


async def test_csrf_missing_or_wrong_is_refused(live_server, http, seeded):
    storage, rule_id = live_server.storage, seeded["disk"]["_id"]
    await sign_in(http, live_server, "acme", ADMIN)
    _, body = await get_page(http, live_server)
    fields = rule_form(body, rule_id)
    without = {k: v for k, v in fields.items() if k != "_csrf"}
    assert (await post(http, live_server, "/rules/toggle", without))[0] == 403
    assert (await post(http, live_server, "/rules/toggle", dict(fields, _csrf="0" * 64)))[0] == 403
    dead = seeded["executions"]["dead_letter"]["_id"]
    assert (await post(http, live_server, "/rules/replay", {"execution_id": dead}))[0] == 403
    assert (await storage.rules.get("acme", rule_id))["enabled"] is True
    assert (await storage.rules.get_execution("acme", dead))["status"] == "dead_letter"


async def test_other_tenants_execution_is_not_found(live_server, http, seeded):
    storage = live_server.storage
    await create_operator(storage, "globex", "ops@globex.example", "admin")
    theirs = await add_execution(storage, "globex", await add_rule(storage, "globex", "Theirs"),
                                 "dead_letter")
    await sign_in(http, live_server, "acme", ADMIN)
    fields = await form_fields(http, live_server.url("acme", "/rules"), "/rules/replay")
    status, _, _ = await post(http, live_server, "/rules/replay", dict(fields, execution_id=theirs["_id"]))
    assert status == 404
    assert (await storage.rules.get_execution("globex", theirs["_id"]))["status"] == "dead_letter"
    async with client_session() as other:
        await sign_in(other, live_server, "globex", "ops@globex.example")
        async with other.get(live_server.url("globex", "/rules")) as resp:
            assert theirs["_id"] in await resp.text()
    _, body = await get_page(http, live_server)
    assert theirs["_id"] not in body and "Theirs" not in body


async def test_customer_limited_operator_can_neither_see_nor_change_rules(live_server, http, seeded):
    storage = live_server.storage
    admin = await storage.users.by_email("acme", ADMIN)
    # A limit of customers that do not exist still limits: deny by default, not "no customers known".
    await storage.users.set_customers("acme", admin["_id"], frozenset({"cus_coowned0001"}))
    await sign_in(http, live_server, "acme", ADMIN)
    status, body = await get_page(http, live_server)
    assert status == 403 and "Rules are not available to your account" in body
    assert "limited to some customers" in body
    assert 'href="/rules"' not in (await get_page(http, live_server, "/account/mcp"))[1]   # no nav link
    page = parse(body)
    assert "Quiet rule" not in body and seeded["disk"]["_id"] not in body
    assert not [k for k in page.by_id if k.startswith(("rule-", "execution-", "dlq-"))]
    assert (await get_page(http, live_server, "/rules?status=dead_letter"))[0] == 403
    await assert_changes_refused(http, live_server, seeded, page, "Rules are not available to your account")
    # Lifting the limit gives the rules back at the next page of the same session.
    await storage.users.set_customers("acme", admin["_id"], None)
    assert (await get_page(http, live_server))[0] == 200
    assert 'href="/rules">Rules</a>' in (await get_page(http, live_server, "/account/mcp"))[1]


async def assert_changes_refused(http, live_server, seeded, page, message: str) -> None:
    """A toggle and a replay posted with the page's own CSRF token are refused (403, `message`)
    and change nothing: the rule, the dead-lettered execution and the audit log stay as they were."""
    storage = live_server.storage
    token = page.form("/signout").fields["_csrf"]
    dead = seeded["executions"]["dead_letter"]["_id"]
    toggle = {"_csrf": token, "rule_id": seeded["disk"]["_id"], "enabled": "false"}
    status, _, body = await post(http, live_server, "/rules/toggle", toggle)
    assert status == 403 and message in body
    status, _, _ = await post(http, live_server, "/rules/replay", {"_csrf": token, "execution_id": dead})
    assert status == 403
    assert (await storage.rules.get("acme", seeded["disk"]["_id"]))["enabled"] is True
    assert (await storage.rules.get_execution("acme", dead))["status"] == "dead_letter"
    assert not [r for r in await storage.audit.recent("acme") if r["action"].startswith("rule.")]
