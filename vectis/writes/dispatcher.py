"""The one dispatch path for vendor writes, used by the MCP write tools and the rules engine.

Order of a real write: resolve the target and connector → write the audit row (if that fails,
nothing is dispatched) → reserve the idempotency key (if any) → dispatch → reflect the vendor's
answer locally → store the result for replay → complete the audit row.

Idempotency guarantee (docs/writes.md): one key, one dispatch — across concurrent calls and
processes (the reservation is a unique insert), and across crashes: a reservation whose owner
died, or whose last attempt may have reached the vendor, is resolved by asking the vendor whether
the effect exists (`Connector.recover`) before anything is sent again.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cachetools import TTLCache

from ..audit import audit_row, elide_arguments
from ..tools.registry import ToolError
from ..vendors.errors import VendorError, VerbUnsupported
from .actions import ACTIONS, Resolved, WriteContext

log = logging.getLogger("vectis.writes")
LEASE = timedelta(seconds=120)      # default; longer than a vendor call with all its retries
WAIT_FOR_PEER = 3.0                 # how long a duplicate waits for the first call to finish
RECOVERY_SKEW = timedelta(seconds=5)


class IdempotencyConflict(Exception):
    pass


class IdempotencyInFlight(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"a call with this idempotency_key is still running; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class WriteRequest:
    slug: str
    action: str
    params: dict
    actor: dict                  # the audit actor (kind, user_id, email, name, credential_id, …)
    owner: str                   # idempotency scope: the credential owner (or the rule)
    request_id: str
    dry_run: bool = False
    idempotency_key: str | None = None
    customers: frozenset[str] | None = None   # the caller's customer scope; None = all


@dataclass
class WriteOutcome:
    status: str                  # success | dry_run | replayed | error
    structured: dict | None = None
    message: str | None = None
    replay_of: str | None = None
    retryable: bool = True       # False when trying again cannot help (unknown id, unsupported verb)


def arguments_hash(action: str, params: dict) -> str:
    canonical = json.dumps({"action": action, "params": params}, sort_keys=True, separators=(",", ":"),
                           default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class WriteDispatcher:
    def __init__(self, storage, connections, audit, lease: timedelta = LEASE):
        self._lease = lease
        self._storage = storage
        self._connections = connections
        self._audit = audit
        self._done: TTLCache = TTLCache(maxsize=20_000, ttl=24 * 3600)
        self._process = secrets.token_hex(6)

    def _context(self, req: WriteRequest) -> WriteContext:
        # The target is looked up through the caller's customer scope, before any vendor call
        # (dry runs too): outside it, a target is not found.
        return WriteContext(slug=req.slug, storage=self._storage, connections=self._connections,
                            actor=req.actor, now=datetime.now(UTC), lookup=self._storage.scoped(req.customers))

    @staticmethod
    def _plan_view(req: WriteRequest, resolved: Resolved, calls) -> dict:
        return {"dry_run": True, "action": req.action, **resolved.summary(),
                "target": resolved.target, "requests": [c.view() for c in calls]}

    async def plan(self, req: WriteRequest) -> dict:
        """What the write would send (a dry run's answer) without an audit row: the plan a
        person approves. Raises ToolError when it cannot be planned."""
        try:
            resolved = await ACTIONS[req.action].resolve(self._context(req), req.params)
            calls = await resolved.connector.plan(resolved.verb, resolved.draft)
        except (ToolError, VerbUnsupported, VendorError) as exc:
            raise ToolError(exc.describe(req.slug) if isinstance(exc, VendorError) else str(exc)) from None
        return self._plan_view(req, resolved, calls)

    async def execute(self, req: WriteRequest) -> WriteOutcome:
        started = time.perf_counter()
        action = ACTIONS[req.action]
        ctx = self._context(req)
        args_hash = arguments_hash(req.action, req.params)
        record_id = None
        if req.idempotency_key is not None and not req.dry_run:
            record_id = hashlib.sha256(f"{req.owner}|{req.action}|{req.idempotency_key}".encode()).hexdigest()
            remembered = self._done.get((req.slug, record_id))
            if remembered is not None:
                return await self._replay_or_conflict(req, remembered, args_hash, started)
        try:
            resolved = await action.resolve(ctx, req.params)
            if req.dry_run:
                calls = await resolved.connector.plan(resolved.verb, resolved.draft)
        except (ToolError, VerbUnsupported, VendorError) as exc:
            message = exc.describe(req.slug) if isinstance(exc, VendorError) else str(exc)
            await self._write_row(req, "error", None, {"reason": message[:300]}, started)
            return WriteOutcome("error", message=message, retryable=isinstance(exc, VendorError))
        if req.dry_run:
            structured = self._plan_view(req, resolved, calls)
            await self._write_row(req, "dry_run", resolved.target,
                                  {**self._vendor_detail(resolved), "requests": [c.view() for c in calls]},
                                  started)
            return WriteOutcome("dry_run", structured=structured)

        row = await self._write_row(req, "error", resolved.target,
                                    {**self._vendor_detail(resolved), "stage": "dispatching"}, started)
        owner = f"{self._process}:{secrets.token_hex(4)}"
        recovered = None
        if record_id is not None:
            record = await self._storage.idempotency.reserve(req.slug, record_id, args_hash, owner,
                                                              self._lease)
            if record is not None:
                record, early = await self._settle_existing(req, record, args_hash, owner, row, started)
                if early is not None:
                    return early
                if record is not None:
                    try:
                        recovered = await resolved.connector.recover(
                            resolved.verb, resolved.draft, _aware(record["started_at"]) - RECOVERY_SKEW)
                    except VendorError as exc:
                        await self._storage.idempotency.mark_uncertain(req.slug, record_id, owner)
                        await self._finish_row(req, row, "error", {"reason": "recovery lookup failed",
                                                                   "vendor_status": exc.status}, started)
                        return WriteOutcome("error", message=exc.describe(req.slug, resolved.source["_id"]) + " (while checking "
                                            "whether an earlier attempt already took effect)")
        return await self._dispatch(req, ctx, action, resolved, row, record_id, owner, recovered,
                                    started)

    async def _settle_existing(self, req, record, args_hash, owner, row, started):
        """Another call holds (or held) this key. Returns (record, None) when we now own a record
        whose earlier attempt must be looked up at the vendor, (None, None) when we own a fresh
        reservation, or (None, outcome) when the call ends here."""
        record_id = record["_id"]
        if record["args_hash"] != args_hash:
            await self._finish_row(req, row, "conflict", {"reason": "idempotency_key reused with "
                                                          "other arguments"}, started)
            raise IdempotencyConflict()
        deadline = time.monotonic() + WAIT_FOR_PEER
        while record is not None and record["state"] == "pending" \
                and _aware(record["lease_until"]) > datetime.now(UTC) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            record = await self._storage.idempotency.get(req.slug, record["_id"])
        if record is None:            # released: the first call certainly had no effect
            again = await self._storage.idempotency.reserve(req.slug, record_id, args_hash, owner,
                                                             self._lease)
            if again is None:
                return None, None     # ours now, and nothing to recover
            await self._finish_row(req, row, "conflict", {"reason": "in_flight"}, started)
            raise IdempotencyInFlight(1)
        if record["state"] == "done":
            self._remember(req.slug, record["_id"], args_hash, record["result"], record.get("request_id"))
            await self._finish_row(req, row, "replayed", {"original_request_id": record.get("request_id")},
                                   started)
            return None, WriteOutcome("replayed", structured=record["result"],
                                      replay_of=record.get("request_id"))
        if _aware(record["lease_until"]) > datetime.now(UTC):
            retry = max(1, math.ceil((_aware(record["lease_until"]) - datetime.now(UTC)).total_seconds()))
            await self._finish_row(req, row, "conflict", {"reason": "in_flight"}, started)
            raise IdempotencyInFlight(min(retry, 30))
        taken = await self._storage.idempotency.take_over(req.slug, record, owner, self._lease)
        if taken is None:
            await self._finish_row(req, row, "conflict", {"reason": "in_flight"}, started)
            raise IdempotencyInFlight(1)
        return taken, None

    async def _dispatch(self, req, ctx, action, resolved: Resolved, row, record_id, owner,
                        recovered, started) -> WriteOutcome:
        repo = self._storage.idempotency
        try:
            result = recovered if recovered is not None else await resolved.connector.perform(resolved.verb, resolved.draft)
        except VendorError as exc:
            if record_id is not None:
                await (repo.release if exc.retry_safe else repo.mark_uncertain)(req.slug, record_id, owner)
            await self._finish_row(req, row, "error", {"vendor_status": exc.status,
                                                       "retry_safe": exc.retry_safe,
                                                       "reason": str(exc)[:300]}, started)
            return WriteOutcome("error", message=exc.describe(req.slug, resolved.source["_id"]))
        except VerbUnsupported as exc:
            if record_id is not None:
                await repo.release(req.slug, record_id, owner)
            await self._finish_row(req, row, "error", {"reason": exc.reason}, started)
            return WriteOutcome("error", message=exc.reason, retryable=False)
        try:
            structured = await action.reflect(ctx, resolved, result)
            structured = {**structured, "request_id": req.request_id}
            if record_id is not None:
                await repo.complete(req.slug, record_id, owner, structured, req.request_id)
                self._remember(req.slug, record_id, arguments_hash(req.action, req.params), structured,
                               req.request_id)
        except Exception:
            log.error("vendor write %s succeeded but could not be recorded", req.action, exc_info=True)
            if record_id is not None:
                with _suppressed():
                    await repo.mark_uncertain(req.slug, record_id, owner)
            with _suppressed():
                await self._finish_row(req, row, "error", {"reason": "recorded_failed",
                                                           "vendor_id": result.external_id}, started)
            hint = (" Retry with the same idempotency_key to finish it without a second dispatch."
                    if record_id is not None else "")
            return WriteOutcome("error", message=f"{resolved.source['vendor']} accepted the change, "
                                f"but Vectis could not record it.{hint}")
        await self._finish_row(req, row, "success", {"recovered": recovered is not None,
                                                     "vendor_id": result.external_id,
                                                     "vendor_status": result.vendor_status},
                               started, target=resolved.target)
        return WriteOutcome("success", structured=structured)

    async def _replay_or_conflict(self, req, remembered, args_hash, started) -> WriteOutcome:
        stored_hash, structured, request_id = remembered
        if stored_hash != args_hash:
            await self._write_row(req, "conflict", None, {"reason": "idempotency_key reused with "
                                                          "other arguments"}, started)
            raise IdempotencyConflict()
        await self._write_row(req, "replayed", None, {"original_request_id": request_id}, started)
        return WriteOutcome("replayed", structured=structured, replay_of=request_id)

    def _remember(self, slug, record_id, args_hash, structured, request_id) -> None:
        self._done[(slug, record_id)] = (args_hash, structured, request_id)

    @staticmethod
    def _vendor_detail(resolved: Resolved) -> dict:
        return {"vendor": resolved.source["vendor"], "source_id": resolved.source["_id"],
                "verb": resolved.verb}

    async def _write_row(self, req, status, target, detail, started) -> dict:
        row = audit_row(actor=req.actor, action=req.action, status=status, kind="write",
                        target=target, detail={**detail, "dry_run": req.dry_run,
                                               "idempotency_key": req.idempotency_key is not None,
                                               "arguments": write_arguments(req)},
                        duration_ms=(time.perf_counter() - started) * 1000, request_id=req.request_id)
        await self._audit.write(req.slug, row)
        return row

    async def _finish_row(self, req, row, status, detail, started, target=None) -> None:
        changes = {"status": status, "mcpToolCallStatus": status, "detail": {**row["detail"], **detail, "stage": "done"},
                   "duration_ms": round((time.perf_counter() - started) * 1000, 2)}
        if target is not None:
            changes["target"] = target
        await self._storage.audit.finalize(req.slug, row["_id"], changes)


def write_arguments(req: WriteRequest) -> dict:
    """The tool's arguments as its audit row keeps them (vectis.audit.elide_arguments)."""
    arguments = dict(req.params)
    if req.dry_run:
        arguments["dry_run"] = True
    if req.idempotency_key is not None:
        arguments["idempotency_key"] = req.idempotency_key
    return elide_arguments(arguments)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class _suppressed:
    """Best-effort bookkeeping after a failure: its own failure must not hide the first one."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            log.warning("bookkeeping after a failed write also failed", exc_info=exc)
        return True

