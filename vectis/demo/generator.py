"""Deterministic demo data for one tenant, in the shape of docs/data-model.md.

Pure: no database, no I/O, standard library only. The same (slug, customers,
tickets_per_customer, now) always gives the same documents; `now` only moves times, so the
`_id`s do not depend on it and a seeder that inserts missing ids can resume on another day.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import vocabulary as words
from .accounts import (
    TICKET_WEIGHT,
    CustomerProfile,
    assess_health,
    customer_profiles,
    customer_since,
    make_contacts,
    make_customer,
)
from .billing import make_contracts, make_invoices, recurring_revenue
from .context import DAY, Generation, new_id, utc_millis
from .devices import make_alerts, make_assets, make_backup_jobs
from .service_desk import make_notes, make_tickets

# Insert order: every document refers only to documents of earlier collections, except for the
# one cycle: customers.primary_contact_id names a contact, yielded after its customer.
COLLECTIONS: tuple[str, ...] = (
    "users", "sources", "customers", "contacts", "tickets", "ticket_messages", "assets",
    "alerts", "contracts", "backup_jobs", "invoices", "notes",
)
BATCH_SIZE = 1000
FLUSH_AT = 20 * BATCH_SIZE  # buffered documents that trigger handing out batches


@dataclass(frozen=True)
class DemoOperator:
    email: str
    name: str
    role: str  # 'admin' or 'technician'


def demo_operators(slug: str) -> list[DemoOperator]:
    """The tenant's two operators who can sign in: an admin and a technician."""
    return [DemoOperator(email=f"{first}.{last}@{slug}.example".lower(), name=f"{first} {last}",
                         role=role)
            for role, (first, last) in words.OPERATORS.items()]


def generate_tenant(slug: str, *, customers: int = 40, tickets_per_customer: float = 12.0,
                    now: datetime, vendors: tuple[str, str, str] | None = None,
                    ) -> Iterator[tuple[str, list[dict]]]:
    """Yield (collection, documents) batches of at most BATCH_SIZE, referenced documents first.

    Users come without `password_hash`; the seeder adds it. `vendors` = (PSA, RMM, backup)
    overrides the tenant's usual vendors (tests exercise every vendor this way).
    """
    now = utc_millis(now)
    master = random.Random(f"vectis-demo:{slug}:{customers}:{tickets_per_customer!r}")
    users = _users(master, slug, now)
    sources = _sources(master, vendors or tenant_vendors(slug), now)
    gen = Generation(master, now, {s["kind"]: s for s in sources}, users)
    profiles = customer_profiles(master, customers)
    ticket_counts = _spread(round(customers * tickets_per_customer),
                            [p.seats * TICKET_WEIGHT[p.status] for p in profiles])
    batches = _Batches()
    batches.add("users", users)
    batches.add("sources", sources)
    for profile, ticket_count in zip(profiles, ticket_counts, strict=True):
        # Each customer draws from its own generator, so nothing one customer generates can
        # shift the ids of the next.
        gen.rng = random.Random(master.getrandbits(64))
        for collection, docs in _customer_documents(gen, profile, ticket_count).items():
            batches.add(collection, docs)
        yield from batches.when_large()
    yield from batches.drain()


def _users(rng: random.Random, slug: str, now: datetime) -> list[dict]:
    users = []
    for operator in demo_operators(slug):
        created_at = now - timedelta(seconds=rng.randint(300 * DAY, 700 * DAY))
        users.append({
            "_id": new_id(rng, "usr"), "email": operator.email, "name": operator.name,
            "role": operator.role, "disabled": False, "mfa": None, "created_at": created_at,
            "updated_at": created_at + timedelta(seconds=rng.randint(DAY, 200 * DAY)),
        })
    return users


def tenant_vendors(slug: str) -> tuple[str, str, str]:
    """(PSA, RMM, backup) vendors of a tenant: fixed for the demo tenants, else by slug."""
    if slug in words.TENANT_VENDORS:
        return words.TENANT_VENDORS[slug]
    rng = random.Random(f"vectis-demo-vendors:{slug}")
    return rng.choice(words.PSA_VENDORS), rng.choice(words.RMM_VENDORS), words.BACKUP_VENDOR


def _sources(rng: random.Random, vendors: tuple[str, str, str], now: datetime) -> list[dict]:
    sources = []
    for kind, vendor in zip(("psa", "rmm", "backup"), vendors, strict=True):
        sources.append({
            "_id": new_id(rng, "src"), "kind": kind, "vendor": vendor,
            "name": words.VENDOR_NAMES[vendor], "base_url": None, "credentials_encrypted": None,
            "status": "connected",
            "last_sync_at": now - timedelta(seconds=rng.randint(60, 900)),
            "last_sync_error": None, "sync": {},
            "created_at": now - timedelta(seconds=rng.randint(200 * DAY, 600 * DAY)),
        })
    return sources


def _spread(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights`, exactly (cumulative integer rounding)."""
    weight_sum = sum(weights) or 1
    counts, cumulative, handed_out = [], 0, 0
    for weight in weights:
        cumulative += weight
        target = total * cumulative // weight_sum
        counts.append(target - handed_out)
        handed_out = target
    return counts


def _customer_documents(gen: Generation, profile: CustomerProfile,
                        ticket_count: int) -> dict[str, list[dict]]:
    customer_id = gen.new_id("cus")
    since = customer_since(gen, profile.status)
    contacts = make_contacts(gen, profile, customer_id, since)
    assets = make_assets(gen, profile, customer_id)
    tickets, messages = make_tickets(gen, customer_id, since=since, contacts=contacts,
                                     assets=assets, count=ticket_count)
    backups = make_backup_jobs(gen, profile, customer_id, assets)
    alerts = make_alerts(gen, profile, customer_id, assets, backups)
    contracts, billing_lines = make_contracts(gen, profile, customer_id)
    invoices = make_invoices(gen, profile, customer_id, billing_lines)
    notes = make_notes(gen, customer_id, active=profile.status in ("active", "onboarding"),
                       since=since, contacts=contacts, tickets=tickets, alerts=alerts,
                       assets=assets)
    health = assess_health(gen, tickets=tickets, alerts=alerts, assets=assets, backups=backups,
                           contracts=contracts, invoices=invoices)
    customer = make_customer(gen, profile, customer_id, since=since, contacts=contacts,
                             mrr=recurring_revenue(contracts), health=health)
    return {"customers": [customer], "contacts": contacts, "tickets": tickets,
            "ticket_messages": messages, "assets": assets, "alerts": alerts,
            "contracts": contracts, "backup_jobs": backups, "invoices": invoices, "notes": notes}


class _Batches:
    """Buffers documents and hands them out in insert order, in batches of at most BATCH_SIZE.

    Buffering many customers at a time keeps batches large (one customer's tickets would make
    small ones) while memory stays bounded by FLUSH_AT documents.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, list[dict]] = {name: [] for name in COLLECTIONS}
        self._buffered = 0

    def add(self, collection: str, docs: list[dict]) -> None:
        self._buffers[collection].extend(docs)
        self._buffered += len(docs)

    def when_large(self) -> Iterator[tuple[str, list[dict]]]:
        """Everything buffered, once there is enough of it."""
        if self._buffered >= FLUSH_AT:
            yield from self.drain()

    def drain(self) -> Iterator[tuple[str, list[dict]]]:
        for collection in COLLECTIONS:
            buffer = self._buffers[collection]
            for start in range(0, len(buffer), BATCH_SIZE):
                yield collection, buffer[start:start + BATCH_SIZE]
            buffer.clear()
        self._buffered = 0
