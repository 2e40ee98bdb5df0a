"""The contract check itself: a small vendor contract, a simulator that serves it over real HTTP,
and the exchanges the check accepts and refuses. The per-vendor contract tests rely on this."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from vectis.vendors import simkit
from vectis.vendors.errors import VendorError
from vectis.vendors.registry import VENDORS
from vectis.vendors.simkit import Fault, Simulator

from ..support.vendor_contracts import VENDORS_DIR, Contract, contract

TOY = {
    "vendor": "toy", "checked": "2026-12-07", "sources": [], "verified": "yes",
    "defs": {"Thing": {"type": "object", "required": ["id", "when"], "additionalProperties": False,
                       "properties": {"id": {"type": "integer"},
                                      "when": {"type": "string", "format": "date-time"}}}},
    "errors": {"429": {"body": {"type": "object", "required": ["errors"]},
                       "headers": {"type": "object", "required": ["retry-after"]}},
               "5XX": {"body": {}}},
    "operations": {
        "list_things": {"method": "GET", "path": "/api/things", "verified": True, "evidence": "toy",
                        "query": {"type": "object", "additionalProperties": False,
                                  "properties": {"page": {"type": "string", "pattern": "^[0-9]+$"}}},
                        "responses": {"200": {"body": {"type": "array",
                                                       "items": {"$ref": "#/defs/Thing"}}}}},
        "count_things": {"method": "GET", "path": "/api/things/count", "verified": True,
                         "evidence": "toy", "responses": {"200": {"body": {"type": "integer"}}}},
        "get_thing": {"method": "GET", "path": "/api/things/{id}", "verified": True, "evidence": "toy",
                      "responses": {"200": {"body": {"$ref": "#/defs/Thing"}},
                                    "404": {"body": None}}},
        "token": {"method": "POST", "path": "/oauth/token", "verified": True, "evidence": "toy",
                  "content_type": "application/x-www-form-urlencoded",
                  "body": {"type": "object", "required": ["grant_type"],
                           "properties": {"grant_type": {"const": "client_credentials"}}},
                  "responses": {"200": {"body": {"type": "object"}}}},
    },
}


class ToySimulator(Simulator):
    vendor = "toy"

    def __init__(self) -> None:
        self.things: list = [{"id": 1, "when": "2020-04-29T14:01:03+00:00"}]
        super().__init__()

    def routes(self, router) -> None:
        async def things(request):
            return web.json_response(self.things)

        async def count(request):
            return web.json_response(len(self.things))

        async def missing(request):
            return web.Response(status=404)

        async def token(request):
            return web.json_response({})

        router.add_get("/api/things", things)
        router.add_get("/api/things/count", count)
        router.add_get("/api/things/{id}", missing)
        router.add_post("/oauth/token", token)

    async def authenticate(self, request):
        return None

    def error_response(self, status, message, retry_after=None):
        headers = {} if retry_after is None else {"Retry-After": str(int(retry_after))}
        return web.json_response({"errors": [message]}, status=status, headers=headers)


@pytest.fixture
async def toy():
    sim = ToySimulator()
    await sim.start()
    checker = Contract("toy", TOY)
    problems: list[str] = []

    def observe(exchange):
        problems.extend(checker.check(exchange))

    simkit.EXCHANGE_OBSERVERS.append(observe)
    yield sim, problems
    simkit.EXCHANGE_OBSERVERS.remove(observe)
    await sim.stop()


CONNECTOR = {"User-Agent": "Vectis-MCP/1.0"}


async def send(sim, method, path, **kwargs) -> int:
    async with aiohttp.ClientSession(headers=kwargs.pop("headers", CONNECTOR)) as session:
        async with session.request(method, sim.base_url + path, **kwargs) as response:
            await response.read()
            return response.status


async def test_an_exchange_within_the_contract_passes(toy):
    sim, problems = toy
    assert await send(sim, "GET", "/api/things", params={"page": "2"}) == 200
    assert await send(sim, "GET", "/api/things/count") == 200       # not taken for /things/{id}
    assert await send(sim, "GET", "/api/things/7") == 404
    assert await send(sim, "POST", "/oauth/token", data={"grant_type": "client_credentials"}) == 200
    assert problems == []


async def test_a_connector_request_off_the_contract_is_caught(toy):
    sim, problems = toy
    await send(sim, "GET", "/api/things", params={"includedetails": "true"})
    await send(sim, "DELETE", "/api/things/1")
    await send(sim, "POST", "/oauth/token", json={"grant_type": "client_credentials"})
    assert any("query" in p and "includedetails" in p for p in problems)
    assert any("DELETE /api/things/1" in p and "does not list" in p for p in problems)
    assert any("takes a form" in p for p in problems)


async def test_a_probe_by_a_test_is_not_held_to_the_contract_but_the_answer_is(toy):
    sim, problems = toy
    await send(sim, "GET", "/api/things", params={"bogus": "1"}, headers={"User-Agent": "test"})
    assert problems == []
    sim.things = [{"id": "1", "when": 1588168863}]          # a string id, an epoch time
    await send(sim, "GET", "/api/things", headers={"User-Agent": "test"})
    assert any("/0/id" in p for p in problems) and any("/0/when" in p for p in problems)


async def test_an_invented_field_and_a_bad_time_fail(toy):
    sim, problems = toy
    sim.things = [{"id": 1, "when": "yesterday", "status": "ACKNOWLEDGED"}]
    await send(sim, "GET", "/api/things")
    assert any("'yesterday' is not a 'date-time'" in p for p in problems)
    assert any("status" in p and "Additional properties" in p for p in problems)


async def test_error_answers_are_held_to_the_documented_errors(toy):
    sim, problems = toy
    sim.faults.add(Fault(kind="status", status=429, retry_after=3))
    assert await send(sim, "GET", "/api/things") == 429
    sim.faults.add(Fault(kind="status", status=503))
    assert await send(sim, "GET", "/api/things") == 503
    assert problems == []
    sim.faults.add(Fault(kind="status", status=429))                 # no Retry-After
    await send(sim, "GET", "/api/things")
    sim.faults.add(Fault(kind="status", status=401))                 # not documented at all
    await send(sim, "GET", "/api/things")
    assert any("retry-after" in p for p in problems)
    assert any("answered 401, which the vendor does not document" in p for p in problems)


def test_every_vendor_has_a_contract_with_sources_and_verification():
    for vendor in VENDORS:
        found = contract(vendor)
        assert found is not None, f"vectis/vendors/{vendor}/contract.json is missing"
        doc = found.doc
        assert doc["checked"] and doc["sources"], vendor
        for name, op in doc["operations"].items():
            assert isinstance(op.get("verified"), bool) and op.get("evidence"), (vendor, name)
            if not op["verified"]:
                assert "unverified" in op["evidence"].lower(), (vendor, name)


def example_schema(found: Contract, name: str) -> dict:
    """The schema a published example is held to, by its file name: `<operation>.<status>` (an
    answer), `<operation>.request` (a request body), `any.<status>` (an error any call may
    give), `item.<Definition>` (one object of the vendor's schema)."""
    first, second = name.rsplit(".", 1)
    if first == "item":
        return {"$ref": f"#/defs/{second}"}
    if first == "any":
        return found.response_spec(None, int(second))["body"]
    op = next(o for o in found.operations if o.name == first)
    if second == "request":
        return op.spec["body"]
    return found.response_spec(op, int(second))["body"]


def test_every_published_example_validates_against_its_contract():
    checked = 0
    for vendor in VENDORS:
        found = contract(vendor)
        for path in sorted((VENDORS_DIR / vendor / "examples").glob("*.json")):
            schema = example_schema(found, path.stem)
            errors = list(found.validator(schema).iter_errors(json.loads(path.read_text())))
            assert errors == [], (vendor, path.name, [e.message for e in errors[:3]])
            checked += 1
    assert checked >= 20


def test_every_published_example_says_where_it_comes_from():
    for vendor in VENDORS:
        examples = VENDORS_DIR / vendor / "examples"
        sources = (examples / "SOURCES.md").read_text()
        for path in examples.glob("*.json"):
            assert path.name in sources, (vendor, path.name)


def test_no_reader_imports_its_connector():
    """A vendor's reader (sync) and connector (writes) share vocabulary through a third module;
    the reader never imports the connector, so there is no import circle between them."""
    for vendor in VENDORS:
        tree = ast.parse(Path(VENDORS_DIR / vendor / "reader.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
                assert not any(n == "connector" or n.endswith(".connector") for n in names), vendor


def test_a_vendor_error_says_what_to_do_in_the_vendors_terms():
    refused = VendorError("halopsa", "invalid_client", status=401, retry_safe=True)
    text = refused.describe("acme", "src_halo")
    assert text.startswith("HaloPSA call failed (HTTP 401): invalid_client.")
    assert "python server.py admin connect-source acme src_halo --base-url URL --credentials-stdin" in text
    limited = VendorError("autotask", "rate limited by the vendor", status=429, retry_safe=True,
                          retry_after=12)
    assert "try again in 12 s" in limited.describe()
    own = VendorError("connectwise", "no closed status", status=None, retry_safe=True,
                      hint="Choose one with `{connect} --setting closed_status=Closed`")
    assert "admin connect-source <tenant> <source> --setting closed_status=Closed" in own.describe()
