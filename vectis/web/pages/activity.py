"""/account/activity: what AI clients did in the tenant, from the audit log (vectis.storage.activity).

Who sees what, deny by default since arguments name customers and tickets: an administrator
without a customer limit sees every token's and app's calls; every other operator (another role,
or an admin limited to some customers, whose limit the rows of others could cross) sees only the
calls of their own credentials. A row they may not see is a 404 like an id that does not exist.
Every view, list or detail, writes an `activity.viewed` audit row with what was asked.
"""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import tornado.web

from ...audit import audit_row
from ...storage.activity import CLIENT_ACTORS, MCP_KINDS, ActivityFilter, aware
from ...tools.pagination import InvalidCursor
from .base import PageHandler
from .signin import operator_actor

PAGE_SIZE = 50
DEFAULT_RANGE = timedelta(days=7)
MAX_BODY_CHARS = 4000
OUTCOMES = {   # audit status -> how the page says it
    "success": "success", "error": "error", "denied_scope": "denied by scope",
    "denied_mfa": "denied by MFA", "rate_limited": "rate-limited", "replayed": "replayed",
    "dry_run": "dry run", "conflict": "conflict", "approval_requested": "approval requested",
    "pending_approval": "pending approval", "declined": "declined", "rejected": "rejected",
    "elevation_requested": "elevation requested",
}
TARGET_ARGUMENTS = (("ticket_id", "ticket"), ("alert_id", "alert"), ("asset_id", "asset"),
                    ("contract_id", "contract"), ("invoice_id", "invoice"), ("customer_id", "customer"))
TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")
ROW_ID = re.compile(r"^aud_[a-z2-7]{16}$")
OWN_ONLY = "You see the calls made with your own tokens and apps."


class FilterError(ValueError):
    """A filter value that cannot be used; the message is shown next to the form."""


def sees_everyone(user: dict) -> bool:
    return user.get("role") == "admin" and user.get("customers") is None


def may_see(user: dict, row: dict | None) -> bool:
    if row is None or row.get("kind") not in MCP_KINDS:
        return False
    actor = row.get("actor") or {}
    if actor.get("kind") not in CLIENT_ACTORS:
        return False
    return sees_everyone(user) or actor.get("user_id") == user["_id"]


def parse_time(value: str, name: str, end_of_day: bool = False) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    for fmt in TIME_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        # "to 2025-03-02" means through that day.
        return parsed + timedelta(days=1) if end_of_day and fmt == "%Y-%m-%d" else parsed
    raise FilterError(f"“{value[:40]}” is not a time for {name}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC).")


def precise(value: datetime | None) -> str:
    return aware(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def duration(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def outcome(row: dict) -> tuple[str, str]:
    """(status, words) of where a call ended."""
    status = row.get("status", "")
    detail = row.get("detail") or {}
    words = OUTCOMES.get(status, status)
    if status == "denied_scope" and detail.get("reason") == "customer_scope":
        words = "denied by customer limit"
    elif status == "error" and detail.get("stage") == "dispatching":
        words = "error (unfinished)"     # the write's outcome was never recorded
    return status, words


def target_of(row: dict) -> dict | None:
    """{kind, id, customer_id} the call was about: a write's stored target, else its arguments."""
    target = row.get("target")
    if target and target.get("id"):
        return {"kind": target.get("kind", ""), "id": target["id"], "customer_id": target.get("customer_id")}
    arguments = (row.get("detail") or {}).get("arguments")
    if isinstance(arguments, dict):
        for name, kind in TARGET_ARGUMENTS:
            value = arguments.get(name)
            if isinstance(value, str) and value:
                return {"kind": kind, "id": value,
                        "customer_id": value if kind == "customer" else arguments.get("customer_id")}
    return None


def request_rows(requests) -> list[dict]:
    rows = []
    for call in requests if isinstance(requests, list) else []:
        if not isinstance(call, dict):
            continue
        body = call.get("body")
        text = None
        if body is not None:
            text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, indent=2)
            if len(text) > MAX_BODY_CHARS:
                text = f"{text[:MAX_BODY_CHARS]}\n… [{len(text)} characters]"
        params = call.get("params") or {}
        rows.append({"method": call.get("method", ""), "path": call.get("path", ""),
                     "query": "&".join(f"{k}={v}" for k, v in params.items()) if isinstance(params, dict) else "",
                     "body": text})
    return rows


class ActivityPage(PageHandler):
    requires_session = True

    async def audit_view(self, detail: dict, status: str = "success") -> None:
        user = self.current_user
        await self.services.audit.write(self.tenant.slug, audit_row(
            actor=operator_actor(user, user["email"]), action="activity.viewed", status=status,
            kind="auth", detail=detail, request_id=self.request_id))

    async def views(self, rows: list[dict]) -> list[dict]:
        """The rows as the page shows them; names read for all of them at once."""
        storage, slug = self.services.storage, self.tenant.slug
        credentials = await storage.activity.credential_names(slug, rows)
        targets = {row["_id"]: target_of(row) for row in rows}
        unknown: dict[str, set[str]] = {}
        for target in targets.values():
            if target is not None and not target.get("customer_id"):
                unknown.setdefault(target["kind"], set()).add(target["id"])
        if unknown:
            owners = await storage.activity.customers_of(slug, unknown)
            for target in targets.values():
                if target is not None and not target.get("customer_id"):
                    target["customer_id"] = owners.get(target["id"])
        customers = await storage.customers.names(
            slug, sorted({t["customer_id"] for t in targets.values() if t and t.get("customer_id")}))
        views = []
        for row in rows:
            actor = row.get("actor") or {}
            status, words = outcome(row)
            target = targets[row["_id"]]
            if target is not None:
                target["customer"] = customers.get(target.get("customer_id"))
            approval = (row.get("detail") or {}).get("approval_id")
            views.append({
                "id": row["_id"], "at": precise(row.get("at")), "operator": actor.get("email") or "—",
                "date": precise(row.get("at"))[:10], "clock": precise(row.get("at"))[11:19],
                "credential": credentials.get(actor.get("credential_id")) or (
                    f"{'app' if actor.get('kind') == 'oauth' else 'token'} {actor.get('credential_id') or '—'}"),
                "tool": row.get("action", ""), "kind": row.get("kind", ""), "target": target,
                "approval_id": approval if isinstance(approval, str) else None,
                "status": status, "outcome": words, "duration": duration(row.get("duration_ms")),
                "request_id": row.get("request_id"),
            })
        return views


class ActivityHandler(ActivityPage):
    async def get(self) -> None:
        user, slug = self.current_user, self.tenant.slug
        storage = self.services.storage
        everyone = sees_everyone(user)
        asked = {name: self.get_query_argument(name, "").strip()[:200]
                 for name in ("operator", "credential", "tool", "outcome", "from", "to")}
        operators = await storage.users.list(slug) if everyone else []
        operator_ids = {u["_id"] for u in operators}
        credentials = await storage.activity.credentials(
            slug, (asked["operator"] or None) if everyone else user["_id"])
        tools = sorted(spec.name for spec in self.services.dispatcher.caller.registry)
        now = datetime.now(UTC)
        rows: list[dict] = []
        page = None
        error = None
        try:
            flt, cursor_scope = await self.filter_from(asked, everyone, operator_ids, credentials, tools, now)
            before = None
            cursor = self.get_query_argument("before", "")
            if cursor:
                try:
                    at, row_id = self.services.cursors.decode(slug, cursor_scope, cursor[:400])
                    before = (aware(at), str(row_id))
                except (InvalidCursor, TypeError, ValueError):
                    raise FilterError("The “older” link is not valid for these filters. Start again from the "
                                      "newest.") from None
            page = await storage.activity.page(slug, flt, PAGE_SIZE, before)
            rows = page.rows
        except FilterError as exc:
            error = str(exc)
            self.set_status(400)
        await self.audit_view({"page": "list", "filters": {k: v for k, v in asked.items() if v},
                               "older": bool(self.get_query_argument("before", "")),
                               **({"rows": len(rows)} if error is None else {"error": error[:200]})},
                              "success" if error is None else "error")
        older = None
        if page is not None and page.before is not None:
            # The link pins "from" (a default of 7 days ago moves with the clock) and the filters.
            older = urlencode({**{k: v for k, v in asked.items() if v}, "from": flt.since.strftime("%Y-%m-%dT%H:%M:%S"),
                               "before": self.services.cursors.encode(slug, cursor_scope,
                                                                      [page.before[0], page.before[1]])})
        self.render("activity.html", title="Activity", rows=await self.views(rows), error=error,
                    asked=asked, everyone=everyone, operators=sorted(operators, key=lambda u: u["email"]),
                    credentials=credentials, tools=tools, outcomes=OUTCOMES,
                    older=older, searched_to=precise(page.searched_to) if page and page.searched_to else None,
                    own_only=OWN_ONLY, limited=user.get("customers") is not None)

    async def filter_from(self, asked: dict, everyone: bool, operator_ids: set, credentials: list[dict],
                          tools: list[str], now: datetime) -> tuple[ActivityFilter, str]:
        user, slug = self.current_user, self.tenant.slug
        if asked["operator"] and not everyone and asked["operator"] != user["_id"]:
            raise FilterError(OWN_ONLY + " Remove the operator filter.")
        if asked["operator"] and everyone and asked["operator"] not in operator_ids:
            raise FilterError("No operator of this tenant has that id; choose one from the list.")
        if asked["credential"] and asked["credential"] not in {c["id"] for c in credentials}:
            raise FilterError("No token or app you can see has that id; choose one from the list.")
        if asked["tool"] and asked["tool"] not in tools:
            raise FilterError(f"“{asked['tool'][:60]}” is not a tool of this server; choose one from the list.")
        if asked["outcome"] and asked["outcome"] not in OUTCOMES:
            raise FilterError(f"“{asked['outcome'][:40]}” is not an outcome; choose one from the list.")
        since = parse_time(asked["from"], "From") or (now - DEFAULT_RANGE).replace(microsecond=0)
        until = parse_time(asked["to"], "To", end_of_day=True)
        if until is not None and until <= since:
            raise FilterError("“To” must be later than “From”.")
        user_id = (asked["operator"] or None) if everyone else user["_id"]
        if asked["credential"]:
            credential_ids = (asked["credential"],)
        elif user_id is not None:
            # One operator's calls: read through the actor index, credential by credential.
            credential_ids = await self.services.storage.activity.credential_ids(slug, user_id)
        else:
            credential_ids = None
        flt = ActivityFilter(since=since, until=until, user_id=user_id, credential_ids=credential_ids,
                             action=asked["tool"] or None,
                             statuses=frozenset({asked["outcome"]}) if asked["outcome"] else None)
        # A cursor is good only for the filters, and the viewer, it was made for.
        scope = self.services.cursors.scope("activity", {
            "viewer": user["_id"], "everyone": everyone, "since": since.isoformat(),
            "until": until.isoformat() if until else None,
            **{k: asked[k] for k in ("operator", "credential", "tool", "outcome")}})
        return flt, scope


class ActivityDetailHandler(ActivityPage):
    async def get(self, row_id: str) -> None:
        user, slug = self.current_user, self.tenant.slug
        row = await self.services.storage.activity.get(slug, row_id) if ROW_ID.match(row_id) else None
        visible = may_see(user, row)
        await self.audit_view({"page": "detail", "row_id": row_id[:40], "found": visible},
                              "success" if visible else "error")
        if not visible:
            raise tornado.web.HTTPError(404)
        view = (await self.views([row]))[0]
        detail = row.get("detail") or {}
        arguments = detail.get("arguments")
        summary = [(label, detail.get(key)) for key, label in (
            ("reason", "Reason"), ("missing", "Missing scopes"), ("vendor", "Vendor"), ("source_id", "Source"),
            ("verb", "Vendor verb"), ("vendor_status", "Vendor status"), ("vendor_id", "Vendor record"),
            ("retry_safe", "Safe to retry"), ("recovered", "Found done at the vendor on a retry"),
            ("original_request_id", "Replay of request"), ("scope", "Rate limit"), ("via", "Asked via"),
            ("rejected_by", "Rejected by")) if detail.get(key) not in (None, "", [], False)]
        summary = [(label, "yes" if value is True else value) for label, value in summary]
        if (row.get("actor") or {}).get("approved_by"):
            summary.append(("Approved by", row["actor"]["approved_by"]))
        self.render("activity_detail.html", title=f"Call {row_id}", row=view,
                    arguments=None if not isinstance(arguments, dict) else
                    json.dumps(arguments, ensure_ascii=False, indent=2, default=str),
                    requests=request_rows(detail.get("requests")), summary=summary,
                    idempotency=detail.get("idempotency_key"), dry_run=detail.get("dry_run"))
