"""Customers, their contacts and their health score."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import vocabulary as words
from .context import DAY, Generation

CUSTOMER_STATUSES = ("active", "onboarding", "churned", "prospect")
_STATUS_WEIGHTS = (82, 7, 6, 5)
# How many tickets a customer raises per seat, relative to an active customer.
TICKET_WEIGHT = {"active": 10, "onboarding": 8, "churned": 3, "prospect": 1}
# How long ago the relationship started, in days, by status.
_CUSTOMER_SINCE = {"active": (365, 2900), "onboarding": (10, 45), "churned": (400, 2500),
                   "prospect": (5, 90)}


@dataclass(frozen=True)
class CustomerProfile:
    """What is decided about a customer before any of its documents are generated."""
    name: str
    domain: str
    code: str  # short upper-case prefix for host names, e.g. BRD
    status: str
    seats: int
    address: dict
    area_code: str


def customer_profiles(rng: random.Random, count: int) -> list[CustomerProfile]:
    names: set[str] = set()
    domains: set[str] = set()
    profiles = []
    for _ in range(count):
        prefix, trade, name = _unique_company_name(rng, names)
        domain = _unique_domain(f"{prefix}{trade}", domains)
        city, state, area_code, zip3 = rng.choice(words.CITIES)
        profiles.append(CustomerProfile(
            name=name, domain=domain, code=_initials(f"{prefix} {trade}"),
            status=rng.choices(CUSTOMER_STATUSES, _STATUS_WEIGHTS)[0],
            seats=5 + int(115 * rng.random() ** 2.2),
            address=random_address(rng, city, state, zip3), area_code=area_code))
    return profiles


def random_address(rng: random.Random, city: str, state: str, zip3: str) -> dict:
    street = (f"{rng.randint(100, 9899)} {rng.choice(words.STREET_NAMES)} "
              f"{rng.choice(words.STREET_TYPES)}{rng.choice(words.STREET_UNITS)}")
    return {"street": street, "city": city, "state": state,
            "postal_code": f"{zip3}{rng.randrange(100):02d}", "country": "US"}


def _unique_company_name(rng: random.Random, taken: set[str]) -> tuple[str, str, str]:
    for attempt in range(1000):
        prefix, trade = rng.choice(words.COMPANY_PREFIXES), rng.choice(words.COMPANY_TRADES)
        name = f"{prefix} {trade} {rng.choice(words.COMPANY_SUFFIXES)}".strip()
        if attempt > 50:  # the word lists are running out of combinations
            name = f"{name} {attempt}"
        if name not in taken:
            taken.add(name)
            return prefix, trade, name
    raise RuntimeError("could not find an unused company name")


def _unique_domain(words_in_name: str, taken: set[str]) -> str:
    label = re.sub(r"[^a-z0-9]", "", words_in_name.lower())
    domain, n = f"{label}.example", 1
    while domain in taken:
        n += 1
        domain = f"{label}{n}.example"
    taken.add(domain)
    return domain


def _initials(name: str) -> str:
    return "".join(part[0] for part in re.split(r"[\s\-&]+", name) if part)[:4].upper()


def customer_since(gen: Generation, status: str) -> datetime:
    return gen.days_ago(*_CUSTOMER_SINCE[status])


def make_contacts(gen: Generation, profile: CustomerProfile, customer_id: str,
                  since: datetime) -> list[dict]:
    count = 2 + min(6, profile.seats // 15) + gen.rng.randint(0, 1)
    used_emails: set[str] = set()
    age = int((gen.now - since).total_seconds())
    contacts = []
    for index in range(count):
        first, last = gen.pick(words.FIRST_NAMES), gen.pick(words.LAST_NAMES)
        email = _unused_email(f"{first}.{last}".lower(), profile.domain, used_emails)
        created_at = gen.ago(DAY, max(DAY, age))
        titles = words.PRIMARY_TITLES if index == 0 else words.JOB_TITLES
        contacts.append({
            "_id": gen.new_id("con"), "customer_id": customer_id, "name": f"{first} {last}",
            "email": email, "phone": f"+1 {profile.area_code}-555-{gen.rng.randrange(100, 200):04d}",
            "title": gen.pick(titles), "is_primary": index == 0,
            "refs": gen.refs(gen.sources["psa"], "contact"),
            "created_at": created_at, "updated_at": gen.after(created_at, 0, 400 * DAY),
        })
    return contacts


def _unused_email(local: str, domain: str, used: set[str]) -> str:
    email, n = f"{local}@{domain}", 1
    while email in used:
        n += 1
        email = f"{local}{n}@{domain}"
    used.add(email)
    return email


def make_customer(gen: Generation, profile: CustomerProfile, customer_id: str, *,
                  since: datetime, contacts: list[dict], mrr: float, health: dict) -> dict:
    mrr = round(mrr, 2)
    psa = gen.sources["psa"]
    return {
        "_id": customer_id, "name": profile.name, "status": profile.status,
        "address": profile.address, "primary_contact_id": contacts[0]["_id"],
        "primary_psa_source_id": psa["_id"], "mrr": mrr, "arr": round(mrr * 12, 2),
        "health": health, "refs": gen.refs(psa, "company"),
        "created_at": since, "updated_at": gen.ago(60, 6 * 3600),
    }


def grade_for(score: int) -> str:
    for grade, floor in (("A", 90), ("B", 80), ("C", 70), ("D", 60)):
        if score >= floor:
            return grade
    return "F"


def assess_health(gen: Generation, *, tickets: list[dict], alerts: list[dict],
                  assets: list[dict], backups: list[dict], contracts: list[dict],
                  invoices: list[dict]) -> dict:
    """Score 100 minus capped penalties for what is wrong right now; factors say why."""
    now = gen.now
    week_ago = now - timedelta(days=7)
    findings = [  # (count, points each, cap, description)
        (_count(alerts, lambda a: a["status"] != "resolved" and a["severity"] == "critical"),
         12, 36, "open critical alert(s)"),
        (_count(alerts, lambda a: a["status"] != "resolved" and a["severity"] == "major"),
         5, 20, "open major alert(s)"),
        (_count(backups, lambda b: b["last_status"] == "failed" and b["last_run_at"] >= week_ago),
         10, 30, "backup job(s) failed in the last 7 days"),
        (_count(tickets, lambda t: t["closed_at"] is None and t["priority"] in ("high", "critical")),
         4, 20, "high-priority ticket(s) open"),
        (_count(assets, lambda a: a["kind"] in ("server", "virtual_machine")
                and a["status"] in ("offline", "stale")), 8, 24, "server(s) offline"),
        (_count(assets, lambda a: a["status"] != "retired" and a["warranty"]["status"] == "expired"),
         1, 10, "device(s) out of warranty"),
        (_count(invoices, lambda i: i["status"] == "overdue"), 6, 12, "overdue invoice(s)"),
        (_count(contracts, lambda c: c["status"] == "active" and not c["auto_renew"]
                and c["end_date"] <= now + timedelta(days=60)), 5, 10,
         "agreement(s) ending within 60 days without auto-renewal"),
    ]
    penalty, factors = 0, []
    for count, points, cap, description in findings:
        if count:
            penalty += min(cap, count * points)
            factors.append(f"{count} {description}")
    score = max(0, 100 - penalty)
    return {"score": score, "grade": grade_for(score), "factors": factors,
            "updated_at": gen.ago(60, 3600)}


def _count(docs: list[dict], predicate) -> int:
    return sum(1 for doc in docs if predicate(doc))
