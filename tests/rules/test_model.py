"""The rule model: validation and normalization of what operators write, condition evaluation,
the regex guard and parameter templates. Pure functions: no database."""
import copy
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import re2

from vectis.rules.conditions import MAX_TEXT
from vectis.rules.model import (
    EVENT_TYPES,
    VERB_SCHEMAS,
    RuleError,
    check_params,
    evaluate,
    render_params,
    validate_rule,
)
from vectis.rules.regexes import ENGINE, compiled, regex_problem
from vectis.sync.records import ENTITIES
from vectis.tools import write_tools
from vectis.writes.actions import ACTIONS

TICKET_ID = "tkt_aaaaaaaaaaaaaaaa"
ALERT_ID = "alr_bbbbbbbbbbbbbbbb"
CUSTOMER_ID = "cus_cccccccccccccccc"


def rule(**overrides) -> dict:
    base = {
        "name": "Acknowledge disk alerts",
        "trigger": {"event": "alert.created",
                    "conditions": [{"field": "alert.title", "op": "matches", "value": "(?i)disk"}]},
        "actions": [{"verb": "acknowledge_alert", "params": {"alert_id": "{{alert.id}}"}}],
    }
    base.update(overrides)
    return base


def problems_of(data) -> list[str]:
    with pytest.raises(RuleError) as caught:
        validate_rule(data)
    assert caught.value.problems and str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


def one_problem(data, expected: str) -> str:
    problems = problems_of(data)
    assert len(problems) == 1, problems
    assert expected in problems[0], problems
    return problems[0]


# --- validation ----------------------------------------------------------------------------

def test_a_valid_rule_is_normalized_with_defaults():
    data = rule(name="  Acknowledge disk alerts  ")
    original = copy.deepcopy(data)
    normalized = validate_rule(data)
    assert normalized == {
        "name": "Acknowledge disk alerts", "description": "", "enabled": True,
        "trigger": {"event": "alert.created",
                    "conditions": [{"field": "alert.title", "op": "matches", "value": "(?i)disk"}]},
        "actions": [{"verb": "acknowledge_alert", "params": {"alert_id": "{{alert.id}}"}}],
        "cooldown_seconds": 0,
    }
    assert data == original                                  # the input is left alone
    normalized["actions"][0]["params"]["alert_id"] = "changed"
    assert data["actions"][0]["params"]["alert_id"] == "{{alert.id}}"


def test_a_full_rule_keeps_every_value():
    data = {
        "name": "Escalate critical tickets", "description": "Page the on-call", "enabled": False,
        "trigger": {"event": "ticket.updated", "conditions": [
            {"field": "event.data.changes.priority.1", "op": "eq", "value": "critical"},
            {"field": "ticket.status", "op": "in", "value": ["new", "open"]},
            {"field": "ticket.message_count", "op": "gte", "value": 3},
            {"field": "ticket.created_at", "op": "lt", "value": "2030-01-01T00:00:00Z"},
            {"field": "ticket.assignee", "op": "exists", "value": False},
            {"field": "customer.name", "op": "starts_with", "value": "Acme"},
        ]},
        "actions": [
            {"verb": "add_internal_note", "params": {"ticket_id": "{{ticket.id}}",
                                                    "body": "Escalated: {{ticket.subject}}"}},
            {"verb": "create_ticket", "params": {"customer_id": "{{ event.customer_id }}",
                                                "subject": "Critical: {{ticket.number}}",
                                                "description": "See {{ticket.number}}",
                                                "priority": "critical"}},
        ],
        "cooldown_seconds": 3600,
    }
    assert validate_rule(data) == data


def test_empty_conditions_and_manual_trigger_are_fine():
    normalized = validate_rule(rule(trigger={"event": "manual"}, actions=[
        {"verb": "close_ticket", "params": {"ticket_id": TICKET_ID}}]))
    assert normalized["trigger"] == {"event": "manual", "conditions": []}


def test_event_types_cover_everything_sync_emits():
    source = (Path(__file__).parents[2] / "vectis" / "sync" / "apply.py").read_text()
    emitted = set(re.findall(r'event\(run, "([a-z_.]+)"', source))
    emitted |= {entity.rstrip("s") + ".created" for entity in ENTITIES}
    assert emitted and emitted <= set(EVENT_TYPES)
    assert "manual" in EVENT_TYPES and len(set(EVENT_TYPES)) == len(EVENT_TYPES)


def conditions(*items) -> dict:
    return rule(trigger={"event": "alert.created", "conditions": list(items)})


def action(verb, **params) -> dict:
    return rule(actions=[{"verb": verb, "params": params}])


@pytest.mark.parametrize("data, expected", [
    (["not", "an", "object"], "a rule must be a JSON object"),
    (rule(owner="me"), "unknown key 'owner'"),
    (rule(id="rul_x"), "unknown key 'id'"),
    (rule(name=""), "name: required, 1 to 120 characters"),
    (rule(name="   "), "name: required"),
    (rule(name="x" * 121), "name: required, 1 to 120 characters"),
    (rule(name="two\nlines"), "on one line"),
    (rule(name=7), "name: required"),
    (rule(description="x" * 2001), "description: a string of at most 2000"),
    (rule(description=None), "description"),
    (rule(enabled="yes"), "enabled: must be true or false"),
    (rule(cooldown_seconds=-1), "cooldown_seconds: a whole number of seconds from 0 to 86400"),
    (rule(cooldown_seconds=86401), "cooldown_seconds"),
    (rule(cooldown_seconds=1.5), "cooldown_seconds"),
    (rule(cooldown_seconds=True), "cooldown_seconds"),
    (rule(trigger=None), "trigger: required"),
    (rule(trigger={"event": "alert.exploded"}), "trigger.event: 'alert.exploded' is not an event type"),
    (rule(trigger={"event": "alert.created", "when": "now"}), "trigger: unknown key 'when'"),
    (rule(trigger={"event": "alert.created", "conditions": {}}), "trigger.conditions: must be a list"),
    (rule(trigger={"event": "alert.created", "conditions": ["x"]}), "trigger.conditions[0]: must be an object"),
    (conditions(*[{"field": "alert.title", "op": "eq", "value": "x"}] * 21), "at most 20 conditions"),
    (conditions({"field": "alert.title", "op": "eq", "value": "x", "note": 1}), "unknown key 'note'"),
    (conditions({"field": "alert.title", "op": "eq"}), "trigger.conditions[0]: missing 'value'"),
    (conditions({"field": "Alert.Title", "op": "eq", "value": "x"}), "is not a path"),
    (conditions({"field": "alert.title;drop", "op": "eq", "value": "x"}), "is not a path"),
    (conditions({"field": "a.b.c.d.e.f.g", "op": "eq", "value": "x"}), "at most 6 parts"),
    (conditions({"field": "user.email", "op": "eq", "value": "x"}), "must start with one of: event, ticket"),
    (conditions({"field": "alert", "op": "exists", "value": True}), "must name a field, e.g. alert.id"),
    (conditions({"field": "event.secret", "op": "eq", "value": "x"}), "an event offers"),
    (conditions({"field": "alert.title", "op": "like", "value": "x"}), "'like' is not an operator"),
    (conditions({"field": "alert.title", "op": "eq", "value": {"$ne": 1}}), "must be a string, a number"),
    (conditions({"field": "alert.title", "op": "eq", "value": "x" * 1001}), "at most 1000 characters"),
    (conditions({"field": "alert.title", "op": "eq", "value": float("nan")}), "must be a string, a number"),
    (conditions({"field": "alert.severity", "op": "in", "value": "critical"}), "in needs a list of 1 to 50"),
    (conditions({"field": "alert.severity", "op": "in", "value": []}), "in needs a list of 1 to 50"),
    (conditions({"field": "alert.severity", "op": "not_in", "value": list(range(51))}), "not_in needs a list"),
    (conditions({"field": "alert.severity", "op": "in", "value": [["x"]]}), "item 0: must be a string"),
    (conditions({"field": "alert.title", "op": "starts_with", "value": 5}), "starts_with needs a string"),
    (conditions({"field": "alert.title", "op": "contains", "value": None}), "contains needs a value"),
    (conditions({"field": "alert.created_at", "op": "gt", "value": "yesterday"}), "gt needs a number or an ISO date"),
    (conditions({"field": "alert.created_at", "op": "lte", "value": True}), "lte needs a number"),
    (conditions({"field": "alert.created_at", "op": "gte", "value": "2025-13-45"}), "gte needs a number"),
    (conditions({"field": "alert.asset_id", "op": "exists", "value": "yes"}), "exists needs true or false"),
    (conditions({"field": "alert.title", "op": "matches", "value": ""}), "matches needs a regular expression"),
    (conditions({"field": "alert.title", "op": "matches", "value": "(unclosed"}), "invalid regular expression"),
    (rule(actions=[]), "actions: required, a list of 1 to 5"),
    (rule(actions={"verb": "close_ticket"}), "actions: required"),
    (rule(actions=[{"verb": "close_ticket", "params": {"ticket_id": TICKET_ID}}] * 6), "actions: required, a list of 1 to 5"),
    (rule(actions=["close_ticket"]), "actions[0]: must be an object"),
    (rule(actions=[{"verb": "close_ticket", "params": {"ticket_id": TICKET_ID}, "when": 1}]), "actions[0]: unknown key 'when'"),
    (rule(actions=[{"verb": "delete_customer", "params": {}}]), "actions[0].verb: 'delete_customer' is not an action"),
    (rule(actions=[{"verb": "close_ticket", "params": [TICKET_ID]}]), "actions[0].params: must be an object"),
    (action("close_ticket"), "missing required param 'ticket_id' (close_ticket needs ticket_id)"),
    (action("create_ticket", customer_id=CUSTOMER_ID, subject="Disk"), "missing required param 'description'"),
    (action("close_ticket", ticket_id=TICKET_ID, force=True), "close_ticket has no param 'force'"),
    (action("close_ticket", ticket_id=TICKET_ID, dry_run=True), "close_ticket has no param 'dry_run'"),
    (action("close_ticket", ticket_id=TICKET_ID, idempotency_key="k"), "has no param 'idempotency_key'"),
    (action("close_ticket", ticket_id="123"), "actions[0].params.ticket_id: '123' is not a Vectis id"),
    (action("close_ticket", ticket_id="tkt-{{ticket.number}}"), "is not a Vectis id"),
    (action("create_ticket", customer_id=CUSTOMER_ID, subject="x", description="y", priority="urgent"),
     "actions[0].params.priority: 'urgent' is not one of: low, medium, high, critical"),
    (action("create_ticket", customer_id=CUSTOMER_ID, subject="", description="y"), "params.subject: must not be empty"),
    (action("create_ticket", customer_id=CUSTOMER_ID, subject="x" * 201, description="y"), "params.subject: at most 200 characters"),
    (action("acknowledge_alert", alert_id=ALERT_ID, note=5), "params.note: must be of type string"),
    (action("acknowledge_alert", alert_id="{{user.id}}"), "template {{user.id}}: 'user.id' must start with one of"),
    (action("reply_to_ticket", ticket_id="{{ticket.id}}", body="Hi {{ticket.Requester}}"), "template {{ticket.Requester}}"),
    (action("reply_to_ticket", ticket_id="{{ticket.id}}", body="Hi {{ticket.subject}"), "unbalanced template braces"),
])
def test_each_invalid_input_gives_a_clear_problem(data, expected):
    one_problem(data, expected)


def test_every_problem_is_reported_at_once():
    problems = problems_of({
        "name": "", "extra": 1, "enabled": "no", "cooldown_seconds": -5,
        "trigger": {"event": "nope", "conditions": [
            {"field": "alert.title", "op": "matches", "value": "(a)\\1"},
            {"field": "Bad", "op": "gt", "value": "soon"}]},
        "actions": [{"verb": "create_ticket", "params": {"customer_id": "{{customer.id}}", "x": 1}},
                    {"verb": "nuke"}],
    })
    assert [p.split(":")[0] for p in problems] == [
        "unknown key 'extra' (allowed", "name", "enabled", "cooldown_seconds", "trigger.event",
        "trigger.conditions[0].value", "trigger.conditions[1].field", "trigger.conditions[1].value",
        "actions[0].params", "actions[0].params", "actions[0].params", "actions[1].verb"]
    assert any("missing required param 'subject'" in p for p in problems)
    assert any("create_ticket has no param 'x'" in p for p in problems)


def test_the_verb_schemas_are_the_write_tools_minus_dry_run_and_idempotency_key():
    assert set(VERB_SCHEMAS) == set(ACTIONS)
    tools = {tool.name: tool for tool in write_tools.TOOLS}
    for verb, schema in VERB_SCHEMAS.items():
        tool_schema = tools[verb].input_schema
        expected = {k: v for k, v in tool_schema["properties"].items() if k not in write_tools.COMMON}
        assert schema["properties"] == expected
        assert schema["required"] == tool_schema["required"]
        assert schema["additionalProperties"] is False
        assert "dry_run" in tool_schema["properties"]        # the tool itself is untouched


def test_whole_templates_stand_in_for_ids_and_enums():
    normalized = validate_rule(rule(actions=[
        {"verb": "create_ticket", "params": {"customer_id": "{{customer.id}}", "subject": "{{alert.title}}",
                                            "description": "{{alert.message}}", "priority": "{{ticket.priority}}",
                                            "contact_id": "{{customer.primary_contact_id}}"}},
        {"verb": "resolve_alert", "params": {"alert_id": "{{ alert.id }}", "note": "by rule"}},
    ]))
    assert normalized["actions"][1]["params"]["alert_id"] == "{{ alert.id }}"


def test_check_params_checks_rendered_params_too():
    assert check_params("close_ticket", {"ticket_id": TICKET_ID}) == []
    assert check_params("close_ticket", {"ticket_id": ""}) == [
        "params.ticket_id: '' is not a Vectis id (like tkt_… from the list tools) or a whole template "
        "such as {{ticket.id}}"]
    assert check_params("reply_to_ticket", {}) == [
        "params: missing required param 'ticket_id' (reply_to_ticket needs ticket_id, body)",
        "params: missing required param 'body' (reply_to_ticket needs ticket_id, body)"]


# --- regular expressions -------------------------------------------------------------------

# Shapes that make a backtracking engine explode. RE2 matches in linear time, so they are
# accepted and searched like any other pattern.
ONCE_CATASTROPHIC = [
    ("(a+)+$", "a" * 990 + "b", False),
    ("(a*)*b", "a" * 1000, False),
    ("(a|a)*c", "a" * 1000, False),
    ("(.*)*x", "y" * 1000, False),
    ("(?:a+)+$", "aaaa", True),
    (r"(\w+\s?)+$", "word " * 150 + "!", False),
    (r"^(\d+)*$", "1" * 999 + "x", False),
    (".*.*.*x", "y" * 1000, False),
    (r"\w+\w+\w+=", "key=value", True),
    (r"\w+(a|a)(a|a)(a|a)(a|a)(a|a)(a|a)=", "ba" * 500, False),
    ("(?i:a+)+", "AAA", True),
    ("(?P<n>a+)+", "xaay", True),
    ("(a|ab)+c", "ababc", True),
]


@pytest.mark.parametrize("pattern, text, expected", ONCE_CATASTROPHIC,
                         ids=[pattern for pattern, _, _ in ONCE_CATASTROPHIC])
def test_patterns_that_would_backtrack_are_accepted_and_searched_by_re2(pattern, text, expected):
    assert regex_problem(pattern) is None
    validate_rule(conditions({"field": "alert.message", "op": "matches", "value": pattern}))
    assert isinstance(compiled(pattern), ENGINE)
    assert evaluate([{"field": "alert.message", "op": "matches", "value": pattern}],
                    {"alert": {"message": text}}) is expected


def test_matching_never_falls_back_to_pythons_backtracking_re():
    # Deterministic, not timed: what matches runs is an RE2 object (the C++ engine behind it),
    # never a re.Pattern; a `re2` module that fell back to `re` would also compile the
    # backreference below instead of refusing it.
    assert ENGINE.__module__ == "re2" and not issubclass(ENGINE, re.Pattern)
    regex = compiled("(a+)+$")
    assert isinstance(regex, ENGINE) and not isinstance(regex, re.Pattern)
    assert isinstance(regex._regexp, re2._re2.RE2)
    assert regex.search("a" * 5000 + "b") is None and regex.search("a" * 5000)
    assert compiled(r"(a)\1") is None and compiled("a(?=b)") is None


REFUSED = [   # a construct RE2 lacks -> the start of the message, which says what to write instead
    (r"(a)\1", "backreferences", "write the repeated text out"),
    (r"(?P<w>\w)(?P=w)", "backreferences", "write the repeated text out"),
    (r"(?<w>\w)\k<w>", "backreferences", "write the repeated text out"),
    ("disk(?=full)", "lookahead", "write the text to match directly"),
    ("disk(?! ok)", "lookahead", "for what must not follow"),
    ("(?<=C:)full", "lookbehind", "include the preceding text"),
    ("(?<!not )full", "lookbehind", "include the preceding text"),
    ("a++b", "possessive quantifiers", "write a+, a*, a? or {n,m}"),
    ("a{2,3}+b", "possessive quantifiers", "write a+, a*, a? or {n,m}"),
    ("(?>a+)b", "atomic groups", "write (?:…)"),
    ("(a)?(?(1)b|c)", "conditionals", "write each case as an alternative"),
    ("(?x) a+ ", "the verbose flag", "without spaces"),
    ("(?#a comment)x", "comments", "leave the comment out"),
    (r"end\Z", r"\Z is not supported", r"write \z"),
    (r"caf\u00e9", r"\u, \U and \N", r"\x{00e9}"),
    ("(?a)x", "the flags (?a)", "(?i), (?m), (?s)"),
]


@pytest.mark.parametrize("pattern, construct, instead", REFUSED)
def test_constructs_re2_lacks_are_refused_at_save_saying_what_to_write(pattern, construct, instead):
    message = one_problem(conditions({"field": "alert.message", "op": "matches", "value": pattern}),
                          "trigger.conditions[0].value: " + construct)
    assert "not supported" in message and instead in message
    assert compiled(pattern) is None


@pytest.mark.parametrize("pattern, expected", [
    ("", "matches needs a regular expression"),
    (5, "matches needs a regular expression"),
    ("a" * 201, "longer than 200 characters"),
    ("(unclosed", "invalid regular expression: missing )"),
    ("a**", "invalid regular expression: bad repetition operator"),
    ("a{1001}", "invalid regular expression: invalid repetition size"),
    (".{1000}" * 25, "too large once compiled"),
])
def test_other_refusals(pattern, expected):
    assert expected in regex_problem(pattern)
    assert compiled(pattern) is None


def test_the_length_cap_is_200_characters():
    assert regex_problem("a" * 200) is None
    assert regex_problem("a" * 201) is not None


SAFE = [
    ("(?i)disk (full|space)", "DISK full on C:", True),
    ("(?i)DISK", "low disk", True),
    ("DISK", "low disk", False),
    (r"^CW-\d+$", "CW-104233", True),
    (r"^CW-\d+$", "CW-104233x", False),
    (r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", "host 10.0.0.12 down", True),
    ("backup.*failed", "backup job nightly failed", True),
    (r"^\S+@\S+$", "ops@acme.example", True),
    (r"(ab)+c", "ababc", True),
    (r"(?:critical|major)\b", "major outage", True),
    (r"\101", "A", True),                       # an octal escape, not a group reference
    (r"[(a+)+]x", "+x", True),                  # parentheses inside a class are characters
    (r"\(a+\)+", "(aa))", True),
    (r"\w*?\w*?=", "key=value", True),
    (r"^caf.$", "café", True),                  # . is one character, not one byte
    (r"\x{e9}", "café", True),
    (r"\p{L}+ü", "Zürich", True),
    (r"end\z", "the end", True),
]


@pytest.mark.parametrize("pattern, text, expected", SAFE)
def test_safe_regexes_are_accepted_and_searched(pattern, text, expected):
    assert regex_problem(pattern) is None
    validate_rule(conditions({"field": "alert.message", "op": "matches", "value": pattern}))
    assert evaluate([{"field": "alert.message", "op": "matches", "value": pattern}],
                    {"alert": {"message": text}}) is expected


def test_matches_reads_only_the_first_1000_characters_as_text():
    cond = [{"field": "alert.message", "op": "matches", "value": "needle"}]
    assert evaluate(cond, {"alert": {"message": "x" * (MAX_TEXT - 6) + "needle"}})
    assert not evaluate(cond, {"alert": {"message": "x" * MAX_TEXT + "needle"}})
    assert evaluate([{"field": "ticket.message_count", "op": "matches", "value": "^4\\d$"}],
                    {"ticket": {"message_count": 42}})
    assert not evaluate(cond, {"alert": {}})                 # nothing to search
    assert evaluate(cond, {"alert": {"message": "\ud800 needle"}})   # odd text: no error


def test_a_refused_regex_stored_around_validation_never_runs():
    cond = [{"field": "alert.message", "op": "matches", "value": "(a)\\1"}]
    assert evaluate(cond, {"alert": {"message": "aa"}}) is False


# --- evaluation ----------------------------------------------------------------------------

WHEN = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CONTEXT = {
    "event": {"_id": "evt_1", "type": "ticket.updated", "at": WHEN, "customer_id": CUSTOMER_ID,
              "object": {"kind": "ticket", "id": TICKET_ID},
              "data": {"changes": {"priority": ["medium", "critical"]}}},
    "ticket": {"_id": TICKET_ID, "number": "CW-1", "status": "open", "priority": "critical",
               "message_count": 4, "created_at": WHEN, "assignee": None, "escalated": True,
               "tags": ["vip", "network"], "requester": {"name": "Ann", "email": "ann@acme.example"},
               "updated_at": "2025-03-02T08:00:00Z"},
    "customer": {"id": CUSTOMER_ID, "name": "Acme Corp", "mrr": 1200.5},
}


@pytest.mark.parametrize("field, op, value, expected", [
    ("event.type", "eq", "ticket.updated", True),
    ("event.id", "eq", "evt_1", True),                           # id reads _id
    ("ticket.id", "eq", TICKET_ID, True),
    ("customer.id", "eq", CUSTOMER_ID, True),
    ("event.data.changes.priority.1", "eq", "critical", True),   # list index
    ("event.data.changes.priority.5", "eq", None, True),
    ("ticket.status", "ne", "closed", True),
    ("ticket.status", "eq", "Open", False),
    ("ticket.escalated", "eq", 1, False),                        # true is not 1
    ("ticket.message_count", "eq", 4.0, True),
    ("ticket.priority", "in", ["high", "critical"], True),
    ("ticket.priority", "not_in", ["high", "critical"], False),
    ("ticket.nothing", "not_in", ["x"], True),
    ("ticket.requester.email", "contains", "@acme", True),
    ("ticket.tags", "contains", "vip", True),
    ("ticket.tags", "contains", "vi", False),
    ("ticket.message_count", "contains", 4, False),
    ("customer.name", "starts_with", "Acme", True),
    ("customer.name", "starts_with", "acme", False),
    ("ticket.message_count", "gt", 3, True),
    ("ticket.message_count", "gte", 4, True),
    ("ticket.message_count", "lt", 4, False),
    ("customer.mrr", "lte", 1200.5, True),
    ("ticket.created_at", "gt", "2025-03-01", True),             # a date is midnight UTC
    ("ticket.created_at", "lt", "2025-03-01T13:00:00+00:00", True),
    ("ticket.created_at", "gte", "2025-03-01T12:00:00Z", True),
    ("ticket.updated_at", "gt", "2025-03-02T07:59:59Z", True),   # an ISO string compares as a time
    ("ticket.created_at", "eq", "2025-03-01T12:00:00Z", True),
    ("ticket.message_count", "gt", "2025-01-01", False),         # a number is not a date
    ("ticket.status", "gt", 3, False),
    ("ticket.nothing", "lt", 3, False),
    ("ticket.assignee", "exists", False, True),
    ("ticket.nothing.deeper", "exists", False, True),
    ("ticket.number", "exists", True, True),
    ("alert.title", "exists", True, False),                     # no alert in this context
    ("ticket.number", "matches", "^CW-", True),
])
def test_each_operator(field, op, value, expected):
    assert evaluate([{"field": field, "op": op, "value": value}], CONTEXT) is expected


def test_all_conditions_must_hold():
    yes = {"field": "ticket.status", "op": "eq", "value": "open"}
    no = {"field": "ticket.status", "op": "eq", "value": "closed"}
    assert evaluate([], CONTEXT) is True
    assert evaluate([yes, yes], CONTEXT) is True
    assert evaluate([yes, no], CONTEXT) is False


class Hostile:
    def __eq__(self, other):
        raise RuntimeError("no comparing")

    __hash__ = object.__hash__

    def __str__(self):
        raise RuntimeError("no text")

    def __gt__(self, other):
        raise RuntimeError("no order")


ODD_CONDITIONS = [
    None, "ticket.status", [None], [[1, 2]], [{}], [{"field": "ticket.status"}],
    [{"field": 5, "op": "eq", "value": 1}], [{"field": None, "op": "exists", "value": True}],
    [{"field": "ticket.status", "op": "teleport", "value": 1}],
    [{"field": "ticket.status", "op": "in", "value": None}],
    [{"field": "ticket.status", "op": "in", "value": "open"}],
    [{"field": "ticket.status", "op": "matches", "value": None}],
    [{"field": "ticket.status", "op": "matches", "value": "("}],
    [{"field": "ticket.status", "op": "gt", "value": {"a": 1}}],
    [{"field": "ticket.status", "op": "exists", "value": "yes"}],
]
ODD_CONTEXTS = [
    None, [], "text", 42, {"ticket": None}, {"ticket": "open"}, {"ticket": ["a", "b"]},
    {"ticket": {"status": Hostile(), "tags": [Hostile()], "created_at": datetime(2025, 1, 1)}},
    {"ticket": {"status": float("nan"), "created_at": "not a date", "tags": {"x": 1}}},
    {"ticket": {"status": 10 ** 400, "created_at": "2025-02-30T00:00:00", "tags": None}},
    {"ticket": {"status": b"\xff\xfe", "created_at": True, "tags": "vip"}},
]


@pytest.mark.parametrize("context", ODD_CONTEXTS)
def test_evaluate_never_raises_on_odd_data(context):
    for op, value in [("eq", "open"), ("ne", "open"), ("in", ["open"]), ("not_in", ["open"]),
                      ("contains", "op"), ("starts_with", "o"), ("gt", 1), ("lt", "2025-01-01"),
                      ("gte", 1.5), ("lte", "2025-01-01T00:00:00Z"), ("exists", True),
                      ("matches", "o")]:
        for field in ("ticket.status", "ticket.tags", "ticket.created_at", "ticket.status.deeper"):
            result = evaluate([{"field": field, "op": op, "value": value}], context)
            assert result in (True, False)
    for odd in ODD_CONDITIONS:
        assert evaluate(odd, context) is False


def test_naive_datetimes_are_taken_as_utc():
    context = {"ticket": {"created_at": datetime(2025, 1, 1, 10, 0)}}
    assert evaluate([{"field": "ticket.created_at", "op": "gt", "value": "2025-01-01T09:59:00Z"}], context)
    assert evaluate([{"field": "ticket.created_at", "op": "lt", "value": "2025-01-01T11:00:00+01:00"}],
                    context) is False


# --- templates -----------------------------------------------------------------------------

def test_templates_render_with_types_kept():
    params = {
        "ticket_id": "{{ticket.id}}", "count": "{{ ticket.message_count }}", "flag": "{{ticket.escalated}}",
        "when": "{{ticket.created_at}}", "tags": "{{ticket.tags}}", "missing": "{{alert.id}}",
        "body": "Ticket {{ticket.number}} for {{customer.name}} ({{ticket.message_count}} messages, "
                "escalated {{ticket.escalated}}, alert '{{alert.title}}', at {{event.at}})",
        "nested": {"list": ["{{customer.mrr}}", "n={{customer.mrr}}", 7, None, True]},
        "plain": "no templates here", "number": 3,
    }
    original = copy.deepcopy(params)
    rendered = render_params(params, CONTEXT)
    assert rendered == {
        "ticket_id": TICKET_ID, "count": 4, "flag": True, "when": "2025-03-01T12:00:00+00:00",
        "tags": ["vip", "network"], "missing": "",
        "body": "Ticket CW-1 for Acme Corp (4 messages, escalated true, alert '', "
                "at 2025-03-01T12:00:00+00:00)",
        "nested": {"list": [1200.5, "n=1200.5", 7, None, True]},
        "plain": "no templates here", "number": 3,
    }
    assert params == original
    rendered["tags"].append("changed")
    assert CONTEXT["ticket"]["tags"] == ["vip", "network"]       # a rendered list is a copy


def test_templates_never_reach_outside_the_allowed_roots():
    context = {**CONTEXT, "secrets": {"token": "s3cr3t"}}
    assert render_params({"a": "{{secrets.token}}", "b": "x{{secrets.token}}"}, context) == {"a": "", "b": "x"}


def test_rendered_params_pass_the_verb_schema():
    data = rule(trigger={"event": "ticket.updated"}, actions=[
        {"verb": "add_internal_note", "params": {"ticket_id": "{{ticket.id}}",
                                                "body": "Priority now {{ticket.priority}}"}}])
    params = render_params(validate_rule(data)["actions"][0]["params"], CONTEXT)
    assert params == {"ticket_id": TICKET_ID, "body": "Priority now critical"}
    assert check_params("add_internal_note", params) == []
