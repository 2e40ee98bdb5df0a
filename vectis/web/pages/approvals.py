"""/account/approvals: AI writes that wait for a person (vectis.approvals.queue), and the tenant's
approval policy.

Who sees and decides a write is deny by default, because approving one sends it to a vendor as
the requester: an admin sees every pending write of the tenant, a technician only writes their
own credentials asked for, any other role (readonly cannot hold a write scope) none. An operator
limited to some customers sees only writes for those customers; a write without a customer is
outside every limit. A write the operator may not see is, to a forged POST, as unknown as an id
that does not exist (404). Only an admin without a customer limit may change the policy, since it
applies to every customer of the tenant.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime

import tornado.web

from ...approvals.policy import DESCRIPTIONS, POLICIES, PolicyError, check_policy, tenant_policy
from ...audit import audit_row
from ...customer_scope import narrow
from .base import PageHandler
from .signin import operator_actor

DECIDE_ROLES = ("admin", "technician")    # the roles whose scopes include writes (vectis.scopes)
PENDING_LIMIT = 200
RECENT = 50
MAX_REASON = 500
MAX_BODY_CHARS = 4000                     # a plan body longer than this is cut on the page
POLICY_NOTICE = "Approval policy saved: {description}"
NO_ROLE = ("Your role cannot hold write scopes, so no AI write of yours waits for approval, and "
           "you cannot decide others'. An administrator of this tenant can.")
POLICY_LIMITED = ("The approval policy applies to every customer of this tenant; your account is "
                  "limited to some customers, so it cannot change it.")


def may_see(user: dict, doc: dict) -> bool:
    role = user.get("role")
    if role == "technician":
        if doc.get("user_id") != user["_id"]:
            return False
    elif role != "admin":
        return False
    limit = narrow(user.get("customers"))
    return limit is None or doc.get("customer_id") in limit


def may_set_policy(user: dict) -> bool:
    return user.get("role") == "admin" and user.get("customers") is None


def in_words(delta_seconds: float) -> str:
    minutes = max(0, int(delta_seconds // 60))
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} days {hours % 24} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def aware(value: datetime | None) -> datetime | None:
    # The driver may hand back naive UTC datetimes depending on its options.
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def request_rows(plan: dict) -> list[dict]:
    rows = []
    for call in plan.get("requests") or []:
        body = call.get("body")
        text = None
        if body is not None:
            text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, indent=2)
            if len(text) > MAX_BODY_CHARS:
                text = text[:MAX_BODY_CHARS] + "\n…"
        params = call.get("params") or {}
        rows.append({"method": call.get("method", ""), "path": call.get("path", ""),
                     "query": "&".join(f"{k}={v}" for k, v in params.items()), "body": text})
    return rows


def outcome_detail(doc: dict) -> str:
    """Where a write ended, without who decided (the table has a column for that)."""
    outcome = doc.get("outcome") or {}
    return {"succeeded": "Sent.",
            "failed": f"Not sent: {outcome.get('message') or 'the vendor refused it'}",
            "rejected": f"Reason: {outcome['reason']}" if outcome.get("reason") else "No reason given.",
            "expired": "Nobody approved it in time; nothing was sent.",
            "dispatching": "Being sent now."}.get(doc["status"], "")


def outcome_words(doc: dict, user: dict | None = None) -> tuple[str, str]:
    """(css class, sentence) for where a write ended; `user` words it for the decider."""
    status = doc["status"]
    outcome = doc.get("outcome") or {}
    decider = doc.get("decided_by") or {}
    who = "you" if user is not None and decider.get("user_id") == user["_id"] else decider.get("email") or "someone"
    plan = doc.get("plan") or {}
    vendor = (plan.get("source") or {}).get("name") or plan.get("vendor") or "the vendor"
    if status == "succeeded":
        return "notice", f"Approved by {who} and sent to {vendor}."
    if status == "failed":
        return "error", (f"Approved by {who}, but it did not go through: "
                         f"{outcome.get('message') or 'the vendor refused it'}")
    if status == "rejected":
        reason = f" Reason: {outcome['reason']}" if outcome.get("reason") else ""
        return "notice", f"Rejected by {who}; nothing was sent.{reason}"
    if status == "expired":
        return "error", "It expired before anyone approved it; nothing was sent."
    if status == "dispatching":
        return "notice", f"Approved by {who}; it is being sent to {vendor} now."
    return "notice", "It is still waiting for a decision."


class ApprovalsPage(PageHandler):
    requires_session = True

    def row(self, doc: dict, now: datetime, labels: dict, customers: dict) -> dict:
        plan = doc.get("plan") or {}
        actor = doc.get("actor") or {}
        customer = plan.get("customer") or {}
        expires_at = aware(doc.get("expires_at"))
        status = doc["status"]
        if status == "pending" and expires_at is not None and expires_at <= now:
            status = "expired"
        words = outcome_detail({**doc, "status": status})
        return {
            "id": doc["_id"], "action": doc.get("action"), "status": status,
            "requested_at": aware(doc.get("requested_at")), "requester": actor.get("email") or "—",
            "via": labels.get(actor.get("credential_id")) or (
                "an OAuth app" if actor.get("kind") == "oauth" else "a token"),
            "customer": (customer.get("name") or customers.get(doc.get("customer_id"))
                         or doc.get("customer_id") or "no customer"),
            "vendor": plan.get("vendor") or "", "source": (plan.get("source") or {}).get("name") or "",
            "requests": request_rows(plan),
            "expires_in": in_words((expires_at - now).total_seconds()) if expires_at else "—",
            "decided_by": (doc.get("decided_by") or {}).get("email"),
            "decided_at": aware(doc.get("decided_at")), "outcome": words,
        }

    async def credential_labels(self, docs: list[dict]) -> dict[str, str]:
        """What the requester called the credential: a PAT's label or an OAuth app's name."""
        storage, slug = self.services.storage, self.tenant.slug
        labels: dict[str, str] = {}
        for user_id in {d.get("user_id") for d in docs if (d.get("actor") or {}).get("kind") == "pat"}:
            for pat in await storage.pats.for_user(slug, user_id):
                labels[pat["_id"]] = f"token “{pat.get('label')}”"
        for grant_id in {d["actor"].get("credential_id") for d in docs
                         if (d.get("actor") or {}).get("kind") == "oauth"}:
            grant = await storage.oauth_grants.get(slug, grant_id) if grant_id else None
            if grant is not None and grant.get("client_name"):
                labels[grant_id] = f"app “{grant['client_name']}”"
        return labels

    async def render_page(self, *, status: int = 200, error: str | None = None,
                          notice: tuple[str, str] | None = None) -> None:
        user, slug = self.current_user, self.tenant.slug
        store = self.services.storage.approvals
        now = datetime.now(UTC)
        pending: list[dict] = []
        recent: list[dict] = []
        if user["role"] in DECIDE_ROLES:
            own = None if user["role"] == "admin" else user["_id"]
            pending = [d for d in await store.pending(slug, now, user_id=own, limit=PENDING_LIMIT)
                       if may_see(user, d)]
            recent = [d for d in await store.recent(slug, user_id=own, limit=RECENT + len(pending))
                      if may_see(user, d) and d["_id"] not in {p["_id"] for p in pending}][:RECENT]
        labels = await self.credential_labels(pending + recent)
        # A ticket's plan names its customer by id only.
        customers = await self.services.storage.customers.names(
            slug, sorted({d["customer_id"] for d in pending + recent if d.get("customer_id")}))
        if notice is None:
            notice = await self.decided_notice()
        policy = tenant_policy(self.tenant.settings)
        self.set_status(status)
        self.render("approvals.html", title="Approvals", error=error, notice=notice,
                    pending=[self.row(d, now, labels, customers) for d in pending],
                    recent=[self.row(d, now, labels, customers) for d in recent],
                    can_decide=user["role"] in DECIDE_ROLES, no_role=NO_ROLE,
                    own_only=user["role"] != "admin",
                    limited=narrow(user.get("customers")) is not None,
                    policy=policy, policies=POLICIES, descriptions=DESCRIPTIONS,
                    can_set_policy=may_set_policy(user), policy_limited=POLICY_LIMITED,
                    max_reason=MAX_REASON, expiry=self.services.approvals.expiry)

    async def decided_notice(self) -> tuple[str, str] | None:
        """After a decision (303 here with ?decided=), where that write ended, from the database,
        so a reload says the same and a loser of a race sees the winner's outcome."""
        if self.get_query_argument("policy", "") in POLICIES:
            return "notice", POLICY_NOTICE.format(description=DESCRIPTIONS[self.get_query_argument("policy")])
        approval_id = self.get_query_argument("decided", "")
        if not approval_id:
            return None
        doc = await self.services.approvals.status_of(self.tenant.slug, approval_id)
        if doc is None or not may_see(self.current_user, doc):
            return None
        css, words = outcome_words(doc, self.current_user)
        return css, f"{doc.get('action')} ({approval_id}): {words}"


class ApprovalsHandler(ApprovalsPage):
    async def get(self) -> None:
        await self.render_page()


class DecideHandler(ApprovalsPage):
    async def post(self) -> None:
        user, slug = self.current_user, self.tenant.slug
        if user["role"] not in DECIDE_ROLES:
            await self.render_page(status=403, error=NO_ROLE)
            return
        decision = self.get_body_argument("decision", "")
        if decision not in ("approve", "reject"):
            await self.render_page(status=400, error="Choose Approve or Reject.")
            return
        approval_id = self.get_body_argument("approval_id", "")[:40]
        doc = await self.services.approvals.status_of(slug, approval_id) if approval_id else None
        if doc is None or not may_see(user, doc):
            raise tornado.web.HTTPError(404)
        reason = " ".join(self.get_body_argument("reason", "").split())[:MAX_REASON] or None
        await self.services.approvals.decide(slug, approval_id, user, decision == "approve",
                                             reason if decision == "reject" else None)
        self.redirect(f"/account/approvals?decided={approval_id}#{approval_id}", status=303)


class PolicyHandler(ApprovalsPage):
    async def post(self) -> None:
        user, slug = self.current_user, self.tenant.slug
        if not may_set_policy(user):
            await self.render_page(status=403, error=POLICY_LIMITED if user["role"] == "admin" else
                                   "Only an administrator can change the approval policy.")
            return
        try:
            policy = check_policy(self.get_body_argument("policy", ""))
        except PolicyError as exc:
            await self.render_page(status=400, error=f"Nothing changed: the {exc}.")
            return
        was = tenant_policy(self.tenant.settings)
        await self.services.storage.tenants.set_approval_policy(slug, policy)
        # This process applies it at the next call; the others within tenant_cache_seconds.
        self.services.tenants.forget(slug)
        await self.services.audit.write(slug, audit_row(
            actor=operator_actor(user, user["email"]), action="approval_policy.set", status="success",
            kind="tenant", target={"kind": "tenant", "id": slug}, detail={"policy": policy, "was": was},
            request_id=self.request_id))
        self.redirect(f"/account/approvals?policy={policy}", status=303)
