"""What AI clients did in a tenant (/account/activity): the audit rows of MCP tool calls made
with a token or an OAuth app, newest first, in pages of windows of time.

On SecantusDB a filter is served by an index only when the index holds every field of it; any
other field makes it a collection scan (measured at 40,000 rows: `{at: 7 days}` through the `at`
index 2.0 s for its 9,300 rows, one hour 7 ms; adding `kind` to it, or `actor.user_id` alone, a
scan). So every query here is `at` alone, or `actor.credential_id` with `at` (the `actor` index),
over one window of time, and the other conditions (kind, actor, tool, outcome) are checked on the
rows read. Windows start at an hour and grow while they hold few rows, so an unfiltered page
reads about what it shows; a page whose filter matches little stops after ROW_BUDGET rows and
continues from where it stopped, so no page view reads a whole week of a busy tenant. No index of
its own: each would cost every audit write.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .core import Database

MCP_KINDS = frozenset({"read", "write"})     # approval statuses are rows of kind write too
CLIENT_ACTORS = frozenset({"pat", "oauth"})  # AI clients; rules and operators have their own pages
FIRST_WINDOW = timedelta(hours=1)
WINDOW_ROWS = 500        # what a window after the first aims to hold
MIN_WINDOW = timedelta(seconds=1)
ROW_BUDGET = 3_000       # rows one page reads at most (about 0.6 s on SecantusDB)
LIST_PROJECTION = {"detail.requests": 0}     # vendor request bodies: the detail page only


def aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ActivityFilter:
    since: datetime                               # inclusive
    until: datetime | None = None                 # exclusive; None: up to the newest row
    user_id: str | None = None                    # the operator whose credentials made the calls
    credential_ids: tuple[str, ...] | None = None  # None: any credential (read through `at`)
    action: str | None = None
    statuses: frozenset[str] | None = None

    def matches(self, row: dict) -> bool:
        actor = row.get("actor") or {}
        return (row.get("kind") in MCP_KINDS and actor.get("kind") in CLIENT_ACTORS
                and (self.user_id is None or actor.get("user_id") == self.user_id)
                and (self.credential_ids is None or actor.get("credential_id") in self.credential_ids)
                and (self.action is None or row.get("action") == self.action)
                and (self.statuses is None or row.get("status") in self.statuses))


@dataclass
class ActivityPage:
    rows: list[dict]
    before: tuple[datetime, str] | None   # the next page holds the rows strictly before this
    searched_to: datetime | None = None   # set when the row budget ended the page early


def _key(row: dict) -> tuple[datetime, str]:
    return aware(row["at"]), row["_id"]


class ActivityRepository:
    def __init__(self, db: Database):
        self._db = db

    def _log(self, slug: str):
        return self._db.tenant(slug)["audit_log"]

    async def page(self, slug: str, flt: ActivityFilter, limit: int,
                   before: tuple[datetime, str] | None = None, *,
                   budget: int = ROW_BUDGET) -> ActivityPage:
        if flt.credential_ids is not None and not flt.credential_ids:
            return ActivityPage([], None)
        queries = ([{}] if flt.credential_ids is None
                   else [{"actor.credential_id": c} for c in sorted(flt.credential_ids)])
        found: list[dict] = []
        read = 0

        async def fetch(condition: dict) -> list[dict]:
            nonlocal read
            parts = await asyncio.gather(*(self._log(slug).find({**q, "at": condition}, LIST_PROJECTION)
                                           .to_list() for q in queries))
            rows = [r for part in parts for r in part]
            read += len(rows)
            return sorted(rows, key=_key, reverse=True)

        top = flt.until
        if before is not None:
            top = before[0] if top is None else min(top, before[0])
            if before[1] and (flt.until is None or before[0] < flt.until):
                # The rest of the cursor's instant: an equality the index serves.
                found += [r for r in await fetch(before[0]) if r["_id"] < before[1] and flt.matches(r)]
        now = datetime.now(UTC)
        width = FIRST_WINDOW
        bottom = top if top is not None else now
        windows = 0
        while len(found) <= limit and (top is None or top > flt.since):
            if windows and read >= budget:
                # ("", not a row id: nothing at `top` is left, so the next page is at < top.)
                return ActivityPage(found, (top, ""), searched_to=top)
            windows += 1
            bottom = max(bottom - width, flt.since)
            condition = {"$gte": bottom} if top is None else {"$gte": bottom, "$lt": top}
            rows = await fetch(condition)
            found += [r for r in rows if flt.matches(r)]
            # Grow a window that held few rows, shrink one that held many: about WINDOW_ROWS each.
            width = max(MIN_WINDOW, width * (3 if not rows else min(3.0, WINDOW_ROWS / len(rows))))
            top = bottom
        if len(found) <= limit:
            return ActivityPage(found, None)
        del found[limit:]
        return ActivityPage(found, _key(found[-1]))

    async def get(self, slug: str, row_id: str) -> dict | None:
        return await self._log(slug).find_one({"_id": row_id})

    async def credential_ids(self, slug: str, user_id: str) -> tuple[str, ...]:
        """Every token and OAuth grant the user ever had, revoked ones too (their calls stay)."""
        db = self._db.tenant(slug)
        pats, grants = await asyncio.gather(
            db["pats"].find({"user_id": user_id}, {"_id": 1}).to_list(),
            db["oauth_grants"].find({"user_id": user_id}, {"_id": 1}).to_list())
        return tuple(sorted(d["_id"] for d in pats + grants))

    async def credentials(self, slug: str, user_id: str | None) -> list[dict]:
        """The credentials to filter by: {id, label, user_id, kind}, one user's or the tenant's."""
        db = self._db.tenant(slug)
        query = {} if user_id is None else {"user_id": user_id}
        pats, grants = await asyncio.gather(
            db["pats"].find(query, {"label": 1, "user_id": 1, "prefix": 1}).sort("created_at", -1).to_list(1000),
            db["oauth_grants"].find({**query, "placeholder": {"$ne": True}},
                                    {"client_name": 1, "client_id": 1, "user_id": 1})
            .sort("created_at", -1).to_list(1000))
        return ([{"id": p["_id"], "kind": "pat", "user_id": p.get("user_id"),
                  "label": f"token “{p.get('label') or p.get('prefix') or p['_id']}”"} for p in pats]
                + [{"id": g["_id"], "kind": "oauth", "user_id": g.get("user_id"),
                    "label": f"app “{g.get('client_name') or g.get('client_id') or g['_id']}”"} for g in grants])

    async def credential_names(self, slug: str, rows: list[dict]) -> dict[str, str]:
        """What each row's credential is called (a token's label, an OAuth app's name), read
        for the rows shown in one query per collection."""
        db = self._db.tenant(slug)
        pat_ids = sorted({(r.get("actor") or {}).get("credential_id") for r in rows
                          if (r.get("actor") or {}).get("kind") == "pat"} - {None})
        grant_ids = sorted({(r.get("actor") or {}).get("credential_id") for r in rows
                            if (r.get("actor") or {}).get("kind") == "oauth"} - {None})
        pats, grants = await asyncio.gather(
            db["pats"].find({"_id": {"$in": pat_ids}}, {"label": 1, "prefix": 1}).to_list() if pat_ids else _none(),
            db["oauth_grants"].find({"_id": {"$in": grant_ids}}, {"client_name": 1, "client_id": 1}).to_list()
            if grant_ids else _none())
        names = {p["_id"]: f"token “{p.get('label') or p.get('prefix')}”" for p in pats}
        unnamed = {g["_id"]: g.get("client_id") for g in grants if not g.get("client_name")}
        names.update({g["_id"]: f"app “{g['client_name']}”" for g in grants if g.get("client_name")})
        # A grant made before grants kept the app's name: the registered client's.
        client_ids = sorted({c for c in unnamed.values() if c}
                            | {(r.get("actor") or {}).get("client_id") for r in rows
                               if (r.get("actor") or {}).get("credential_id") in set(grant_ids) - set(names)} - {None})
        if client_ids:
            clients = {c["_id"]: c.get("client_name") for c in await db["oauth_clients"].find(
                {"_id": {"$in": client_ids}}, {"client_name": 1}).to_list()}
            for row in rows:
                actor = row.get("actor") or {}
                cred = actor.get("credential_id")
                if actor.get("kind") == "oauth" and cred not in names:
                    name = clients.get(unnamed.get(cred) or actor.get("client_id"))
                    if name:
                        names[cred] = f"app “{name}”"
        return names


    async def customers_of(self, slug: str, targets: dict[str, set[str]]) -> dict[str, str]:
        """The customer of each ticket or alert a read named by id only: one query per kind."""
        db = self._db.tenant(slug)
        kinds = [(kind, sorted(ids)) for kind, ids in targets.items()
                 if kind in ("ticket", "alert", "asset") and ids]
        parts = await asyncio.gather(*(db[f"{kind}s"].find({"_id": {"$in": ids}}, {"customer_id": 1}).to_list()
                                       for kind, ids in kinds))
        return {doc["_id"]: doc["customer_id"] for part in parts for doc in part if doc.get("customer_id")}


async def _none() -> list:
    return []
