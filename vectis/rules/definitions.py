"""Checking rule definitions against a tenant's stored rules before any is written: shared by
`admin rules-import` (a JSON array, all or nothing) and the /rules page's form (one rule), so
both accept and refuse exactly the same rules, in the same words.

A definition is what `rules-export` prints for one rule: the model's fields (vectis.rules.model)
and optionally its `id`. It replaces the stored rule with that id, else the one of its name, else
it is new.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .model import RuleError, validate_rule


@dataclass
class Planned:
    label: str            # how problems name it: "rule 3 ('Disk alerts')", or "" for a lone rule
    rule: dict            # validated and normalized (validate_rule)
    target: dict | None   # the stored rule it replaces; None for a new rule


def parse_json(text: str) -> Any:
    """The JSON value of `text`; RuleError with the line and column of a syntax error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuleError([f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"]) from None


def plan_rules(items: list, existing: list[dict], *,
               labelled: bool = True) -> tuple[list[Planned], list[str]]:
    """Each valid definition of `items` with the stored rule it replaces, and every problem of
    every definition (nothing should be written unless the problems are none). `labelled=False`
    leaves out the "rule N" prefix, for a form that holds one rule."""
    by_id = {rule["_id"]: rule for rule in existing}
    by_name = {rule["name"]: rule for rule in existing if "name" in rule}
    problems: list[str] = []
    plan: list[Planned] = []
    names: dict[str, str] = {}
    targets: dict[str, str] = {}
    for index, item in enumerate(items):
        label = f"rule {index}"
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            label += f" ({item['name']!r})"
        prefix = f"{label}: " if labelled else ""
        if not isinstance(item, dict):
            problems.append(f"{prefix}a rule must be a JSON object")
            continue
        item = dict(item)
        rule_id = item.pop("id", None)
        if rule_id is not None and not isinstance(rule_id, str):
            problems.append(f"{prefix}id: must be a rule id string (rul_…) or absent")
            rule_id = None
        try:
            rule = validate_rule(item)
        except RuleError as exc:
            problems += [f"{prefix}{problem}" for problem in exc.problems]
            continue
        # An id of another tenant (or a deleted rule) means nothing here: match by name instead.
        target = by_id.get(rule_id) or by_name.get(rule["name"])
        holder = by_name.get(rule["name"])
        if rule["name"] in names:
            problems.append(f"{prefix}name: {names[rule['name']]} has the same name")
        elif holder is not None and target is not None and holder["_id"] != target["_id"]:
            problems.append(f"{prefix}name: {rule['name']!r} is the name of another rule "
                            f"({holder['_id']}); rename one of them")
        if target is not None and target["_id"] in targets:
            problems.append(f"{prefix}replaces the same rule {target['_id']} as {targets[target['_id']]}")
        names[rule["name"]] = label
        if target is not None:
            targets[target["_id"]] = label
        plan.append(Planned(label if labelled else "", rule, target))
    return plan, problems


def check_one(text: str, existing: list[dict], rule_id: str | None) -> tuple[dict | None, list[str]]:
    """The form's check of one rule written as JSON: creating one when `rule_id` is None, else
    editing that stored rule. The validated rule, or None and every problem."""
    try:
        item = parse_json(text)
    except RuleError as exc:
        return None, exc.problems
    if isinstance(item, list):
        return None, ["write one rule, a JSON object {\u2026}; admin rules-import takes a list"]
    if isinstance(item, dict):
        item = dict(item)
        item.pop("id", None)   # the form decides which rule this is, not the text
        if rule_id is not None:
            item["id"] = rule_id
    plan, problems = plan_rules([item], existing, labelled=False)
    if plan and rule_id is None and plan[0].target is not None:
        # Import would replace the rule of that name; a form creating a rule must not.
        holder = plan[0].target
        problems.append(f"name: {plan[0].rule['name']!r} is the name of another rule "
                        f"({holder['_id']}); choose another name or edit that rule")
    return (plan[0].rule if plan and not problems else None), problems
