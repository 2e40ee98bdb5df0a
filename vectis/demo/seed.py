"""Seeding the demo tenants, idempotently.

Documents are inserted only where their (deterministic) _id is absent, so a second run changes
nothing and an interrupted run is completed by the next one. A marker per tenant skips the
generator once a tenant is complete. The demo rules (vectis/demo/rules.py) are seeded once per
tenant in the same way.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from ..config import Config
from ..credentials.passwords import hash_password
from ..storage import Storage
from ..storage.bulk import prepare_documents
from .generator import demo_operators, generate_tenant
from .rules import seed_demo_rules

DEMO_TENANTS = {"acme": "Acme IT Services", "northwind": "Northwind Managed Services"}
# Northwind shows human approval of AI writes; acme keeps the default (none).
DEMO_APPROVAL_POLICIES = {"northwind": "customer_visible"}
CREDENTIALS_FILE = "demo-credentials.json"


def demo_passwords(data_dir: Path) -> dict[str, dict[str, str]]:
    """Operator passwords, generated once and kept (0600) beside the embedded database."""
    path = data_dir / CREDENTIALS_FILE
    stored: dict[str, dict[str, str]] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    changed = False
    for slug in DEMO_TENANTS:
        for operator in demo_operators(slug):
            if operator.email not in stored.setdefault(slug, {}):
                stored[slug][operator.email] = "demo-" + secrets.token_urlsafe(12)
                changed = True
    if changed:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh, indent=2)
        os.replace(tmp, path)
    return stored


async def seed_tenant(storage: Storage, slug: str, name: str, *, passwords: dict[str, str],
                      customers: int = 40, tickets_per_customer: float = 12.0,
                      now: datetime | None = None,
                      vendors: tuple[str, str, str] | None = None) -> dict[str, int]:
    """Create the tenant and load generated data; returns documents inserted per collection.

    Batches are inserted one at a time, in the generator's order (referenced documents first),
    while a thread generates the next one (documents and their search trigrams): at 50,000
    tickets that is about a tenth of the work, done while the database writes.
    """
    await storage.tenants.ensure(slug, name)
    now = now or datetime.now(UTC)
    inserted: dict[str, int] = {}
    batches = _prepared_batches(generate_tenant(slug, customers=customers,
                                                tickets_per_customer=tickets_per_customer,
                                                now=now, vendors=vendors), passwords)
    writing: asyncio.Task | None = None
    try:
        while True:
            following = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
            try:
                if writing is not None:
                    collection, count = await writing
                    inserted[collection] = inserted.get(collection, 0) + count
                    writing = None
            finally:
                item = await following    # the thread cannot be cancelled: let it finish first
            if item is None:
                return inserted
            writing = asyncio.ensure_future(_insert(storage, slug, *item))
    finally:
        if writing is not None and not writing.done():
            writing.cancel()


async def _insert(storage: Storage, slug: str, collection: str, docs: list[dict]) -> tuple[str, int]:
    return collection, await storage.bulk.insert_missing(slug, collection, docs, with_terms=True)


def _prepared_batches(batches: Iterator[tuple[str, list[dict]]],
                      passwords: dict[str, str]) -> Iterator[tuple[str, list[dict]]]:
    for collection, batch in batches:
        if collection == "users":
            batch = [_with_password(user, passwords) for user in batch]
        yield collection, prepare_documents(collection, batch)


def _with_password(user: dict, passwords: dict[str, str]) -> dict:
    password = passwords.get(user["email"]) or secrets.token_urlsafe(24)
    return {**user, "password_hash": hash_password(password)}


async def seed_demo(storage: Storage, config: Config) -> dict[str, dict[str, str]]:
    passwords = demo_passwords(config.data_dir)
    for slug, name in DEMO_TENANTS.items():
        marker = f"demo_seeded:{slug}"
        if await storage.bulk.get_meta(marker):
            continue
        await seed_tenant(storage, slug, name, passwords=passwords[slug])
        await storage.bulk.set_meta(marker, {"at": datetime.now(UTC)})
    for slug in DEMO_TENANTS:
        # Apart from the data: demo data seeded before the demo had rules gets them too. Once
        # only, so a demo rule an operator deleted stays deleted.
        marker = f"demo_rules_seeded:{slug}"
        if not await storage.bulk.get_meta(marker):
            await seed_demo_rules(storage, slug)
            await storage.bulk.set_meta(marker, {"at": datetime.now(UTC)})
    for slug, policy in DEMO_APPROVAL_POLICIES.items():
        marker = f"demo_approval_policy:{slug}"    # once: an admin's later choice stands
        if not await storage.bulk.get_meta(marker):
            await storage.tenants.set_approval_policy(slug, policy)
            await storage.bulk.set_meta(marker, {"at": datetime.now(UTC)})
    return {slug: passwords[slug] for slug in DEMO_TENANTS}
