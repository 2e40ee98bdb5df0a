"""Running executions: claim one atomically (a lease; a dead worker's lease expires and another
worker takes it over), run its actions through the same write dispatcher as the MCP write tools
(as the rule's owner, actor kind "rule"), retry failures with exponential backoff, and move an
execution that keeps failing to the dead-letter queue with its last error.

Every action's idempotency key is derived from the execution and the action's position, so a
retry, or a takeover after a crash, never repeats a vendor effect that already happened: the
dispatcher replays it (or finds it at the vendor) instead.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import UTC, datetime, timedelta

from ..customer_scope import narrow
from ..writes.dispatcher import IdempotencyConflict, IdempotencyInFlight, WriteRequest
from .matching import enqueue_for_new_events, event_context
from .model import render_params

log = logging.getLogger("vectis.rules")
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=30)
TICK = 2.0


class ActionFailed(Exception):
    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


def backoff(attempts: int, base: timedelta = BACKOFF_BASE) -> timedelta:
    return min(base * 2 ** max(0, attempts - 1), timedelta(hours=1))


class RuleWorker:
    def __init__(self, storage, writes, *, backoff_base: timedelta = BACKOFF_BASE,
                 max_attempts: int = MAX_ATTEMPTS):
        self._storage = storage
        self._writes = writes
        self._backoff_base = backoff_base
        self._max_attempts = max_attempts
        self.process = secrets.token_hex(6)
        self._task: asyncio.Task | None = None

    # --- the background loop ---------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                for tenant in await self._storage.tenants.list():
                    if tenant.get("status") == "active":
                        await self.tick(tenant["_id"])
            except Exception:  # the database may be away for a while: keep trying
                log.warning("rules worker tick failed", exc_info=True)
            await asyncio.sleep(TICK)

    async def tick(self, slug: str, limit: int = 50) -> int:
        """Queue executions for new events, then run what is due; returns executions run."""
        await enqueue_for_new_events(self._storage, slug)
        ran = 0
        while ran < limit and await self.run_next(slug):
            ran += 1
        return ran

    # --- one execution ----------------------------------------------------------------------
    async def run_next(self, slug: str) -> dict | None:
        now = datetime.now(UTC)
        owner = f"{self.process}:{secrets.token_hex(4)}"
        execution = await self._storage.rules.claim_next(slug, owner, now + LEASE, now)
        if execution is None:
            return None
        rule = await self._storage.rules.get(slug, execution["rule_id"])
        if rule is None:
            return await self._finish(slug, execution, owner, "failed", "the rule no longer exists")
        try:
            results = await self._run_actions(slug, rule, execution, owner)
        except ActionFailed as exc:
            if exc.retryable and execution["attempts"] < self._max_attempts:
                return await self._storage.rules.update_execution(slug, execution["_id"], {
                    "status": "queued", "last_error": str(exc), "owner": None, "lease_until": None,
                    "run_after": datetime.now(UTC) + backoff(execution["attempts"], self._backoff_base),
                    "updated_at": datetime.now(UTC)}, expected_status="running", expected_owner=owner)
            return await self._finish(slug, execution, owner, "dead_letter", str(exc))
        status = "dry_run" if execution["dry_run"] else "succeeded"
        return await self._finish(slug, execution, owner, status, None, results=results)

    async def _run_actions(self, slug: str, rule: dict, execution: dict, owner: str) -> list[dict]:
        event = execution.get("event") or {"_id": None, "type": "manual"}
        context = await event_context(self._storage, slug, event)
        owner_user = await self._storage.users.by_id(slug, rule.get("owner_user_id") or "")
        actor = {"kind": "rule", "rule_id": rule["_id"], "credential_id": None,
                 "user_id": owner_user["_id"] if owner_user else None,
                 "email": owner_user["email"] if owner_user else None, "client_id": None,
                 "name": f"rule {rule['name']}"}
        results = list(execution.get("results") or [])
        done = set(execution.get("actions_done") or [])
        for index, action in enumerate(rule["actions"]):
            if index in done:
                continue
            params = render_params(action["params"], context)
            request = WriteRequest(slug=slug, action=action["verb"], params=params, actor=actor,
                                   owner=f"rule:{rule['_id']}", request_id=execution["_id"],
                                   dry_run=bool(execution["dry_run"]),
                                   idempotency_key=None if execution["dry_run"]
                                   else f"{execution['_id']}:{index}",
                                   # A rule acts with its owner's authority, customer scope included.
                                   customers=narrow(owner_user.get("customers")) if owner_user else None)
            try:
                outcome = await self._writes.execute(request)
            except IdempotencyInFlight as exc:
                raise ActionFailed(f"action {index + 1} ({action['verb']}) is still running: {exc}",
                                   retryable=True) from None
            except IdempotencyConflict:
                raise ActionFailed(f"action {index + 1} ({action['verb']}) changed since its first "
                                   "attempt", retryable=False) from None
            if outcome.status == "error":
                raise ActionFailed(f"action {index + 1} ({action['verb']}): {outcome.message}",
                                   retryable=outcome.retryable)
            results.append({"index": index, "verb": action["verb"], "status": outcome.status,
                            "params": params, "output": outcome.structured})
            done.add(index)
            # Progress is saved per action: a retry resumes after the last finished one.
            await self._storage.rules.update_execution(slug, execution["_id"], {
                "actions_done": sorted(done), "results": results, "updated_at": datetime.now(UTC)},
                expected_status="running", expected_owner=owner)
        return results

    async def _finish(self, slug, execution, owner, status, error, *, results=None) -> dict | None:
        now = datetime.now(UTC)
        changes = {"status": status, "last_error": error, "owner": None, "lease_until": None,
                   "finished_at": now, "updated_at": now}
        if results is not None:
            changes["results"] = results
            if execution["dry_run"]:
                changes["planned_actions"] = results
        if status == "dead_letter":
            changes["dead_lettered_at"] = now
        # Only while still ours: a worker whose lease expired must not overwrite the takeover.
        return await self._storage.rules.update_execution(slug, execution["_id"], changes,
                                                          expected_status="running",
                                                          expected_owner=owner)


async def replay_dead_letter(storage, slug: str, execution_id: str) -> dict | None:
    """Send a dead-lettered execution back to the queue, with fresh attempts; None if it is not
    in the dead-letter queue. Finished actions stay finished (their idempotency keys replay)."""
    now = datetime.now(UTC)
    return await storage.rules.update_execution(slug, execution_id, {
        "status": "queued", "attempts": 0, "run_after": now, "dead_lettered_at": None,
        "updated_at": now, "finished_at": None}, expected_status="dead_letter")
