"""/rules: the tenant's rules (create and edit as JSON, enable, disable, delete), their recent
executions and the dead-letter queue (replay). Every role may look; only roles that can hold
write scopes may change anything, since an enabled rule or a replayed execution acts at the
vendors. An operator limited to some customers may do neither: rules read and act across every
customer of the tenant."""
from __future__ import annotations

import json

import tornado.escape
import tornado.web

from ...audit import audit_row
from ...ids import new_id
from ...rules.conditions import OPERATORS
from ...rules.definitions import check_one
from ...rules.model import EVENT_TYPES, VERB_SCHEMAS
from ...rules.worker import replay_dead_letter
from ...storage.rules import DEFINITION_FIELDS, RuleNameTaken
from .base import PageHandler
from .signin import operator_actor

STATUSES = ("queued", "running", "succeeded", "failed", "dead_letter", "dry_run")
CHANGE_ROLES = ("admin", "technician")   # the roles whose scopes include writes (vectis.scopes)
RECENT = 50
NOTICES = {"enabled": "Rule enabled.", "disabled": "Rule disabled.",
           "replayed": "Execution queued again with fresh attempts.",
           "created": "Rule created.", "saved": "Rule saved.", "deleted": "Rule deleted."}
MAX_DEFINITION = 100_000   # characters of JSON in the form; a valid rule is a few kilobytes
# What the form starts from when creating: valid except for the name, which the operator must
# choose, and disabled, so saving an unfinished rule acts on nothing.
TEMPLATE = {
    "name": "",
    "description": "",
    "enabled": False,
    "trigger": {"event": "ticket.created",
                "conditions": [{"field": "ticket.subject", "op": "matches", "value": "(?i)printer"}]},
    "actions": [{"verb": "add_internal_note",
                 "params": {"ticket_id": "{{ticket.id}}",
                            "body": "Printer ticket for {{customer.name}}: check the print server first."}}],
    "cooldown_seconds": 0,
}
READ_ONLY = "Your role can view rules but not change them."
CUSTOMER_LIMITED = ("Rules act on every customer of this tenant: their triggers, conditions and "
                    "executions show other customers' tickets and alerts, and an enabled rule acts on "
                    "them. Your account is limited to some customers, so it cannot see or change "
                    "rules. An administrator of this tenant can.")


def definition_text(rule: dict) -> str:
    """A stored rule as the JSON the form edits (rules-export's shape, without the id)."""
    return json.dumps({k: rule[k] for k in DEFINITION_FIELDS if k in rule}, indent=2,
                      ensure_ascii=False, default=str)


def rule_row(rule: dict) -> dict:
    # Rules can reach the database by other means than validate_rule: read defensively.
    trigger = rule.get("trigger") or {}
    return {"id": rule["_id"], "name": rule.get("name") or rule["_id"],
            "enabled": bool(rule.get("enabled")), "event": trigger.get("event") or "—",
            "conditions": len(trigger.get("conditions") or []),
            "verbs": [str(a.get("verb")) for a in rule.get("actions") or [] if isinstance(a, dict)],
            "cooldown": rule.get("cooldown_seconds") or 0}


class RulesPage(PageHandler):
    requires_session = True

    async def prepare(self) -> None:
        await super().prepare()
        # Refused before any handler runs, so no rule, execution or toggle is reachable (GET or POST).
        if not self._finished and self.current_user is not None and self.customer_limit is not None:
            self.set_status(403)
            self.render("error.html", title="Rules are not available to your account",
                        message=CUSTOMER_LIMITED)

    @property
    def can_change(self) -> bool:
        return self.current_user["role"] in CHANGE_ROLES

    async def render_rules(self, *, status: int = 200, error: str | None = None) -> None:
        storage, slug = self.services.storage, self.tenant.slug
        rules = await storage.rules.all(slug)
        names = {rule["_id"]: rule.get("name") or rule["_id"] for rule in rules}
        wanted = self.get_query_argument("status", "")
        if wanted and wanted not in STATUSES:
            status, error = 400, error or f"Unknown status; use one of: {', '.join(STATUSES)}."
            wanted = ""
        recent, _ = await storage.rules.executions_page(slug, status=wanted or None, limit=RECENT,
                                                        after=None)
        dead, more_dead = await storage.rules.executions_page(slug, status="dead_letter",
                                                              limit=RECENT, after=None)
        self.set_status(status)
        self.render("rules.html", title="Rules", error=error,
                    notice=NOTICES.get(self.get_query_argument("done", "")),
                    rules=[rule_row(rule) for rule in rules], executions=recent, dead=dead,
                    more_dead=more_dead is not None, names=names, statuses=STATUSES,
                    wanted=wanted, recent=RECENT, can_change=self.can_change)

    async def refuse_read_only(self) -> bool:
        """Renders the 403 page when the operator's role may not change rules."""
        if self.can_change:
            return False
        await self.render_rules(status=403, error=READ_ONLY)
        return True

    async def stored_rule(self, rule_id: str) -> dict:
        rule = await self.services.storage.rules.get(self.tenant.slug, rule_id)
        if rule is None:
            raise tornado.web.HTTPError(404)
        return rule

    def render_form(self, *, rule: dict | None, text: str, problems: list[str] | None = None,
                    status: int = 200) -> None:
        self.set_status(status)
        title = f"Edit rule {rule.get('name') or rule['_id']}" if rule else "New rule"
        self.render("rule_form.html", title=title, rule=rule, text=text, problems=problems or [],
                    can_change=self.can_change, events=EVENT_TYPES, operators=OPERATORS,
                    verbs={verb: (list(schema["properties"]), schema.get("required", []))
                           for verb, schema in VERB_SCHEMAS.items()},
                    max_definition=MAX_DEFINITION)

    async def audit(self, action: str, target: dict, detail: dict) -> None:
        user = self.current_user
        await self.services.audit.write(self.tenant.slug, audit_row(
            actor=operator_actor(user, user["email"]), action=action, status="success",
            kind="rule", target=target, detail=detail, request_id=self.request_id))


class RulesHandler(RulesPage):
    async def get(self) -> None:
        await self.render_rules()


class ToggleRuleHandler(RulesPage):
    async def post(self) -> None:
        if await self.refuse_read_only():
            return
        slug, storage = self.tenant.slug, self.services.storage
        wanted = {"true": True, "false": False}.get(self.get_body_argument("enabled", ""))
        if wanted is None:
            await self.render_rules(status=400, error="Choose whether to enable or disable the rule.")
            return
        rule = await storage.rules.get(slug, self.get_body_argument("rule_id", ""))
        if rule is None or not await storage.rules.set_enabled(slug, rule["_id"], wanted):
            raise tornado.web.HTTPError(404)
        verb = "enabled" if wanted else "disabled"
        await self.audit(f"rule.{verb}", {"kind": "rule", "id": rule["_id"]},
                         {"name": rule.get("name"), "was_enabled": bool(rule.get("enabled"))})
        self.redirect(f"/rules?done={verb}", status=303)


class ReplayExecutionHandler(RulesPage):
    async def post(self) -> None:
        if await self.refuse_read_only():
            return
        slug, storage = self.tenant.slug, self.services.storage
        # Executions live in the tenant's own database, so another tenant's id is simply unknown.
        execution = await storage.rules.get_execution(slug, self.get_body_argument("execution_id", ""))
        if execution is None:
            raise tornado.web.HTTPError(404)
        # The replay is conditional on the status, so a concurrent replay (or the worker) that
        # got there first ends here too rather than queueing the execution twice.
        if execution["status"] != "dead_letter" or not await replay_dead_letter(
                storage, slug, execution["_id"]):
            current = await storage.rules.get_execution(slug, execution["_id"]) or execution
            await self.render_rules(status=400, error=(
                "Only executions in the dead-letter queue can be replayed; this one is "
                f"{str(current.get('status')).replace('_', ' ')}."))
            return
        await self.audit("rule.replayed", {"kind": "rule_execution", "id": execution["_id"]},
                         {"rule_id": execution.get("rule_id"), "attempts": execution.get("attempts"),
                          "last_error": execution.get("last_error")})
        self.redirect("/rules?done=replayed", status=303)


class RuleFormHandler(RulesPage):
    """GET /rules/edit: an empty form from the template, or ?rule=<id> to edit (or, for a role
    that may not change rules, to read) that rule's JSON."""

    async def get(self) -> None:
        rule_id = self.get_query_argument("rule", "")
        if not rule_id:
            if await self.refuse_read_only():
                return
            self.render_form(rule=None, text=json.dumps(TEMPLATE, indent=2))
            return
        rule = await self.stored_rule(rule_id)
        self.render_form(rule=rule, text=definition_text(rule))


class SaveRuleHandler(RulesPage):
    """POST /rules/save: `definition` (one rule as JSON) and `rule_id` when editing. Checked
    like `admin rules-import` (vectis.rules.definitions); any problem writes nothing."""

    async def post(self) -> None:
        if await self.refuse_read_only():
            return
        slug, storage, user = self.tenant.slug, self.services.storage, self.current_user
        rule_id = self.get_body_argument("rule_id", "") or None
        text = self.get_body_argument("definition", "")
        current = await self.stored_rule(rule_id) if rule_id else None
        if len(text) > MAX_DEFINITION:
            problems = [f"the rule is longer than {MAX_DEFINITION:,} characters"]
            rule = None
        else:
            rule, problems = check_one(text, await storage.rules.all(slug), rule_id)
        if rule is not None:
            try:
                if current is None:
                    # The operator who writes a rule is the one its actions run as.
                    stored = await storage.rules.insert(slug, {"_id": new_id("rul"), **rule,
                                                               "owner_user_id": user["_id"]})
                else:
                    stored = await storage.rules.replace(slug, current["_id"], rule)
            except RuleNameTaken:
                problems = [f"name: {rule['name']!r} was just taken by another rule; choose another name"]
            else:
                if stored is None:      # deleted meanwhile
                    raise tornado.web.HTTPError(404)
                await self.saved(current, stored)
                return
        self.render_form(rule=current, text=text, problems=problems, status=400)

    async def saved(self, before: dict | None, after: dict) -> None:
        target = {"kind": "rule", "id": after["_id"]}
        if before is None:
            await self.audit("rule.created", target, {"name": after["name"],
                                                     "enabled": after["enabled"]})
            done = "created"
        else:
            changed = [k for k in DEFINITION_FIELDS if before.get(k) != after.get(k)]
            await self.audit("rule.updated", target, {"name": after["name"], "was_name": before.get("name"),
                                                     "changed": changed})
            done = "saved"
        self.redirect(f"/rules?done={done}#rule-{after['_id']}", status=303)


class DeleteRuleHandler(RulesPage):
    """GET /rules/delete?rule=<id> asks for confirmation (a page, so it works without script);
    POST with `confirm=yes` deletes. The rule's executions stay in the history."""

    async def get(self) -> None:
        if await self.refuse_read_only():
            return
        rule = await self.stored_rule(self.get_query_argument("rule", ""))
        self.render("rule_delete.html", title=f"Delete rule {rule.get('name') or rule['_id']}",
                    rule=rule_row(rule))

    async def post(self) -> None:
        if await self.refuse_read_only():
            return
        rule_id = self.get_body_argument("rule_id", "")
        if self.get_body_argument("confirm", "") != "yes":
            self.redirect(f"/rules/delete?rule={tornado.escape.url_escape(rule_id)}", status=303)
            return
        rule = await self.services.storage.rules.delete(self.tenant.slug, rule_id)
        if rule is None:
            raise tornado.web.HTTPError(404)
        # The whole definition, so a rule deleted by mistake can be written again from the log.
        await self.audit("rule.deleted", {"kind": "rule", "id": rule["_id"]},
                         {"name": rule.get("name"), "definition": definition_text(rule)})
        self.redirect("/rules?done=deleted", status=303)
