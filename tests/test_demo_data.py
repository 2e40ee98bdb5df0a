"""The demo generator's output against docs/data-model.md (no database involved)."""
from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest

from vectis.demo.generator import COLLECTIONS, DemoOperator, demo_operators, generate_tenant

NOW = datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)
NOW_MS = NOW.replace(microsecond=535000)
SCALES = [("acme", 40), ("northwind", 40), ("acme", 300)]  # 12 tickets per customer

ID_PREFIXES = {"users": "usr", "sources": "src", "customers": "cus", "contacts": "con", "tickets": "tkt",
               "ticket_messages": "msg", "alerts": "alr", "assets": "ast", "contracts": "ctr",
               "backup_jobs": "bkp", "invoices": "inv", "notes": "not"}
FIELDS = {
    "users": "_id email name role disabled mfa created_at updated_at",
    "sources": "_id kind vendor name base_url credentials_encrypted status last_sync_at last_sync_error "
               "sync created_at",
    "customers": "_id name status address primary_contact_id primary_psa_source_id mrr arr health refs "
                 "created_at updated_at",
    "contacts": "_id customer_id name email phone title is_primary refs created_at updated_at",
    "tickets": "_id uuid number customer_id source_id origin subject description status priority "
               "requester assignee created_at updated_at closed_at message_count refs",
    "ticket_messages": "_id ticket_id author body is_internal created_at refs",
    "alerts": "_id uuid customer_id asset_id source_id vendor severity status title message incident_id "
              "history created_at updated_at resolved_at refs",
    "assets": "_id customer_id site name kind status hardware os warranty lifecycle ip_address "
              "last_seen_at source_id refs created_at updated_at",
    "contracts": "_id customer_id name kind status start_date end_date monthly_value auto_renew source_id "
                 "refs created_at updated_at",
    "backup_jobs": "_id customer_id asset_id source_id vendor name last_status last_run_at "
                   "last_success_at last_error size_gb refs created_at updated_at",
    "invoices": "_id customer_id number status issued_at due_at currency total balance lines source_id "
                "refs created_at updated_at",
    "notes": "_id customer_id author body related created_at",
}
NESTED_FIELDS = {  # path -> keys of the object there (of each item, for a list)
    "customers.address": "street city state postal_code country",
    "customers.health": "score grade factors updated_at",
    "tickets.requester": "name email",
    "tickets.assignee": "user_id name email",
    "ticket_messages.author": "kind name email",
    "alerts.history": "at action actor",
    "assets.site": "name address",
    "assets.hardware": "manufacturer model serial_number cpu ram_gb disk_gb",
    "assets.os": "name version build",
    "assets.warranty": "start end status",
    "assets.lifecycle": "purchased_at deployed_at eol_at stage",
    "invoices.lines": "description quantity unit_price amount",
    "notes.author": "user_id name email",
    "notes.related": "kind id",
}
NESTED_FIELDS.update({f"{c}.refs": "source_id external_id" for c in FIELDS if "refs" in FIELDS[c]})
ENUMS = {  # path -> allowed values
    "users.role": "admin technician readonly",
    "sources.kind": "psa rmm backup",
    "sources.vendor": "connectwise autotask halopsa atera ninjaone datto_bcdr kaseya_vsax ncentral",
    "sources.status": "connected error disabled",
    "customers.status": "active onboarding churned prospect",
    "tickets.origin": "psa portal",
    "tickets.status": "new open in_progress waiting resolved closed",
    "tickets.priority": "low medium high critical",
    "ticket_messages.author.kind": "contact user system",
    "alerts.severity": "critical major moderate minor info",
    "alerts.status": "open acknowledged resolved",
    "alerts.history.action": "created acknowledged resolved reopened",
    "assets.kind": "server workstation laptop network virtual_machine mobile printer",
    "assets.status": "online offline stale retired",
    "assets.warranty.status": "active expiring expired",
    "assets.lifecycle.stage": "deployed maintenance eol retired",
    "contracts.kind": "managed_services block_hours project",
    "contracts.status": "active pending expired cancelled",
    "backup_jobs.last_status": "success warning failed running",
    "invoices.status": "draft open paid overdue void",
    "notes.related.kind": "ticket alert asset",
}
OPEN_STATUSES = {"new", "open", "in_progress", "waiting"}
STATUS_AFTER_ACTION = {"created": "open", "reopened": "open", "acknowledged": "acknowledged",
                       "resolved": "resolved"}


def batches(slug: str, customers: int = 40, now: datetime = NOW) -> tuple:
    return _generated(slug, customers, now)  # one cache key however the defaults are passed


@cache
def _generated(slug: str, customers: int, now: datetime) -> tuple[tuple[str, list[dict]], ...]:
    return tuple(generate_tenant(slug, customers=customers, tickets_per_customer=12.0, now=now))


@cache
def dataset(slug: str, customers: int = 40) -> dict[str, list[dict]]:
    docs: dict[str, list[dict]] = {name: [] for name in COLLECTIONS}
    for collection, batch in batches(slug, customers):
        docs[collection].extend(batch)
    return docs


@pytest.fixture(params=SCALES, ids=lambda scale: f"{scale[0]}-{scale[1]}")
def data(request) -> dict[str, list[dict]]:
    return dataset(*request.param)


def by_id(docs: list[dict]) -> dict[str, dict]:
    return {doc["_id"]: doc for doc in docs}


def references(collection: str, doc: dict):
    """(target collection, id) of every document `doc` refers to."""
    for field, target in (("customer_id", "customers"), ("asset_id", "assets"),
                          ("ticket_id", "tickets"), ("source_id", "sources"),
                          ("primary_contact_id", "contacts"),
                          ("primary_psa_source_id", "sources")):
        if doc.get(field) is not None:
            yield target, doc[field]
    for ref in doc.get("refs", []):
        yield "sources", ref["source_id"]
    for field in ("assignee", "author"):
        if isinstance(doc.get(field), dict) and "user_id" in doc[field]:
            yield "users", doc[field]["user_id"]
    if collection == "notes" and doc["related"]:
        yield doc["related"]["kind"] + "s", doc["related"]["id"]


def datetimes(value):
    if isinstance(value, datetime):
        yield value
    elif isinstance(value, dict | list):
        for item in value.values() if isinstance(value, dict) else value:
            yield from datetimes(item)


def values_at(data: dict[str, list[dict]], path: str):
    """Every non-null value at a dotted path such as `assets.warranty.status`, through lists."""
    collection, *keys = path.split(".")

    def walk(value, keys):
        if isinstance(value, list):
            for item in value:
                yield from walk(item, keys)
        elif value is not None and keys:
            yield from walk(value[keys[0]], keys[1:])
        elif value is not None:
            yield value
    yield from walk(data[collection], keys)


# shape -----------------------------------------------------------------------------------
def test_documents_have_exactly_the_documented_fields(data):
    assert list(data) == list(COLLECTIONS) and set(COLLECTIONS) == set(FIELDS)
    for collection, docs in data.items():
        assert docs, f"no {collection} generated"
        for doc in docs:
            assert set(doc) == set(FIELDS[collection].split()), (collection, doc["_id"])
    for path, keys in NESTED_FIELDS.items():
        for value in values_at(data, path):
            assert set(value) == set(keys.split()), path
    assert all(ref["external_id"] for ref in values_at(data, "tickets.refs"))


def test_enumerations_hold_only_allowed_values(data):
    for path, allowed in ENUMS.items():
        seen = set(values_at(data, path))
        assert seen and seen <= set(allowed.split()), (path, seen)


def test_ids_have_their_prefix_and_are_unique(data):
    for collection, docs in data.items():
        pattern = re.compile(rf"^{ID_PREFIXES[collection]}_[a-z2-7]{{16}}$")
        ids = [doc["_id"] for doc in docs]
        assert all(pattern.match(_id) for _id in ids), collection
        assert len(set(ids)) == len(ids), collection


def test_times_are_utc_milliseconds_and_not_in_the_future(data):
    for collection, docs in data.items():
        for doc in docs:
            for moment in datetimes(doc):
                assert moment.utcoffset() == timedelta(0) and moment.microsecond % 1000 == 0
            assert doc["created_at"] <= NOW_MS, (collection, doc["_id"])
            assert doc.get("updated_at", doc["created_at"]) >= doc["created_at"]


def test_users_are_the_demo_operators_without_password(data):
    operators = demo_operators(data["users"][0]["email"].split("@")[1].removesuffix(".example"))
    assert [(u["email"], u["name"], u["role"]) for u in data["users"]] == [
        (o.email, o.name, o.role) for o in operators]
    assert all(u["mfa"] is None and u["disabled"] is False for u in data["users"])


def test_demo_operators():
    operators = demo_operators("acme")
    assert operators == demo_operators("acme") and all(isinstance(o, DemoOperator) for o in operators)
    assert {o.role for o in operators} == {"admin", "technician"}
    assert "alex.morgan@acme.example" in {o.email for o in operators}
    assert all(o.email.endswith("@northwind.example") for o in demo_operators("northwind"))


# references and order --------------------------------------------------------------------
def test_every_reference_points_at_a_document_of_the_same_customer(data):
    ids = {collection: by_id(docs) for collection, docs in data.items()}
    for collection, docs in data.items():
        for doc in docs:
            for target, target_id in references(collection, doc):
                assert target_id in ids[target], (collection, doc["_id"], target, target_id)
                owner = ids[target][target_id].get("customer_id")
                if owner is not None and "customer_id" in doc:
                    assert owner == doc["customer_id"], (collection, doc["_id"], target)
    for customer in data["customers"]:
        contact = ids["contacts"][customer["primary_contact_id"]]
        assert contact["customer_id"] == customer["_id"] and contact["is_primary"]
        assert ids["sources"][customer["primary_psa_source_id"]]["kind"] == "psa"


@pytest.mark.parametrize("scale", SCALES, ids=lambda scale: f"{scale[0]}-{scale[1]}")
def test_referenced_documents_are_yielded_first(scale):
    yielded: dict[str, set[str]] = defaultdict(set)
    for collection, batch in batches(*scale):
        for doc in batch:
            for target, target_id in references(collection, doc):
                if (collection, target) == ("customers", "contacts"):
                    continue  # the documented cycle: a customer's primary contact comes after it
                assert target_id in yielded[target], (collection, doc["_id"], target)
        yielded[collection].update(doc["_id"] for doc in batch)


@pytest.mark.parametrize("scale", SCALES, ids=lambda scale: f"{scale[0]}-{scale[1]}")
def test_batches_are_bounded(scale):
    sizes = [len(batch) for _collection, batch in batches(*scale)]
    assert all(0 < size <= 1000 for size in sizes)
    assert {collection for collection, _batch in batches(*scale)} == set(COLLECTIONS)


def test_large_tenants_are_streamed_in_several_full_batches():
    full = Counter(collection for collection, batch in batches("acme", 300) if len(batch) == 1000)
    assert full["ticket_messages"] >= 10 and full["tickets"] >= 2
    # streamed: customers come in several rounds, not all at the end
    assert len([c for c, _batch in batches("acme", 300) if c == "customers"]) >= 2


def test_ticket_total_follows_the_scale(data):
    assert len(data["tickets"]) == len(data["customers"]) * 12


# invariants of docs/data-model.md --------------------------------------------------------
def test_arr_is_twelve_times_mrr(data):
    for customer in data["customers"]:
        assert isinstance(customer["mrr"], float) and customer["mrr"] == round(customer["mrr"], 2)
        assert customer["arr"] == round(customer["mrr"] * 12, 2)
        assert abs(customer["arr"] - 12 * customer["mrr"]) < 0.005
    active = [c["mrr"] for c in data["customers"] if c["status"] == "active"]
    assert all(400 <= mrr <= 50_000 for mrr in active)


def test_closed_at_is_set_exactly_for_resolved_and_closed_tickets(data):
    for ticket in data["tickets"]:
        finished = ticket["status"] in ("resolved", "closed")
        assert (ticket["closed_at"] is not None) == finished, ticket["_id"]
        if finished:
            assert ticket["created_at"] <= ticket["closed_at"] <= ticket["updated_at"]


def test_message_count_is_the_thread_length_and_threads_are_ordered(data):
    threads = defaultdict(list)
    for message in data["ticket_messages"]:
        threads[message["ticket_id"]].append(message)
    assert set(threads) == {t["_id"] for t in data["tickets"]}
    for ticket in data["tickets"]:
        thread = threads[ticket["_id"]]
        assert ticket["message_count"] == len(thread)
        times = [m["created_at"] for m in thread]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert times[0] == ticket["created_at"] and times[-1] == ticket["updated_at"]
        assert thread[0]["author"] == {"kind": "contact", **ticket["requester"]}
        assert thread[0]["body"] == ticket["description"]
    assert any(m["is_internal"] for m in data["ticket_messages"])


def test_alert_history_starts_with_created_and_ends_in_the_status(data):
    for alert in data["alerts"]:
        history = alert["history"]
        assert history[0]["action"] == "created" and history[0]["at"] == alert["created_at"]
        assert [h["at"] for h in history] == sorted(h["at"] for h in history)
        assert STATUS_AFTER_ACTION[history[-1]["action"]] == alert["status"]
        assert (alert["resolved_at"] is not None) == (alert["status"] == "resolved")
        assert alert["updated_at"] == history[-1]["at"]
        assert alert["resolved_at"] in (None, history[-1]["at"])


def test_ticket_numbers_unique_per_source(data):
    numbers = Counter((t["source_id"], t["number"]) for t in data["tickets"])
    assert numbers.most_common(1)[0][1] == 1


def test_uuids_are_unique_per_tenant(data):
    uuids = [d["uuid"] for d in data["tickets"] + data["alerts"]]
    assert len(set(uuids)) == len(uuids)
    assert all(uuid.UUID(u).version == 4 and str(uuid.UUID(u)) == u for u in uuids)


def test_emails_are_lower_case_and_unique_per_tenant(data):
    emails = [d["email"] for d in data["users"] + data["contacts"]]
    assert len(set(emails)) == len(emails)
    assert all(e == e.lower() and re.match(r"^[a-z0-9.]+@[a-z0-9.-]+$", e) for e in emails)


def test_vendor_refs_are_unique_per_collection(data):
    for collection, docs in data.items():
        keys = [(r["source_id"], r["external_id"]) for d in docs for r in d.get("refs", [])]
        assert len(set(keys)) == len(keys), collection


# consistency the read tools rely on -------------------------------------------------------
def test_sources_and_what_comes_from_them(data):
    sources = by_id(data["sources"])
    kinds = {s["kind"]: s for s in data["sources"]}
    assert sorted(kinds) == ["backup", "psa", "rmm"] and len(sources) == 3
    assert all(s["status"] == "connected" and s["credentials_encrypted"] is None
               for s in data["sources"])
    for ticket in data["tickets"]:
        if ticket["origin"] == "portal":
            assert ticket["source_id"] is None and ticket["refs"] == []
        else:
            assert ticket["source_id"] == kinds["psa"]["_id"]
            assert [r["source_id"] for r in ticket["refs"]] == [ticket["source_id"]]
    for alert in data["alerts"]:
        assert sources[alert["source_id"]]["kind"] in ("rmm", "backup")
        assert alert["vendor"] == sources[alert["source_id"]]["vendor"]
    assert all(a["source_id"] == kinds["rmm"]["_id"] for a in data["assets"])
    assert all(b["source_id"] == kinds["backup"]["_id"] and b["vendor"] == "datto_bcdr"
               for b in data["backup_jobs"])


@pytest.mark.parametrize("slug, vendors", [
    ("acme", {"psa": "connectwise", "rmm": "ninjaone", "backup": "datto_bcdr"}),
    ("northwind", {"psa": "autotask", "rmm": "ncentral", "backup": "datto_bcdr"}),
])
def test_demo_tenant_sources(slug, vendors):
    assert {s["kind"]: s["vendor"] for s in dataset(slug)["sources"]} == vendors


def test_other_tenants_get_a_plausible_tool_set():
    sources = {s["kind"]: s["vendor"] for s in dataset("lakeside-it", 3)["sources"]}
    assert sources["psa"] in {"connectwise", "autotask", "halopsa", "atera"}
    assert sources["rmm"] in {"ninjaone", "ncentral", "kaseya_vsax"}
    assert sources["backup"] == "datto_bcdr"


def test_ticket_number_formats():
    assert all(re.fullmatch(r"\d{5,7}", t["number"])
               for t in dataset("acme")["tickets"] if t["origin"] == "psa")
    assert all(re.fullmatch(r"T\d{8}\.\d{4}", t["number"])
               and t["number"][1:9] == f"{t['created_at']:%Y%m%d}"
               for t in dataset("northwind")["tickets"] if t["origin"] == "psa")


def test_requesters_and_notes_belong_to_the_customer(data):
    contacts = defaultdict(set)
    for contact in data["contacts"]:
        contacts[contact["customer_id"]].add((contact["name"], contact["email"]))
    for ticket in data["tickets"]:
        requester = (ticket["requester"]["name"], ticket["requester"]["email"])
        assert requester in contacts[ticket["customer_id"]]
    domains = {c: {e.split("@")[1] for _n, e in people} for c, people in contacts.items()}
    assert all(len(found) == 1 for found in domains.values())
    assert sum(1 for n in data["notes"] if n["related"]) > len(data["notes"]) / 2


def test_scenarios_the_demo_promises(data):
    now = NOW_MS
    assert any(b["last_status"] == "failed" and b["last_run_at"] >= now - timedelta(days=7)
               for b in data["backup_jobs"])
    assert any(b["last_status"] == "warning" for b in data["backup_jobs"])
    assert any(c["status"] == "active" and now < c["end_date"] <= now + timedelta(days=60)
               for c in data["contracts"])
    assert {a["status"] for a in data["alerts"]} == {"open", "acknowledged", "resolved"}
    assert any(a["incident_id"] for a in data["alerts"])
    assert {t["origin"] for t in data["tickets"]} == {"psa", "portal"}
    open_tickets = [t for t in data["tickets"] if t["status"] in OPEN_STATUSES]
    assert any(t["assignee"] is None for t in open_tickets)
    for user in data["users"]:
        mine = [t for t in open_tickets
                if t["assignee"] and t["assignee"]["email"] == user["email"]]
        assert len(mine) >= 3
        assert all(t["assignee"] == {"user_id": user["_id"], "name": user["name"],
                                     "email": user["email"]} for t in mine)
    assert Counter(c["status"] for c in data["customers"])["active"] > len(data["customers"]) / 2


def test_invoices_agree_with_their_due_dates_and_lines(data):
    for invoice in data["invoices"]:
        issued_at = invoice["issued_at"]
        assert issued_at.time() == datetime.min.time() and issued_at >= NOW_MS - timedelta(190)
        assert invoice["due_at"] > issued_at
        for line in invoice["lines"]:
            assert line["amount"] == round(line["quantity"] * line["unit_price"], 2)
        assert invoice["total"] == round(sum(line["amount"] for line in invoice["lines"]), 2)
        if invoice["status"] in ("paid", "void"):
            assert invoice["balance"] == 0
        else:
            assert 0 < invoice["balance"] <= invoice["total"]
        if invoice["status"] in ("open", "overdue"):
            assert (invoice["due_at"] < NOW_MS) == (invoice["status"] == "overdue")
    assert {"paid", "open", "overdue"} <= {i["status"] for i in data["invoices"]}


def test_health_scores_and_grades(data):
    for customer in data["customers"]:
        health = customer["health"]
        assert 0 <= health["score"] <= 100
        expected = next(g for g, floor in (("A", 90), ("B", 80), ("C", 70), ("D", 60), ("F", 0))
                        if health["score"] >= floor)
        assert health["grade"] == expected
        assert all(isinstance(f, str) and f for f in health["factors"])
        assert (health["score"] == 100) == (not health["factors"])
    assert len({c["health"]["grade"] for c in data["customers"]}) >= 3


def test_assets_are_consistent(data):
    for asset in data["assets"]:
        warranty, lifecycle = asset["warranty"], asset["lifecycle"]
        assert warranty["start"] < warranty["end"]
        assert warranty["status"] == ("expired" if warranty["end"] < NOW_MS else
                                      "expiring" if warranty["end"] - NOW_MS <= timedelta(90)
                                      else "active")
        assert lifecycle["purchased_at"] <= lifecycle["deployed_at"] <= asset["last_seen_at"]
        assert (lifecycle["stage"] == "retired") == (asset["status"] == "retired")
    names = Counter((a["customer_id"], a["name"]) for a in data["assets"])
    assert names.most_common(1)[0][1] == 1


# determinism -----------------------------------------------------------------------------
def fingerprint(value) -> str:
    # a digest, so that a failure does not make pytest diff megabytes of repr
    return hashlib.sha256(repr(value).encode()).hexdigest()


def test_same_input_gives_identical_output():
    assert fingerprint(tuple(generate_tenant("acme", now=NOW))) == fingerprint(batches("acme"))


def test_another_slug_or_scale_gives_other_data():
    def ids(batches_):
        return {d["_id"] for _c, batch in batches_ for d in batch}
    assert ids(batches("acme")).isdisjoint(ids(batches("northwind")))
    assert ids(batches("acme")).isdisjoint(ids(batches("acme", 300)))


def test_ids_do_not_depend_on_now():
    later = NOW + timedelta(days=47, hours=5, seconds=13)

    def ids(now):
        return [(c, [d["_id"] for d in batch]) for c, batch in batches("acme", now=now)]
    assert fingerprint(ids(later)) == fingerprint(ids(NOW))
    assert fingerprint(batches("acme", now=later)) != fingerprint(batches("acme"))


def test_now_must_be_timezone_aware():
    with pytest.raises(ValueError):
        next(generate_tenant("acme", now=datetime(2026, 3, 14)))
