"""Customer scopes, property-based, over the real server: for random small tenants (the demo
generator at random sizes, loaded through the product's bulk insert path), random scopes (empty,
one customer, several, all of them; set on the user, on the token, or on both with the token
narrowing the user) and a random read tool with random arguments, a restricted credential

- never receives a record of a customer outside its scope (the leak oracle), errors included;
- gets, from a list tool, exactly the unrestricted answer filtered to its scope, page by page;
- gets, for a record of its customers, the unrestricted answer, and for any other record (or a
  filter naming another customer), exactly the not-found of an id that does not exist.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from vectis.audit import audit_row
from vectis.credentials.issue import issue_pat
from vectis.customer_scope import narrow
from vectis.demo.generator import demo_operators, generate_tenant
from vectis.scopes import ALL_SCOPES

from ..conftest import issue_token
from ..support.customer_leaks import foreign_records, owners
from ..support.http import client_session
from ..support.rpc import call_tool, structured
from ..test_customer_scope import ID_ARGUMENTS, TENANT_WIDE, not_found_shape, without_clock
from ..test_read_tools import error_text, walk

NOW = datetime.now(UTC)
# (customers, tickets per customer): a tenant of one customer, one without tickets, a few more.
SHAPES = ((1, 3.0), (2, 0.0), (3, 2.0), (4, 1.5), (5, 1.0))
LIST_FILTERS = {
    "list_customers": {"status": ["active", "onboarding", "churned", "prospect"]},
    "list_open_tickets": {"status": ["new", "open", "in_progress", "waiting"],
                          "priority": ["low", "medium", "high", "critical"]},
    "list_my_assignments": {"status": ["new", "open", "in_progress", "waiting"],
                            "priority": ["low", "medium", "high", "critical"]},
    "list_alerts": {"severity": ["critical", "major", "moderate", "minor", "info"],
                    "status": ["open", "acknowledged", "resolved"]},
    "list_assets": {"kind": ["server", "workstation", "laptop", "network", "virtual_machine"],
                    "status": ["online", "offline", "stale", "retired"]},
    "list_backups_failing": {"status": ["failed", "warning"],
                             "since": [(NOW - timedelta(days=3)).date().isoformat(), "2020-01-01"]},
    "list_contracts": {"status": ["active", "pending", "expired", "cancelled"],
                       "expiring_within_days": [30, 400, 3650]},
    "list_invoices": {"status": ["draft", "open", "paid", "overdue", "void"],
                      "since": [(NOW - timedelta(days=60)).date().isoformat()]},
    "list_recent_changes": {"since": [(NOW - timedelta(days=30)).date().isoformat(), "2020-01-01"]},
}
CUSTOMER_FILTER = set(LIST_FILTERS) - {"list_customers", "list_my_assignments"}
ID_KIND = {"customer_id": "customers", "ticket_id": "tickets", "alert_id": "alerts", "asset_id": "assets"}


@dataclass
class PropTenant:
    slug: str
    url: str
    token: str                     # the admin's, unrestricted: the reference answers
    technician_email: str
    technician_id: str
    ids: dict[str, list[str]]      # collection -> ids, every customer's
    tickets: list[dict]
    customer_names: list[str]
    reference: dict = field(default_factory=dict)

    @property
    def customers(self) -> list[str]:
        return self.ids["customers"]


class Tenants:
    """Tenants built on first use on the fuzz server's loop, then reused by later examples."""

    def __init__(self, server):
        self.server = server
        self.built: dict[tuple, PropTenant] = {}
        self.http = None

    def get(self, shape: tuple) -> PropTenant:
        if shape not in self.built:
            self.built[shape] = self.server.run(self._build(*shape))
        return self.built[shape]

    async def session(self):
        if self.http is None:
            self.http = client_session()
        return self.http

    async def _build(self, customers: int, per_customer: float) -> PropTenant:
        live = self.server.live
        storage = live.storage
        slug = f"prop-{customers}-{int(per_customer * 10)}"
        await storage.tenants.ensure(slug, f"Property {slug}")
        for collection, batch in generate_tenant(slug, customers=customers,
                                                 tickets_per_customer=per_customer, now=NOW):
            if collection == "users":    # nobody signs in: no slow password hash
                batch = [{**user, "password_hash": "not-a-real-hash"} for user in batch]
            await storage.bulk.insert_missing(slug, collection, batch)
        await storage.db.control["tenants"].update_one({"_id": slug}, {"$set": {
            "settings.rate_limits": {"credential_read": 10**9, "tenant_read": 10**9,
                                     "credential_write": 10**9, "tenant_write": 10**9}}})
        db = storage.db.tenant(slug)
        tickets = await db["tickets"].find({}, {"search_tg": 0}).sort("_id", 1).to_list()
        # The rows writes leave (vectis.writes.actions names the target's customer), and rows from
        # before customer scopes, which name none: outside every scope.
        rows = []
        for n, ticket in enumerate(tickets):
            target = {"kind": "ticket", "id": ticket["_id"], "uuid": ticket["uuid"]}
            if n % 3:
                target["customer_id"] = ticket["customer_id"]
            rows.append(audit_row(actor={"kind": "pat", "email": "x@example.com"}, action="add_internal_note",
                                  status="success", kind="write", target=target))
        await storage.bulk.insert_missing(slug, "audit_log", rows)
        admin, technician = (next(o for o in demo_operators(slug) if o.role == role)
                             for role in ("admin", "technician"))
        tech_user = await storage.users.by_email(slug, technician.email)
        ids = {c: sorted(await db[c].distinct("_id", {})) for c in ("customers", "tickets", "alerts", "assets")}
        names = [c["name"] for c in await db["customers"].find({}, {"name": 1}).to_list()]
        return PropTenant(slug=slug, url=live.url(slug, "/api/mcp"),
                          token=await issue_token(storage, live.config, slug, admin.email, ALL_SCOPES),
                          technician_email=technician.email, technician_id=tech_user["_id"],
                          ids=ids, tickets=tickets, customer_names=names)


@st.composite
def scopes(draw, customers: list[str]):
    """(user limit, token limit): each None or a set; their intersection is the scope."""
    size = draw(st.sampled_from(["empty", "one", "several", "all"]))
    if size == "empty":
        scope = frozenset()
    elif size == "one":
        scope = frozenset([draw(st.sampled_from(customers))])
    elif size == "all":
        scope = frozenset(customers)
    else:
        scope = frozenset(draw(st.lists(st.sampled_from(customers), min_size=1, unique=True)))
    where = draw(st.sampled_from(["user", "token", "both", "token narrows user"]))
    event(f"scope: {size} on {where}")
    if where == "user":
        return scope, None
    if where == "token":
        return None, scope
    if where == "both":
        return scope, scope
    wider = scope | frozenset(draw(st.lists(st.sampled_from(customers), unique=True)))
    return wider, scope


def id_argument(data, tenant: PropTenant, argument: str) -> str:
    real = tenant.ids[ID_KIND[argument]]
    if real and data.draw(st.integers(0, 5)):
        return data.draw(st.sampled_from(real))
    return argument.split("_")[0][:3] + "_" + "a" * 16          # nobody's


def list_arguments(data, tenant: PropTenant, tool: str) -> dict:
    args = {}
    for name, values in LIST_FILTERS[tool].items():
        if data.draw(st.booleans()):
            args[name] = data.draw(st.sampled_from(values))
    if tool in CUSTOMER_FILTER and data.draw(st.booleans()):
        args["customer_id"] = id_argument(data, tenant, "customer_id")
    if tool == "list_customers" and data.draw(st.integers(0, 3)) == 0:
        name = data.draw(st.sampled_from(tenant.customer_names))
        start = data.draw(st.integers(0, max(0, len(name) - 3)))
        args["name"] = name[start:start + 3]
    if tool == "list_open_tickets" and data.draw(st.integers(0, 3)) == 0:
        args["assignee_email"] = tenant.technician_email
    return args


async def check(tenants: Tenants, tenant: PropTenant, user_limit, token_limit, tool: str, data_args) -> str:
    """Checks one call; returns what it exercised (a hypothesis event)."""
    storage = tenants.server.live.storage
    http = await tenants.session()
    db = storage.db.tenant(tenant.slug)
    scope = narrow(user_limit, token_limit)
    kind, args, page = data_args

    if tool == "list_my_assignments" and (tool, str(args)) not in tenant.reference:
        # The reference is the technician's own answer while unrestricted.
        await storage.users.set_customers(tenant.slug, tenant.technician_id, None)
        tenants.server.live.services.authenticator.forget(tenant.slug)
        unrestricted = await issue_token(storage, tenants.server.live.config, tenant.slug,
                                         tenant.technician_email, ALL_SCOPES)
        tenant.reference[(tool, str(args))] = await walk(http, tenant, tool, args, token=unrestricted)
    await storage.users.set_customers(tenant.slug, tenant.technician_id, user_limit)
    tenants.server.live.services.authenticator.forget(tenant.slug)
    user = await storage.users.by_id(tenant.slug, tenant.technician_id)
    token, _ = await issue_pat(storage, tenants.server.live.config.token_pepper, tenant.slug, user,
                               label="property", scopes=ALL_SCOPES, expires_days=None,
                               max_expires_days=30, customers=token_limit)

    async def clean(payload) -> None:
        leaked = await foreign_records(db, payload, scope, sent=args)
        assert not leaked, f"{tool} {args} with scope {sorted(scope)} returned records of: {leaked}"

    if tool in TENANT_WIDE:
        result = await call_tool(http, tenant.url, token, tool, args)
        assert result["isError"] and "whole tenant" in result["content"][0]["text"], result
        return f"{tool}: refused"

    if kind == "list":
        named = args.get("customer_id")
        if named is not None and named not in scope:
            refused = await error_text(http, tenant, tool, {**args, "limit": page}, token=token)
            await clean(refused)
            stand_in = "cus_" + "a" * 16
            unknown = await error_text(http, tenant, tool, {**args, "customer_id": stand_in, "limit": page},
                                       token=token)
            assert not_found_shape(refused, named, stand_in) == unknown
            return f"{tool}: another customer named"
        mine = await walk(http, tenant, tool, args, token=token, limit=page)
        await clean(mine)
        key = (tool, str(args))
        if key not in tenant.reference:
            tenant.reference[key] = await walk(http, tenant, tool, args, limit=200)
        everyone = tenant.reference[key]
        owner = await owners(db, {item["id"] for item in everyone})
        expected = [item for item in everyone if owner[item["id"]] in scope]
        assert [i["id"] for i in mine] == [i["id"] for i in expected], (tool, args)
        assert without_clock(mine) == without_clock(expected), (tool, args)
        return f"{tool}: {'some' if mine else 'no'} items"

    if kind == "search":
        result = await call_tool(http, tenant.url, token, tool, args)
        await clean(result)
        return f"{tool}: {'some' if (result.get('structuredContent') or {}).get('count') else 'no'} hits"

    if kind == "audit":
        result = await call_tool(http, tenant.url, token, tool, args)
        await clean(result)
        assert not result["isError"], result
        everyone = await structured(http, tenant.url, tenant.token, tool, {**args, "limit": 200})
        rows = {r["_id"]: r for r in await db["audit_log"].find(
            {"_id": {"$in": [i["id"] for i in everyone["items"]]}}).to_list()}
        expected = [i["id"] for i in everyone["items"]
                    if (rows[i["id"]].get("target") or {}).get("customer_id") in scope][:args.get("limit", 50)]
        assert [i["id"] for i in result["structuredContent"]["items"]] == expected, args
        return f"{tool}: {'some' if expected else 'no'} rows"

    # A get: the record's own answer in scope, else exactly an unknown id's not-found.
    argument, value = next(iter(args.items()))
    found = {doc["_id"]: doc for doc in await db[ID_KIND.get(argument, "tickets")].find(
        {"_id" if argument in ID_KIND else argument: value}).to_list()}
    owner = next((d["_id"] if argument == "customer_id" else d["customer_id"] for d in found.values()), None)
    result = await call_tool(http, tenant.url, token, tool, args)
    await clean(result)
    if owner is not None and owner in scope:
        assert not result["isError"], result
        reference = await structured(http, tenant.url, tenant.token, tool, args)
        assert without_clock(result["structuredContent"]) == without_clock(reference), (tool, args)
        return f"{tool}: in scope"
    assert result["isError"], (tool, args, sorted(scope))
    stand_in = {"uuid": "00000000-0000-4000-8000-000000000000", "number": "NOBODY-0"}.get(
        argument, argument.split("_")[0][:3] + "_" + "a" * 16)
    unknown = await error_text(http, tenant, tool, {argument: stand_in}, token=token)
    assert not_found_shape(result["content"][0]["text"], value, stand_in) == unknown, (tool, args)
    return f"{tool}: {'outside the scope' if owner else 'nobody'}"


def draw_call(data, tenant: PropTenant) -> tuple[str, tuple]:
    tool = data.draw(st.sampled_from(sorted({*LIST_FILTERS, *ID_ARGUMENTS, "search_tickets", "search_global",
                                             "get_audit_log_for_ticket", *TENANT_WIDE} - {"run_rule"})))
    if tool in LIST_FILTERS:
        return tool, ("list", list_arguments(data, tenant, tool), data.draw(st.integers(1, 60)))
    if tool in TENANT_WIDE:
        return tool, ("tenant-wide", {}, None)
    if tool in ("search_tickets", "search_global"):
        words = [w for t in tenant.tickets for w in t["subject"].split() if len(w) > 3] + tenant.customer_names
        query = data.draw(st.sampled_from(words) if words else st.just("printer"))
        return tool, ("search", {"query": query[:200]}, None)
    if tool == "get_audit_log_for_ticket":
        ticket = data.draw(st.sampled_from(tenant.tickets)) if tenant.tickets else None
        how = data.draw(st.sampled_from(["id", "prefix"])) if ticket else "prefix"
        args = ({"ticket_id": ticket["_id"]} if how == "id" else
                {"uuid_prefix": ticket["uuid"][:data.draw(st.integers(4, 8))] if ticket else "abcd"})
        if data.draw(st.booleans()):
            args["limit"] = data.draw(st.integers(1, 5))
        return tool, ("audit", args, None)
    if tool == "get_ticket" and tenant.tickets and data.draw(st.integers(0, 2)) == 0:
        ticket = data.draw(st.sampled_from(tenant.tickets))
        key = data.draw(st.sampled_from(["uuid", "number"]))
        return tool, ("get", {key: ticket[key]}, None)
    argument = ID_ARGUMENTS[tool]
    return tool, ("get", {argument: id_argument(data, tenant, argument)}, None)


@pytest.fixture(scope="module")
def tenants(fuzz_server):
    built = Tenants(fuzz_server)
    yield built
    if built.http is not None:
        fuzz_server.run(built.http.close())


@settings(settings.get_profile("fuzz"), max_examples=35)
@given(data=st.data())
def test_a_restricted_answer_is_the_unrestricted_one_filtered_to_its_scope(fuzz_server, tenants, data):
    tenant = tenants.get(data.draw(st.sampled_from(SHAPES), label="tenant"))
    user_limit, token_limit = data.draw(scopes(tenant.customers), label="limits")
    tool, call = draw_call(data, tenant)
    event(fuzz_server.run(check(tenants, tenant, user_limit, token_limit, tool, call)))

