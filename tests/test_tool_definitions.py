"""Every tool definition: snapshot-tested, annotated, closed and bounded inputs.

Set VECTIS_UPDATE_SNAPSHOTS=1 to rewrite the snapshots after an intended change; a tool without
a snapshot fails the suite, so a new or changed tool is always reviewed as a diff.
"""
import json
import os
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from vectis.tools.catalog import build_registry

SNAPSHOTS = Path(__file__).parent / "snapshots" / "tools"
UPDATE = os.environ.get("VECTIS_UPDATE_SNAPSHOTS") == "1"
REGISTRY = build_registry()
SPECS = list(REGISTRY)

# The public docs' read tools and their scopes: the contract with users.
PUBLIC_READ_TOOLS = {
    "list_customers": {"read:customers"}, "get_customer": {"read:customers"},
    "list_open_tickets": {"read:tickets"}, "get_ticket": {"read:tickets"},
    "search_tickets": {"read:tickets", "read:search"}, "list_alerts": {"read:alerts"},
    "get_alert": {"read:alerts"}, "list_assets": {"read:assets"}, "get_asset": {"read:assets"},
    "list_contracts": {"read:contracts"}, "list_backups_failing": {"read:assets"},
    "list_invoices": {"read:billing"}, "list_recent_changes": {"read:notes"},
    "search_global": {"read:search"}, "list_rules": {"read:search"},
    "list_rule_executions": {"read:search"},
    "get_customer_status_snapshot": {"read:customers", "read:tickets", "read:alerts"},
    "list_my_assignments": {"read:tickets"}, "get_audit_log_for_ticket": {"read:tickets"},
}


# Read tools beyond the public docs, documented in docs/ (writes.md: following an approval).
ADDED_READ_TOOLS = {"get_write_status": {"write:tickets", "write:alerts", "write:notes"}}


def test_the_public_read_tools_exist_with_their_documented_scopes():
    read_tools = {s.name: set(s.scopes) for s in SPECS if s.read_only}
    assert read_tools == PUBLIC_READ_TOOLS | ADDED_READ_TOOLS


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_definition_matches_its_snapshot(spec):
    path = SNAPSHOTS / f"{spec.name}.json"
    current = json.dumps(spec.definition(), indent=2, sort_keys=True) + "\n"
    if UPDATE:
        path.write_text(current)
    assert path.exists(), f"no snapshot for {spec.name}: run with VECTIS_UPDATE_SNAPSHOTS=1 and review"
    assert path.read_text() == current, f"{spec.name} changed: review, then VECTIS_UPDATE_SNAPSHOTS=1"


def test_no_snapshot_without_a_tool():
    assert {p.stem for p in SNAPSHOTS.glob("*.json")} == {s.name for s in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_definition_is_complete(spec):
    d = spec.definition()
    assert re.fullmatch(r"[a-z][a-z0-9_]{0,63}", d["name"])
    assert d["title"] and d["description"]
    annotations = d["annotations"]
    for hint in ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"):
        assert isinstance(annotations[hint], bool), f"{spec.name} must set {hint}"
    if annotations["readOnlyHint"]:
        assert annotations["destructiveHint"] is False
    Draft202012Validator.check_schema(d["inputSchema"])
    Draft202012Validator.check_schema(d["outputSchema"])
    assert d["outputSchema"]["type"] == "object"
    assert "tenant" not in json.dumps(d["inputSchema"]).lower(), "no tool takes a tenant argument"


def _walk(schema, path="$"):
    yield path, schema
    for key in ("properties",):
        for name, sub in (schema.get(key) or {}).items():
            yield from _walk(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from _walk(schema["items"], f"{path}[]")
    for key in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(schema.get(key) or []):
            yield from _walk(sub, f"{path}|{i}")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_inputs_are_closed_and_bounded(spec):
    for path, node in _walk(spec.input_schema):
        kind = node.get("type")
        if kind == "object":
            assert node.get("additionalProperties") is False, f"{spec.name} {path} must be closed"
        elif kind == "string":
            assert "enum" in node or "maxLength" in node, f"{spec.name} {path} must be bounded"
        elif kind == "integer":
            assert "minimum" in node and "maximum" in node, f"{spec.name} {path} must be bounded"
        elif kind == "array":
            assert "maxItems" in node, f"{spec.name} {path} must be bounded"
