"""The demo tenants' rules: three a real MSP would write, reacting to what the demo's simulated
activity (vectis/simulators/activity.py) does in the vendor tools, so list_rules, run_rule and
the /rules page have something to show on a fresh start.

- enabled: a new ticket that sounds like a network problem (the activity opens "VPN drops…",
  "Wi-Fi down…", "Printer … is offline") gets an internal note for the technician;
- disabled, for run_rule's dry run or to switch on: a new high-priority ticket gets a reply to
  the client; a critical or major RMM alert that clears on its own (the activity clears alerts)
  opens a low-priority review ticket.

Seeded once per tenant, with ids derived from the tenant and the rule: a restart adds nothing,
and a rule an operator edits, disables or renames is left as it is.
"""
from __future__ import annotations

import base64
import hashlib

from ..storage.rules import RuleNameTaken
from .generator import demo_operators

DEMO_RULES = (
    ("network-note", {
        "name": "Network tickets: note for the technician",
        "description": "A new ticket about the VPN, Wi-Fi, the internet or a device that is "
                       "offline gets an internal note: check the site's network in the RMM first.",
        "enabled": True,
        "trigger": {"event": "ticket.created", "conditions": [
            {"field": "ticket.subject", "op": "matches",
             "value": r"(?i)\b(vpn|wi-?fi|internet|network|offline)\b"}]},
        "actions": [{"verb": "add_internal_note", "params": {
            "ticket_id": "{{ticket.id}}",
            "body": "Looks network-related. Before calling the user, check {{customer.name}}'s "
                    "firewall, switches and access points in the RMM (open alerts, devices "
                    "offline). Added by the rule \"Network tickets: note for the technician\"."}}],
        "cooldown_seconds": 0,
    }),
    ("high-priority-reply", {
        "name": "High-priority tickets: tell the client we are on it",
        "description": "Replies to the client on every new high or critical ticket. Disabled: "
                       "try it with run_rule (a dry run) before switching it on.",
        "enabled": False,
        "trigger": {"event": "ticket.created", "conditions": [
            {"field": "ticket.priority", "op": "in", "value": ["high", "critical"]}]},
        "actions": [{"verb": "reply_to_ticket", "params": {
            "ticket_id": "{{ticket.id}}",
            "body": "Thank you, we have your request \"{{ticket.subject}}\" (ticket "
                    "{{ticket.number}}) and a technician is on it now."}}],
        "cooldown_seconds": 0,
    }),
    ("self-cleared-alert", {
        "name": "Alerts that clear on their own: review ticket",
        "description": "A critical or major RMM alert that resolves without anyone acting on it "
                       "opens a low-priority ticket to find out why it fired. Disabled: it opens "
                       "tickets.",
        "enabled": False,
        "trigger": {"event": "alert.resolved", "conditions": [
            {"field": "alert.severity", "op": "in", "value": ["critical", "major"]}]},
        "actions": [{"verb": "create_ticket", "params": {
            "customer_id": "{{alert.customer_id}}",
            "subject": "Review: \"{{alert.title}}\" cleared on its own",
            "description": "The {{alert.severity}} RMM alert \"{{alert.title}}\" resolved without "
                           "anyone acting on it: {{alert.message}} Find out why it fired.",
            "priority": "low"}}],
        "cooldown_seconds": 300,
    }),
)
OWNER_ROLE = "technician"        # the rules act with the demo technician's authority


def demo_rule_id(slug: str, key: str) -> str:
    digest = hashlib.sha256(f"vectis-demo-rule:{slug}:{key}".encode()).digest()
    return "rul_" + base64.b32encode(digest[:10]).decode().lower()


async def seed_demo_rules(storage, slug: str) -> int:
    """Insert the demo rules the tenant lacks (by id, then by name); returns how many."""
    from ..rules.model import validate_rule  # the write tools' schemas: only when used
    owner_email = next(o.email for o in demo_operators(slug) if o.role == OWNER_ROLE)
    owner = await storage.users.by_email(slug, owner_email)
    if owner is None:
        return 0
    inserted = 0
    for key, definition in DEMO_RULES:
        rule_id = demo_rule_id(slug, key)
        if await storage.rules.get(slug, rule_id) or await storage.rules.by_name(slug, definition["name"]):
            continue
        try:
            await storage.rules.insert(slug, {"_id": rule_id, **validate_rule(definition),
                                              "owner_user_id": owner["_id"]})
        except RuleNameTaken:         # an operator's rule of that name, made meanwhile
            continue
        inserted += 1
    return inserted
