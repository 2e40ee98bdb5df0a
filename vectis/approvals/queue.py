"""Human approval of a write, on the one write path: the write tools ask `Approvals.gate` before
they dispatch.

Three ways a write that the policy holds gets its person (docs/writes.md):
- inline: a 2026-07-28 client that declares form elicitation gets `input_required` with the
  plan; its retry carries the answer and the sealed state, and an approval dispatches;
- queue: every other client gets a pending write at once (handle, approval URL); an operator
  approves or rejects it on /account/approvals, and an approval dispatches through the same
  WriteDispatcher under the write's idempotency key;
- either way a decline or rejection sends nothing and is audited.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from pymongo.errors import DuplicateKeyError

from ..audit import audit_row
from ..customer_scope import narrow, stored
from ..ids import new_id
from ..tools.registry import ToolError
from ..writes.dispatcher import (
    IdempotencyConflict,
    IdempotencyInFlight,
    WriteRequest,
    arguments_hash,
    write_arguments,
)
from .policy import effective_policy, needs_approval
from .request_state import InvalidRequestState, seal, unseal

log = logging.getLogger("vectis.approvals")
DEFAULT_EXPIRY = timedelta(hours=24)
CLAIM_LEASE = timedelta(seconds=150)   # longer than one vendor write with its retries
APPROVE_FIELD = "approve"
INPUT_KEY = "approval"


@dataclass(frozen=True)
class Mrtr:
    """What a 2026-07-28 tools/call brought for a multi-round trip: the client's elicitation
    modes, and on a retry the answers and the echoed state."""
    form: bool
    url: bool
    responses: dict
    state: str | None


class InputRequired(Exception):
    """Answer the call with `resultType: input_required` instead of a result."""

    def __init__(self, requests: dict, state: str):
        super().__init__("input required")
        self.requests = requests
        self.state = state

    def result(self) -> dict:
        return {"resultType": "input_required", "inputRequests": self.requests, "requestState": self.state}


class BadRequestState(Exception):
    """A retry whose requestState is not this call's: refused, nothing done."""


def keyed_approval_id(request: WriteRequest) -> str:
    """The approval id of a write with an idempotency_key: one per key, in the key's scope (the
    credential owner and the tool), so a retry finds its first pending write."""
    digest = hashlib.sha256(f"{request.owner}|{request.action}|{request.idempotency_key}".encode()).digest()
    return "apr_" + base64.b32encode(digest[:10]).decode().lower()


def plan_in_words(plan: dict) -> str:
    """The plan a person approves: what, for whom, where, and every request exactly."""
    customer = plan.get("customer") or {}
    who = f" for {customer['name']}" if customer.get("name") else ""
    lines = [f"Approve {plan['action']}{who} in {plan['vendor']} ({(plan.get('source') or {}).get('name') or ''})?",
             "Vectis will send exactly:"]
    for call in plan.get("requests") or []:
        body = call.get("body")
        text = json.dumps(body, ensure_ascii=False) if body is not None else ""
        if len(text) > 1500:
            text = text[:1500] + " …"
        lines.append(f"- {call['method']} {call['path']}" + (f" {text}" if text else ""))
    return "\n".join(lines)


def form_request(plan: dict) -> dict:
    return {"method": "elicitation/create", "params": {
        "mode": "form", "message": plan_in_words(plan),
        "requestedSchema": {"type": "object", "properties": {APPROVE_FIELD: {
            "type": "boolean", "title": "Send it",
            "description": "Yes sends this to the vendor now; no sends nothing.", "default": False}},
            "required": [APPROVE_FIELD]}}}


def approved(answer: object) -> bool:
    return (isinstance(answer, dict) and answer.get("action") == "accept"
            and isinstance(answer.get("content"), dict) and answer["content"].get(APPROVE_FIELD) is True)


class Approvals:
    def __init__(self, storage, writes, audit, key: bytes, expiry: timedelta = DEFAULT_EXPIRY):
        self._storage = storage
        self._writes = writes
        self._audit = audit
        self._key = key
        self.expiry = expiry

    # --- the gate the write tools pass ---------------------------------------------------------
    async def gate(self, ctx, request: WriteRequest, arguments: dict) -> dict | WriteRequest:
        """The request to dispatch (possibly with an approval's idempotency key), or the pending
        result to return instead. Raises InputRequired, BadRequestState or ToolError."""
        policy = effective_policy(ctx.tenant.settings, ctx.principal.approval_policy)
        if request.dry_run or not needs_approval(policy, request.action):
            return request
        mrtr: Mrtr | None = ctx.mrtr
        if mrtr is not None and mrtr.state is not None:
            claims = self.check_state(ctx.tenant, ctx.principal, request.action, arguments, mrtr.state)
            if claims.get("asks") == "approve":
                if not approved(mrtr.responses.get(INPUT_KEY)):
                    await self._row(ctx, request, "declined", {"via": "inline"})
                    raise ToolError("The user declined this write, so nothing was sent. Ask them what "
                                    "to change before trying again.")
                # One approval, one write: a replay of this answer replays the first response.
                return replace(request, idempotency_key=request.idempotency_key or f"approval:{claims['n']}",
                               actor={**request.actor, "approved": "inline"})
        plan = await self._writes.plan(replace(request, dry_run=True))
        if mrtr is not None and mrtr.form:
            state = self.seal_state(ctx.tenant, ctx.principal, request.action, arguments, "approve")
            await self._row(ctx, request, "approval_requested", {"via": "inline", "requests": plan["requests"]})
            raise InputRequired({INPUT_KEY: form_request(plan)}, state)
        return await self._enqueue(ctx, request, plan)

    def seal_state(self, tenant, principal, tool: str, arguments: dict, asks: str) -> str:
        """The requestState of a question (`asks`: approve or elevate) about exactly this call."""
        state, _ = seal(self._key, tenant.slug, credential_id=principal.credential_id, tool=tool,
                        args_hash=arguments_hash(tool, arguments), asks=asks)
        return state

    def check_state(self, tenant, principal, tool: str, arguments: dict, state: str) -> dict:
        """The claims of a state sealed for exactly this call, else BadRequestState."""
        try:
            return unseal(self._key, tenant.slug, state, credential_id=principal.credential_id, tool=tool,
                          args_hash=arguments_hash(tool, arguments))
        except InvalidRequestState as exc:
            log.info("refused requestState for %s: %s", tool, exc)
            raise BadRequestState() from None

    async def _enqueue(self, ctx, request: WriteRequest, plan: dict) -> dict:
        now = datetime.now(UTC)
        approval_id = keyed_approval_id(request) if request.idempotency_key else new_id("apr")
        target = plan.get("target") or {}
        doc = {
            "_id": approval_id, "status": "pending", "action": request.action, "params": request.params,
            "idempotency_key": request.idempotency_key or f"approval:{approval_id}",
            "actor": request.actor, "owner": request.owner, "user_id": ctx.principal.user_id,
            "credential_id": ctx.principal.credential_id,
            "customers": stored(request.customers),
            "customer_id": target.get("customer_id") or (plan.get("customer") or {}).get("id"),
            "args_hash": arguments_hash(request.action, request.params),
            "plan": plan, "request_id": request.request_id, "requested_at": now,
            "expires_at": now + self.expiry, "decided_by": None, "decided_at": None, "outcome": None,
        }
        try:
            await self._storage.approvals.create(ctx.tenant.slug, doc)
        except DuplicateKeyError:
            # A retry with the same idempotency_key: the first answer again (the documented
            # replay), never a second pending write; other arguments are a conflict.
            first = await self._storage.approvals.get(ctx.tenant.slug, approval_id)
            if first is None or first.get("args_hash") != doc["args_hash"]:
                await self._row(ctx, request, "conflict", {"via": "queue", "approval_id": approval_id})
                raise IdempotencyConflict() from None
            await self._row(ctx, request, "replayed", {"via": "queue", "approval_id": approval_id})
            return self.pending_view(ctx.tenant, first, now)
        await self._row(ctx, request, "pending_approval", {"via": "queue", "approval_id": approval_id,
                                                            "requests": plan["requests"]})
        return self.pending_view(ctx.tenant, doc, now)

    def pending_view(self, tenant, doc: dict, now: datetime) -> dict:
        plan = doc["plan"]
        status = status_view(tenant, doc, now)["status"]
        return {"status": "pending_approval" if status in ("pending", "dispatching") else status,
                "approval_id": doc["_id"],
                "approval_url": f"{tenant.origin}/account/approvals#{doc['_id']}",
                "expires_at": doc["expires_at"], "action": doc["action"], "vendor": plan["vendor"],
                "source": plan["source"], **({"customer": plan["customer"]} if plan.get("customer") else {}),
                "target": plan["target"], "requests": plan["requests"],
                "next_step": "An operator approves or rejects this write on the approval page; follow it "
                             "with get_write_status and this approval_id."}

    async def _row(self, ctx, request: WriteRequest, status: str, detail: dict) -> None:
        await self._audit.write(ctx.tenant.slug, audit_row(
            actor=request.actor, action=request.action, status=status, kind="write", target=None,
            detail={**detail, "dry_run": False, "arguments": write_arguments(request)},
            request_id=request.request_id))

    # --- the queue, for operators and get_write_status -----------------------------------------
    async def status_of(self, slug: str, approval_id: str) -> dict | None:
        return await self._storage.approvals.get(slug, approval_id)

    @staticmethod
    def tool_scopes(action: str) -> tuple[str, ...]:
        from ..tools.write_tools import TOOLS  # the write tools import this module
        return next((spec.scopes for spec in TOOLS if spec.name == action), ())

    async def decide(self, slug: str, approval_id: str, operator: dict, approve: bool,
                     reason: str | None = None) -> dict:
        """Approve (dispatch now) or reject a pending write; returns the stored document after.
        Exactly one decision wins; a second sees the first's outcome."""
        now = datetime.now(UTC)
        decider = {"user_id": operator["_id"], "email": operator["email"], "name": operator.get("name", "")}
        await self._storage.approvals.expire_due(slug, now)
        if not approve:
            doc = await self._storage.approvals.reject(slug, approval_id, decider, now, reason)
            if doc is not None:
                await self._audit.write(slug, audit_row(
                    actor=doc["actor"], action=doc["action"], status="rejected", kind="write",
                    target=(doc["plan"] or {}).get("target"),
                    detail={"via": "queue", "approval_id": approval_id, "rejected_by": operator["email"]},
                    request_id=doc.get("request_id")))
            return doc or await self._storage.approvals.get(slug, approval_id)
        doc = await self._storage.approvals.claim(slug, approval_id, decider, now, CLAIM_LEASE)
        if doc is None:
            return await self._storage.approvals.get(slug, approval_id)
        request = WriteRequest(
            slug=slug, action=doc["action"], params=doc["params"],
            actor={**doc["actor"], "approved": "queue", "approved_by": operator["email"]},
            owner=doc["owner"], request_id=f"{doc.get('request_id') or 'approval'}:{secrets.token_hex(3)}",
            idempotency_key=doc["idempotency_key"],
            customers=narrow(doc.get("customers")))
        started = time.perf_counter()
        try:
            outcome = await self._writes.execute(request)
            result = {"status": outcome.status, "result": outcome.structured, "message": outcome.message}
            status = "failed" if outcome.status == "error" else "succeeded"
        except (IdempotencyConflict, IdempotencyInFlight) as exc:
            result, status = {"status": "error", "message": str(exc) or "idempotency conflict"}, "failed"
        except Exception:
            log.error("approved write %s failed", approval_id, exc_info=True)
            result, status = {"status": "error", "message": "internal error; it is safe to approve again"}, "failed"
        result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        await self._storage.approvals.finish(slug, approval_id, status, result, datetime.now(UTC))
        return await self._storage.approvals.get(slug, approval_id)


def status_view(tenant, doc: dict, now: datetime) -> dict:
    """A pending write as get_write_status shows it."""
    status = doc["status"]
    expires_at = doc["expires_at"] if doc["expires_at"].tzinfo else doc["expires_at"].replace(tzinfo=UTC)
    if status == "pending" and expires_at <= now:
        status = "expired"
    outcome = doc.get("outcome") or {}
    view = {"approval_id": doc["_id"], "status": status, "action": doc["action"],
            "requested_at": doc["requested_at"], "expires_at": doc["expires_at"],
            "approval_url": f"{tenant.origin}/account/approvals#{doc['_id']}",
            "decided_by": (doc.get("decided_by") or {}).get("email"), "decided_at": doc.get("decided_at")}
    if outcome.get("result") is not None:
        view["result"] = outcome["result"]
    if outcome.get("message"):
        view["message"] = outcome["message"]
    if outcome.get("reason"):
        view["reason"] = outcome["reason"]
    return view
