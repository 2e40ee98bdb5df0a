"""The read-tool calls bench/scale_bench.py measures: every read tool that tools/list offers, with
representative arguments whose ids come from the seeded tenant, several of each so that a run
measures the tool rather than one cached document."""
from __future__ import annotations

import json
import random
import urllib.request
from dataclasses import dataclass, field

from pymongo import MongoClient

SAMPLES = 12  # distinct argument sets per call, used in turn


@dataclass
class Call:
    label: str
    tool: str
    arguments: list[dict] = field(default_factory=list)

    def body(self, i: int) -> str:
        return json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                           "params": {"name": self.tool, "arguments": self.arguments[i % len(self.arguments)]}})


def _post(url: str, headers: dict, payload: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def read_tools(url: str, headers: dict) -> list[str]:
    """Names of the tools tools/list marks read-only."""
    tools = _post(url, headers, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})["result"]["tools"]
    return [t["name"] for t in tools if (t.get("annotations") or {}).get("readOnlyHint")]


def _sample(rng: random.Random, items: list, n: int = SAMPLES) -> list:
    return rng.sample(items, min(n, len(items)))


def read_tool_calls(uri: str, database: str, operator_email: str, url: str, headers: dict) -> list[Call]:
    """Calls for every read tool, with ids read (read-only) from the tenant's database."""
    rng = random.Random(17)
    client = MongoClient(uri, tz_aware=True)
    try:
        db = client[database]
        customers = [c["_id"] for c in db.customers.find({}, {"_id": 1})]
        some_customers = _sample(rng, customers)
        open_tickets = list(db.tickets.find({"status": "open"}, {"_id": 1, "number": 1, "subject": 1}).limit(2000))
        picked = _sample(rng, open_tickets)
        alerts = [a["_id"] for a in db.alerts.find({}, {"_id": 1}).limit(3000)]
        assets = [a["_id"] for a in db.assets.find({}, {"_id": 1}).limit(3000)]
        words = [w for t in _sample(rng, open_tickets, 40) for w in t["subject"].split() if len(w) > 4]
        queries = _sample(rng, sorted(set(words)))
        rules = [r["_id"] for r in db.rules.find({}, {"_id": 1})]
    finally:
        client.close()
    cursor = _second_page_cursor(url, headers)
    calls = [
        Call("list_customers {limit 20}", "list_customers", [{"limit": 20}]),
        Call("list_customers {name, limit 20}", "list_customers", [{"name": n, "limit": 20} for n in ("dental", "law", "a")]),
        Call("get_customer", "get_customer", [{"customer_id": c} for c in some_customers]),
        Call("get_customer_status_snapshot", "get_customer_status_snapshot", [{"customer_id": c} for c in some_customers]),
        Call("list_open_tickets {limit 20}", "list_open_tickets", [{"limit": 20}]),
        Call("list_open_tickets page 2", "list_open_tickets", [{"limit": 20, "cursor": cursor}]),
        Call("list_open_tickets {priority critical}", "list_open_tickets", [{"priority": "critical", "limit": 20}]),
        Call("list_open_tickets {customer_id}", "list_open_tickets", [{"customer_id": c, "limit": 20} for c in some_customers]),
        Call("list_my_assignments", "list_my_assignments", [{"limit": 20}]),
        Call("get_ticket {ticket_id}", "get_ticket", [{"ticket_id": t["_id"]} for t in picked]),
        Call("get_ticket {number}", "get_ticket", [{"number": t["number"]} for t in picked]),
        Call("search_tickets", "search_tickets", [{"query": q, "limit": 20} for q in queries]),
        Call("search_tickets {open_only}", "search_tickets", [{"query": q, "open_only": True, "limit": 20} for q in queries]),
        Call("search_global", "search_global", [{"query": q} for q in queries]),
        Call("list_alerts {limit 20}", "list_alerts", [{"limit": 20}]),
        Call("list_alerts {severity critical}", "list_alerts", [{"severity": "critical", "limit": 20}]),
        Call("get_alert", "get_alert", [{"alert_id": a} for a in _sample(rng, alerts)]),
        Call("list_assets {limit 20}", "list_assets", [{"limit": 20}]),
        Call("list_assets {kind server}", "list_assets", [{"kind": "server", "limit": 20}]),
        Call("list_assets {customer_id}", "list_assets", [{"customer_id": c, "limit": 20} for c in some_customers]),
        Call("get_asset", "get_asset", [{"asset_id": a} for a in _sample(rng, assets)]),
        Call("list_backups_failing", "list_backups_failing", [{"limit": 20}]),
        Call("list_contracts {expiring_within_days 60}", "list_contracts", [{"expiring_within_days": 60, "limit": 20}]),
        Call("list_contracts {customer_id}", "list_contracts", [{"customer_id": c} for c in some_customers]),
        Call("list_invoices {limit 20}", "list_invoices", [{"limit": 20}]),
        Call("list_invoices {status overdue}", "list_invoices", [{"status": "overdue", "limit": 20}]),
        Call("list_recent_changes", "list_recent_changes", [{"limit": 20}]),
        Call("list_rules", "list_rules", [{}]),
        Call("list_rule_executions", "list_rule_executions", [{"limit": 20}]),
        Call("get_audit_log_for_ticket", "get_audit_log_for_ticket", [{"ticket_id": t["_id"]} for t in picked]),
    ]
    if rules:
        calls.append(Call("list_rule_executions {rule_id}", "list_rule_executions", [{"rule_id": rules[0]}]))
    missing = set(read_tools(url, headers)) - {c.tool for c in calls}
    if missing:
        raise SystemExit(f"read tools without a benchmark call: {sorted(missing)}")
    del operator_email  # list_my_assignments acts as the token's operator
    return calls


def _second_page_cursor(url: str, headers: dict) -> str:
    answer = _post(url, headers, {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                  "params": {"name": "list_open_tickets", "arguments": {"limit": 20}}})
    return answer["result"]["structuredContent"]["next_cursor"]
