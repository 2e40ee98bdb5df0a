"""Audit batches against a real database: a batch sent again after an interrupted attempt is
written exactly once, and a flush cancelled mid-way (a stopping server) loses no row."""
from __future__ import annotations

import asyncio

from vectis.audit import AuditLog, audit_row

ACTOR = {"kind": "pat", "credential_id": "pat_x", "user_id": "usr_x", "email": "a@b.example",
         "client_id": None}


def rows(count: int, action: str = "list_customers") -> list[dict]:
    return [audit_row(actor=ACTOR, action=action, status="success", kind="read")
            for _ in range(count)]


async def stored_ids(storage, slug: str) -> list[str]:
    return [d["_id"] for d in await storage.db.tenant(slug)["audit_log"].find({}, {"_id": 1}).to_list()]


async def test_a_batch_sent_again_writes_only_what_is_missing(storage):
    batch = rows(5)
    await storage.audit.insert("acme", batch[:3])          # an attempt that landed in part
    await storage.audit.insert("acme", batch)              # the retry: no error, no duplicate
    assert sorted(await stored_ids(storage, "acme")) == sorted(r["_id"] for r in batch)


async def test_a_flush_cancelled_mid_way_keeps_its_rows_for_the_next(storage):
    audit = AuditLog(storage)
    written = {slug: rows(50) for slug in ("acme", "northwind", "globex")}
    for slug, batch in written.items():
        for row in batch:
            audit.record(slug, row)
    flushing = asyncio.ensure_future(audit.flush())
    await asyncio.sleep(0)      # the flush is now waiting on its first insert
    flushing.cancel()
    await asyncio.gather(flushing, return_exceptions=True)
    await audit.flush()          # what stop() does after cancelling the flusher
    for slug, batch in written.items():
        assert sorted(await stored_ids(storage, slug)) == sorted(r["_id"] for r in batch), slug
    assert audit._buffered == 0
