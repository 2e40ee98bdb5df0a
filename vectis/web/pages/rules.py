"""/rules: the tenant's rules (enable, disable), their recent executions and the dead-letter queue
(replay). Every role may look; only roles that can hold write scopes may change anything, since
an enabled rule or a replayed execution acts at the vendors. An operator limited to some customers
may do neither: rules read and act across every customer of the tenant."""
from __future__ import annotations

import tornado.web

from ...audit import audit_row
from ...rules.worker import replay_dead_letter
from .base import PageHandler
from .signin import operator_actor

STATUSES = ("queued", "running", "succeeded", "failed", "dead_letter", "dry_run")
CHANGE_ROLES = ("admin", "technician")   # the roles whose scopes include writes (vectis.scopes)
RECENT = 50
NOTICES = {"enabled": "Rule enabled.", "disabled": "Rule disabled.",
           "replayed": "Execution queued again with fresh attempts."}
READ_ONLY = "Your role can view rules but not change them."
CUSTOMER_LIMITED = ("Rules act on every customer of this tenant: their triggers, conditions and "
                    "executions show other customers' tickets and alerts, and an enabled rule acts on "
                    "them. Your account is limited to some customers, so it cannot see or change "
                    "rules. An administrator of this tenant can.")


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
