"""/rules: creating, editing and deleting a rule in the page's form, checked exactly as
`admin rules-import` checks rules (vectis.rules.definitions), every problem at once and nothing
written; roles, CSRF and audit rows."""
from __future__ import annotations

import json
from html import unescape

import pytest

from vectis.rules.definitions import plan_rules

from .support.html import parse
from .support.pages import create_operator, form_fields, sign_in
from .test_operator_rules_page import add_rule

ADMIN, TECH, READER = "ops@acme.example", "tech@acme.example", "viewer@acme.example"
RULE = {"name": "Disk alerts: acknowledge", "description": "", "enabled": True,
        "trigger": {"event": "alert.created",
                    "conditions": [{"field": "alert.title", "op": "contains", "value": "disk"}]},
        "actions": [{"verb": "acknowledge_alert", "params": {"alert_id": "{{alert.id}}"}}],
        "cooldown_seconds": 60}
BAD = {"name": "", "enabled": "yes",
       "trigger": {"event": "alert.exploded",
                   "conditions": [{"field": "alert.title", "op": "matches", "value": "(a)\\1"}]},
       "actions": [{"verb": "reboot_server", "params": {}},
                   {"verb": "add_internal_note", "params": {"ticket_id": "{{ticket.nope}}"}}],
       "cooldown_seconds": -1, "colour": "red"}


@pytest.fixture
async def operators(live_server):
    storage = live_server.storage
    users = {role: await create_operator(storage, "acme", email, role)
             for role, email in (("admin", ADMIN), ("technician", TECH), ("readonly", READER))}
    return users


async def save(http, server, definition, rule_id: str | None = None, path: str = "/rules/edit"):
    fields = await form_fields(http, server.url("acme", path), "/rules/save")
    fields["definition"] = definition if isinstance(definition, str) else json.dumps(definition)
    if rule_id:
        fields["rule_id"] = rule_id
    async with http.post(server.url("acme", "/rules/save"), data=fields, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location"), await resp.text()


def problems_shown(body: str) -> list[str]:
    section = body.split('id="rule-problems"', 1)[1].split("</ul>", 1)[0]
    return [unescape(item.split("</li>", 1)[0]) for item in section.split("<li>")[1:]]


async def test_new_form_starts_from_a_template_and_creates_a_rule_owned_by_its_writer(
        live_server, http, operators):
    storage = live_server.storage
    await sign_in(http, live_server, "acme", TECH)
    async with http.get(live_server.url("acme", "/rules/edit")) as resp:
        body = await resp.text()
    template = json.loads(unescape(body.split('id="definition"', 1)[1].split(">", 1)[1].split("</textarea>")[0]))
    assert template["name"] == "" and template["enabled"] is False and template["actions"]
    status, location, _ = await save(http, live_server, RULE)
    [rule] = await storage.rules.all("acme")
    assert (status, location) == (303, f"/rules?done=created#rule-{rule['_id']}")
    assert rule["owner_user_id"] == operators["technician"]["_id"]
    assert {k: rule[k] for k in RULE} == RULE
    async with http.get(live_server.url("acme", location.split("#")[0])) as resp:
        listing = await resp.text()
    assert "Rule created." in listing and RULE["name"] in parse(listing).by_id[f"rule-{rule['_id']}"]
    [row] = [r for r in await storage.audit.recent("acme") if r["action"].startswith("rule.")]
    assert (row["action"], row["kind"], row["target"], row["actor"]["email"], row["detail"]["name"]) == (
        "rule.created", "rule", {"kind": "rule", "id": rule["_id"]}, TECH, RULE["name"])


async def test_every_problem_is_shown_at_once_in_rules_import_words_and_nothing_is_written(
        live_server, http, operators):
    storage = live_server.storage
    await sign_in(http, live_server, "acme", ADMIN)
    status, _, body = await save(http, live_server, BAD)
    assert status == 400
    _, expected = plan_rules([BAD], [], labelled=False)
    assert problems_shown(body) == expected and len(expected) >= 7
    assert f"{len(expected)} problems; nothing was saved" in body
    # What was typed comes back as typed, to be corrected.
    assert json.loads(unescape(body.split('id="definition"', 1)[1].split(">", 1)[1]
                               .split("</textarea>")[0])) == BAD
    status, _, body = await save(http, live_server, '{"name": "x",,}')
    assert status == 400 and problems_shown(body) == [
        "not valid JSON: Expecting property name enclosed in double quotes (line 1, column 14)"]
    status, _, body = await save(http, live_server, [RULE])
    assert status == 400 and "write one rule" in problems_shown(body)[0]
    assert await storage.rules.all("acme") == []
    assert not [r for r in await storage.audit.recent("acme") if r["action"].startswith("rule.")]


async def test_a_taken_name_is_refused_on_create_and_on_edit(live_server, http, operators):
    storage = live_server.storage
    first = await add_rule(storage, "acme", RULE["name"])
    second = await add_rule(storage, "acme", "Second")
    await sign_in(http, live_server, "acme", ADMIN)
    status, _, body = await save(http, live_server, RULE)
    assert status == 400 and f"is the name of another rule ({first['_id']})" in unescape(body)
    status, _, body = await save(http, live_server, RULE, second["_id"], f"/rules/edit?rule={second['_id']}")
    assert status == 400 and f"is the name of another rule ({first['_id']})" in unescape(body)
    assert len(await storage.rules.all("acme")) == 2
    assert (await storage.rules.get("acme", second["_id"]))["name"] == "Second"


async def test_edit_shows_the_rules_json_and_saves_it_in_place(live_server, http, operators):
    storage = live_server.storage
    rule = await add_rule(storage, "acme", "Disk")
    await sign_in(http, live_server, "acme", ADMIN)
    async with http.get(live_server.url("acme", f"/rules/edit?rule={rule['_id']}")) as resp:
        body = await resp.text()
    shown = json.loads(unescape(body.split('id="definition"', 1)[1].split(">", 1)[1].split("</textarea>")[0]))
    assert shown["name"] == "Disk" and shown["trigger"] == rule["trigger"] and "id" not in shown
    changed = dict(shown, name="Disk, renamed", cooldown_seconds=0, id="rul_ignoredbytheform")
    status, location, _ = await save(http, live_server, changed, rule["_id"], f"/rules/edit?rule={rule['_id']}")
    assert (status, location) == (303, f"/rules?done=saved#rule-{rule['_id']}")
    stored = await storage.rules.get("acme", rule["_id"])
    assert (stored["name"], stored["cooldown_seconds"], stored["owner_user_id"]) == ("Disk, renamed", 0, None)
    assert len(await storage.rules.all("acme")) == 1
    [row] = [r for r in await storage.audit.recent("acme") if r["action"].startswith("rule.")]
    assert row["action"] == "rule.updated" and row["detail"]["changed"] == ["name", "cooldown_seconds"]
    assert row["detail"]["was_name"] == "Disk"
    async with http.get(live_server.url("acme", "/rules/edit?rule=rul_nosuchrule")) as resp:
        assert resp.status == 404


async def test_delete_asks_first_then_deletes_and_audits_the_definition(live_server, http, operators):
    storage = live_server.storage
    rule = await add_rule(storage, "acme", "Doomed")
    await sign_in(http, live_server, "acme", TECH)
    url = live_server.url("acme", f"/rules/delete?rule={rule['_id']}")
    async with http.get(url) as resp:
        assert resp.status == 200 and "Delete rule Doomed?" in await resp.text()
    fields = await form_fields(http, url, "/rules/delete")
    # Without the confirmation button's value: back to the question, nothing deleted.
    async with http.post(live_server.url("acme", "/rules/delete"), data=fields, allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == f"/rules/delete?rule={rule['_id']}"
    assert await storage.rules.get("acme", rule["_id"]) is not None
    async with http.post(live_server.url("acme", "/rules/delete"), data=dict(fields, confirm="yes"),
                         allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/rules?done=deleted"
    assert await storage.rules.get("acme", rule["_id"]) is None
    [row] = [r for r in await storage.audit.recent("acme") if r["action"].startswith("rule.")]
    assert row["action"] == "rule.deleted" and row["detail"]["name"] == "Doomed"
    assert json.loads(row["detail"]["definition"])["trigger"] == rule["trigger"]
    async with http.post(live_server.url("acme", "/rules/delete"), data=dict(fields, confirm="yes"),
                         allow_redirects=False) as resp:
        assert resp.status == 404


async def test_readonly_may_read_a_rule_but_not_create_edit_or_delete(live_server, http, operators):
    storage = live_server.storage
    rule = await add_rule(storage, "acme", "Kept")
    await sign_in(http, live_server, "acme", READER)
    async with http.get(live_server.url("acme", "/rules")) as resp:
        body = await resp.text()
    assert 'href="/rules/edit"' not in body and "/rules/delete" not in body
    csrf = parse(body).form("/signout").fields["_csrf"]
    async with http.get(live_server.url("acme", f"/rules/edit?rule={rule['_id']}")) as resp:
        body = await resp.text()
    assert resp.status == 200 and "/rules/save" not in body and "&quot;Kept&quot;" in body
    for path in ("/rules/edit", f"/rules/delete?rule={rule['_id']}"):
        async with http.get(live_server.url("acme", path)) as resp:
            assert resp.status == 403 and "can view rules but not change them" in await resp.text()
    for path, data in (("/rules/save", {"definition": json.dumps(RULE)}),
                       ("/rules/save", {"definition": json.dumps(RULE), "rule_id": rule["_id"]}),
                       ("/rules/delete", {"rule_id": rule["_id"], "confirm": "yes"})):
        async with http.post(live_server.url("acme", path), data={"_csrf": csrf, **data},
                             allow_redirects=False) as resp:
            assert resp.status == 403
    assert [r["name"] for r in await storage.rules.all("acme")] == ["Kept"]
    assert not [r for r in await storage.audit.recent("acme") if r["action"].startswith("rule.")]


async def test_csrf_is_required_to_save_or_delete(live_server, http, operators):
    storage = live_server.storage
    rule = await add_rule(storage, "acme", "Kept")
    await sign_in(http, live_server, "acme", ADMIN)
    for path, data in (("/rules/save", {"definition": json.dumps(RULE)}),
                       ("/rules/delete", {"rule_id": rule["_id"], "confirm": "yes"})):
        for csrf in ({}, {"_csrf": "0" * 64}):
            async with http.post(live_server.url("acme", path), data={**csrf, **data},
                                 allow_redirects=False) as resp:
                assert resp.status == 403
    assert [r["name"] for r in await storage.rules.all("acme")] == ["Kept"]


async def test_a_customer_limited_operator_gets_no_form(live_server, http, operators):
    storage = live_server.storage
    await storage.users.set_customers("acme", operators["admin"]["_id"], frozenset({"cus_coowned0001"}))
    await sign_in(http, live_server, "acme", ADMIN)
    for path in ("/rules/edit", "/rules/delete?rule=rul_x"):
        async with http.get(live_server.url("acme", path)) as resp:
            assert resp.status == 403 and "Rules are not available to your account" in await resp.text()
