"""The rule model: what an operator writes, validated and normalized before it is stored, and
the parameter templates its actions carry.

A rule as operators write it (JSON):

    {"name": "Acknowledge disk alerts", "description": "", "enabled": true,
     "trigger": {"event": "alert.created",
                 "conditions": [{"field": "alert.title", "op": "matches", "value": "(?i)disk"}]},
     "actions": [{"verb": "acknowledge_alert", "params": {"alert_id": "{{alert.id}}"}}],
     "cooldown_seconds": 0}

Action verbs are the keys of `vectis.writes.actions.ACTIONS` and their params are exactly the
write tool's arguments minus `dry_run` and `idempotency_key` (the parity surface): one schema
serves both, so a rule can never do what the tool cannot.
"""
from __future__ import annotations

import copy
import re
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from ..tools import write_tools
from ..tools.schema import ID_PATTERN
from ..writes.actions import ACTIONS
from .conditions import as_text, evaluate, path_problem, resolve, validate_conditions

__all__ = ["EVENT_TYPES", "VERB_SCHEMAS", "RuleError", "check_params", "evaluate", "render_params",
           "template_problems", "validate_rule"]

# What sync writes into `events` (vectis/sync/apply.py: `<entity>.created` for every entity,
# plus the changes it tracks), and "manual" for run_rule without an event.
EVENT_TYPES = (
    "ticket.created", "ticket.updated", "alert.created", "alert.resolved", "backup.failed",
    "backup_job.created", "customer.created", "contact.created", "asset.created",
    "contract.created", "invoice.created", "manual",
)
RULE_KEYS = ("name", "description", "enabled", "trigger", "actions", "cooldown_seconds")
TRIGGER_KEYS = ("event", "conditions")
ACTION_KEYS = ("verb", "params")
MAX_NAME, MAX_DESCRIPTION = 120, 2000
MAX_ACTIONS = 5
MAX_COOLDOWN = 86_400
TEMPLATE_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
WHOLE_TEMPLATE_RE = re.compile(r"^\{\{\s*([^{}]*?)\s*\}\}$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Stands in for a whole-string template when params are checked at save time: an id-shaped
# string satisfies an id parameter, "x" any other text.
SAMPLE_ID = "smp_" + "a" * 16


class RuleError(ValueError):
    """A rule that cannot be saved; `problems` lists every reason, each naming where it is."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def _verb_schemas() -> dict[str, dict]:
    tools = {tool.name: tool for tool in write_tools.TOOLS}
    missing = [verb for verb in ACTIONS if verb not in tools]
    if missing:
        raise RuntimeError(f"rules-engine verbs without a write tool: {', '.join(missing)}")
    schemas = {}
    for verb in ACTIONS:
        schema = copy.deepcopy(tools[verb].input_schema)
        for key in write_tools.COMMON:
            schema["properties"].pop(key, None)
        schema["required"] = [k for k in schema.get("required", ()) if k not in write_tools.COMMON]
        schema["additionalProperties"] = False
        schemas[verb] = schema
    return schemas


VERB_SCHEMAS: dict[str, dict] = _verb_schemas()
_VALIDATORS = {verb: Draft202012Validator(schema, format_checker=FormatChecker())
               for verb, schema in VERB_SCHEMAS.items()}


def validate_rule(data: Any) -> dict:
    """The rule normalized (defaults filled, no `_id`, no timestamps); RuleError otherwise."""
    if not isinstance(data, dict):
        raise RuleError(["a rule must be a JSON object"])
    problems = _unknown_keys(data, RULE_KEYS, "")
    name = data.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= MAX_NAME or CONTROL_RE.search(name):
        problems.append(f"name: required, 1 to {MAX_NAME} characters on one line")
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        problems.append(f"description: a string of at most {MAX_DESCRIPTION} characters")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append("enabled: must be true or false")
    cooldown = data.get("cooldown_seconds", 0)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int) or not 0 <= cooldown <= MAX_COOLDOWN:
        problems.append(f"cooldown_seconds: a whole number of seconds from 0 to {MAX_COOLDOWN}")
    trigger = _trigger(data.get("trigger"), problems)
    actions = _actions(data.get("actions"), problems)
    if problems:
        raise RuleError(problems)
    return {"name": name.strip(), "description": description, "enabled": enabled,
            "trigger": trigger, "actions": actions, "cooldown_seconds": cooldown}


def _unknown_keys(data: dict, allowed: tuple[str, ...], where: str) -> list[str]:
    prefix = f"{where}: " if where else ""
    return [f"{prefix}unknown key {_short(k)} (allowed: {', '.join(allowed)})"
            for k in data if k not in allowed]


def _trigger(trigger: Any, problems: list[str]) -> dict:
    if not isinstance(trigger, dict):
        problems.append("trigger: required, an object {event, conditions}")
        return {}
    problems += _unknown_keys(trigger, TRIGGER_KEYS, "trigger")
    event = trigger.get("event")
    if event not in EVENT_TYPES:
        problems.append(f"trigger.event: {_short(event)} is not an event type; use one of: "
                        f"{', '.join(EVENT_TYPES)}")
    conditions, found = validate_conditions(trigger.get("conditions", []), "trigger.conditions")
    problems += found
    return {"event": event, "conditions": conditions}


def _actions(actions: Any, problems: list[str]) -> list[dict]:
    if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_ACTIONS:
        problems.append(f"actions: required, a list of 1 to {MAX_ACTIONS} {{verb, params}} objects")
        return []
    out = []
    for i, action in enumerate(actions):
        where = f"actions[{i}]"
        if not isinstance(action, dict):
            problems.append(f"{where}: must be an object {{verb, params}}")
            continue
        problems += _unknown_keys(action, ACTION_KEYS, where)
        verb, params = action.get("verb"), action.get("params", {})
        if verb not in ACTIONS:
            problems.append(f"{where}.verb: {_short(verb)} is not an action; use one of: "
                            f"{', '.join(ACTIONS)}")
        if not isinstance(params, dict):
            problems.append(f"{where}.params: must be an object")
        elif verb in ACTIONS:
            problems += template_problems(params, f"{where}.params")
            problems += check_params(verb, with_placeholders(verb, params), f"{where}.params")
        out.append({"verb": verb, "params": copy.deepcopy(params)})
    return out


# --- parameters and templates ------------------------------------------------------------------

def check_params(verb: str, params: dict, where: str = "params") -> list[str]:
    """Problems of concrete `params` for `verb` against the write tool's schema (the worker can
    check rendered params with the same messages)."""
    schema = VERB_SCHEMAS[verb]
    allowed, required = schema["properties"], schema.get("required", [])
    problems = [f"{where}: {verb} has no param {_short(k)} (it takes: {', '.join(allowed)})"
                for k in params if k not in allowed]
    problems += [f"{where}: missing required param {k!r} ({verb} needs {', '.join(required)})"
                 for k in required if k not in params]
    for error in sorted(_VALIDATORS[verb].iter_errors(params), key=lambda e: [str(p) for p in e.path]):
        if error.validator in ("required", "additionalProperties"):
            continue
        at = where + "".join(f".{p}" for p in error.path)
        problems.append(f"{at}: {_schema_message(error)}")
    return problems


def _schema_message(error) -> str:
    rule, limit = error.validator, error.validator_value
    if rule == "maxLength":
        return f"at most {limit} characters"
    if rule == "minLength":
        return "must not be empty" if limit == 1 else f"at least {limit} characters"
    if rule == "pattern" and limit == ID_PATTERN:
        return (f"{_short(error.instance)} is not a Vectis id (like tkt_… from the list tools) "
                "or a whole template such as {{ticket.id}}")
    if rule == "enum":
        return f"{_short(error.instance)} is not one of: {', '.join(map(str, limit))}"
    if rule == "type":
        return f"must be of type {limit}"
    message = error.message
    return message if len(message) <= 200 else message[:197] + "..."


def template_problems(value: Any, where: str) -> list[str]:
    """Templates `{{path}}` in `value` (at any depth) that address nothing a context offers."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in template_problems(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in template_problems(v, f"{where}[{i}]")]
    if not isinstance(value, str):
        return []
    problems = [f"{where}: template {{{{{m.group(1)}}}}}: {problem}"
                for m in TEMPLATE_RE.finditer(value) if (problem := path_problem(m.group(1)))]
    rest = TEMPLATE_RE.sub("", value)
    if "{{" in rest or "}}" in rest:
        problems.append(f"{where}: unbalanced template braces; write templates as {{{{ticket.id}}}}")
    return problems


def with_placeholders(verb: str, params: dict) -> dict:
    """`params` with each template replaced by a plausible value, to check them at save time."""
    properties = VERB_SCHEMAS[verb]["properties"]
    return {k: _placeholder_in(v, properties.get(k)) for k, v in params.items()}


def _placeholder_in(value: Any, schema: dict | None) -> Any:
    if isinstance(value, dict):
        return {k: _placeholder_in(v, None) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholder_in(v, None) for v in value]
    if not isinstance(value, str):
        return value
    if schema is not None and WHOLE_TEMPLATE_RE.match(value):
        return _placeholder(schema)
    return TEMPLATE_RE.sub("x", value)


def _placeholder(schema: dict) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "string":
        text = "x" * max(1, schema.get("minLength", 1))
        for candidate in (text, SAMPLE_ID):
            if Draft202012Validator(schema).is_valid(candidate):
                return candidate
        return text
    return "x"


def render_params(params: Any, context: dict) -> Any:
    """`params` with every template filled from `context`. A string that is exactly one template
    takes the value itself (an id stays an id, a number a number; a date becomes ISO text); a
    template inside text is replaced by the value as text. A missing value renders as ""."""
    if isinstance(params, dict):
        return {k: render_params(v, context) for k, v in params.items()}
    if isinstance(params, list):
        return [render_params(v, context) for v in params]
    if not isinstance(params, str):
        return params
    whole = WHOLE_TEMPLATE_RE.match(params)
    if whole:
        value = _lookup(context, whole.group(1))
        if value is None:
            return ""
        return copy.deepcopy(value) if isinstance(value, str | int | float | bool | list | dict) \
            else as_text(value)
    return TEMPLATE_RE.sub(lambda m: as_text(_lookup(context, m.group(1))), params)


def _lookup(context: dict, path: str) -> Any:
    # A path a saved rule could not hold (e.g. a rule written to the database by other means)
    # reads nothing rather than reaching outside the context's documents.
    return None if path_problem(path) else resolve(context, path)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
