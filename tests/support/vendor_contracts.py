"""Vendor contracts: each vendor's `contract.json` (vectis/vendors/<vendor>/), written from the
vendor's published API, held against what crosses the wire between our connectors and our
simulators.

Two checks run on every exchange a simulator reports (`simkit.EXCHANGE_OBSERVERS`):
- a request sent by a connector (User-Agent `Vectis-MCP/...`) must be an operation the contract
  lists, with its query, headers and body valid;
- every answer the simulator gives must be one the contract allows for that operation or among
  the vendor's documented errors, with a valid body and headers.
Requests that tests send to a simulator by hand are not held to the contract (they probe it),
but the simulator's answers to them are.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jsonschema import Draft202012Validator

from vectis.vendors.registry import VENDORS
from vectis.vendors.simkit import Exchange

VENDORS_DIR = Path(__file__).resolve().parents[2] / "vectis" / "vendors"
CONNECTOR_AGENT = "Vectis-MCP/"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    pattern: re.Pattern
    spec: dict


class Contract:
    def __init__(self, vendor: str, doc: dict):
        self.vendor = vendor
        self.doc = doc
        self.operations = [Operation(name, op["method"].upper(), _path_pattern(op["path"]), op)
                           for name, op in doc["operations"].items()]
        # Fixed paths before templated ones, so `/alerts/count` is never taken for `/alerts/{id}`.
        self.operations.sort(key=lambda op: op.spec["path"].count("{"))

    def operation(self, method: str, path: str) -> Operation | None:
        return next((op for op in self.operations
                     if op.method == method and op.pattern.fullmatch(path)), None)

    def validator(self, schema: Any) -> Draft202012Validator:
        # Schemas refer to shared definitions as `#/defs/Name`: wrap each in a root that has them.
        return Draft202012Validator({"defs": self.doc.get("defs", {}), "allOf": [schema]},
                                    format_checker=Draft202012Validator.FORMAT_CHECKER)

    def response_spec(self, op: Operation | None, status: int) -> dict | None:
        klass = f"{status // 100}XX"
        for table in ((op.spec.get("responses") or {}) if op else {}, self.doc.get("errors") or {}):
            for key in (str(status), klass, "default"):
                if key in table:
                    return table[key]
        return None

    # --- the checks --------------------------------------------------------------------------
    def check(self, exchange: Exchange) -> list[str]:
        where = f"{self.vendor}: {exchange.method} {exchange.path}"
        op = self.operation(exchange.method, exchange.path)
        problems: list[str] = []
        if exchange.headers.get("user-agent", "").startswith(CONNECTOR_AGENT):
            if op is None:
                return [f"{where}: the connector sent a request the contract does not list"]
            problems += [f"{where} request: {p}" for p in self._request_problems(op, exchange)]
        if op is None and 200 <= exchange.status < 300:
            return problems           # a test probing a path the contract has no word on
        spec = self.response_spec(op, exchange.status)
        if spec is None:
            problems.append(f"{where}: answered {exchange.status}, which the vendor does not "
                            f"document for {op.name if op else 'this path'}")
            return problems
        problems += [f"{where} answer {exchange.status}: {p}"
                     for p in self._response_problems(spec, exchange)]
        return problems

    def _request_problems(self, op: Operation, exchange: Exchange) -> list[str]:
        spec = op.spec
        problems = []
        query = {k: v[0] if len(v) == 1 else v for k, v in exchange.query.items()}
        problems += self._errors(spec.get("query", {"type": "object", "maxProperties": 0}), query,
                                 "query")
        if "headers" in spec:
            problems += self._errors(spec["headers"], exchange.headers, "headers")
        body_schema = spec.get("body")
        if body_schema is None:
            if exchange.body:
                problems.append("sent a body where the vendor takes none")
            return problems
        content_type = exchange.headers.get("content-type", "")
        declared = spec.get("content_type", "application/json")
        if declared.startswith("text/"):
            if not content_type.startswith(declared):
                problems.append(f"body sent as {content_type!r}, the vendor takes {declared}")
            body = exchange.body.decode("utf-8", "replace")
        elif declared.startswith(FORM):
            if not content_type.startswith(FORM):
                problems.append(f"body sent as {content_type!r}, the vendor takes a form")
            body = {k: v[0] if len(v) == 1 else v
                    for k, v in parse_qs(exchange.body.decode(), keep_blank_values=True).items()}
        else:
            try:
                body = json.loads(exchange.body or b"null")
            except ValueError:
                return problems + ["the body is not JSON"]
        return problems + self._errors(body_schema, body, "body")

    def _response_problems(self, spec: dict, exchange: Exchange) -> list[str]:
        problems = []
        if "headers" in spec:
            problems += self._errors(spec["headers"], exchange.response_headers, "headers")
        if "body" not in spec or spec["body"] is None:
            return problems + (["has a body where the vendor sends none"]
                               if exchange.response_body.strip() else [])
        if spec["body"] == {}:
            return problems
        try:
            body = json.loads(exchange.response_body or b"null")
        except ValueError:
            return problems + ["the body is not JSON"]
        return problems + self._errors(spec["body"], body, "body")

    def _errors(self, schema: Any, value: Any, what: str) -> list[str]:
        found = sorted(self.validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
        return [f"{what} at /{'/'.join(map(str, e.absolute_path))}: {e.message[:240]}"
                for e in found[:5]]


def _path_pattern(template: str) -> re.Pattern:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


@cache
def contract(vendor: str) -> Contract | None:
    path = VENDORS_DIR / vendor / "contract.json"
    if not path.exists():
        return None
    return Contract(vendor, json.loads(path.read_text()))


def check_exchange(exchange: Exchange) -> list[str]:
    found = contract(exchange.vendor) if exchange.vendor in VENDORS else None
    return [] if found is None else found.check(exchange)
