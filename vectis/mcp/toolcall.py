"""One tool call: scope check, argument validation, rate limit, handler, result, audit.

Every tool, read or write, goes through `ToolCaller.call`; nothing else invokes a handler.
"""
from __future__ import annotations

import json
import logging
import time
from datetime import UTC, date, datetime
from typing import Any

from cachetools import TTLCache

from ..approvals.queue import BadRequestState, InputRequired, Mrtr
from ..audit import audit_row, elide_arguments
from ..customer_scope import in_words
from ..ratelimit import RateLimited
from ..storage.scoped import OutsideScope
from ..storage.unavailable import is_unavailable
from ..tools.pagination import InvalidCursor
from ..tools.registry import ToolContext, ToolError, ToolRegistry
from .protocol import (
    ERROR_NAMES,
    INVALID_PARAMS,
    META_CLIENT_CAPS,
    MFA_REQUIRED,
    RATE_LIMITED,
    HttpFailure,
    RpcError,
    unavailable,
)

log = logging.getLogger("vectis.mcp")


def jsonable(value: Any) -> Any:
    """Tool output as plain JSON: datetimes as ISO 8601 UTC with a Z."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def error_result(message: str) -> dict:
    return {"content": [{"type": "text", "text": message}], "isError": True}


def success_result(structured: dict) -> dict:
    text = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    return {"content": [{"type": "text", "text": text}], "structuredContent": structured, "isError": False}


ELEVATE_KEY = "elevate"
BAD_STATE = ("requestState is not valid for this call (altered, expired, or made for other arguments "
             "or another credential). Call the tool again without it.")


def mrtr_of(params: dict) -> Mrtr:
    """The multi-round-trip parts of a 2026-07-28 tools/call: elicitation modes the client
    declared (an empty `elicitation` object means form), its answers and the echoed state."""
    meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
    caps = meta.get(META_CLIENT_CAPS) if isinstance(meta.get(META_CLIENT_CAPS), dict) else {}
    elicitation = caps.get("elicitation")
    modes = elicitation if isinstance(elicitation, dict) else None
    responses = params.get("inputResponses")
    state = params.get("requestState")
    return Mrtr(form=modes is not None and ("form" in modes or not modes), url=bool(modes) and "url" in modes,
                responses=responses if isinstance(responses, dict) else {},
                state=state)


class ToolCaller:
    def __init__(self, services, registry: ToolRegistry):
        self._services = services
        self.registry = registry
        # Which vendors each tenant has connected (the tools/list matrix), cached like tenants.
        self._vendors: TTLCache = TTLCache(maxsize=10_000, ttl=services.config.tenant_cache_seconds)
        # The names a customer-scoped credential is told it sees, cached like tenants: a client
        # that lists tools often costs no look-up each time.
        self._scope_names: TTLCache = TTLCache(maxsize=10_000, ttl=services.config.tenant_cache_seconds)

    async def connected_vendors(self, slug: str) -> frozenset[str]:
        vendors = self._vendors.get(slug)
        if vendors is None:
            vendors = self._vendors[slug] = await self._services.storage.sources.connected_vendors(slug)
        return vendors

    async def customer_notice(self, tenant, principal) -> str:
        """What a customer-scoped principal sees, in one paragraph for the model."""
        key = (tenant.slug, principal.customers)
        names = self._scope_names.get(key)
        if names is None:
            storage = self._services.storage.scoped(principal.customers)
            names = self._scope_names[key] = await storage.customers.names(tenant.slug, sorted(principal.customers))
        return (f"This credential is limited to {in_words(principal.customers, names)}. Records of "
                "other customers do not exist for it: lists, counts and searches leave them out and "
                "their ids answer not found. Rules tools are not available to it (rules act on the "
                "whole tenant).")

    def forget_vendors(self, slug: str) -> None:
        self._vendors.pop(slug, None)

    def insufficient_scope(self, tenant, principal, needed: tuple[str, ...]) -> HttpFailure:
        wanted = " ".join(sorted(set(principal.scopes) | set(needed)))
        metadata = tenant.origin + "/.well-known/oauth-protected-resource/api/mcp"
        challenge = (f'Bearer error="insufficient_scope", scope="{wanted}", '
                     f'resource_metadata="{metadata}", '
                     f'error_description="this tool requires {" ".join(needed)}"')
        return HttpFailure(403, {"error": "insufficient_scope",
                                 "error_description": f"this tool requires the scope(s) {', '.join(needed)}",
                                 "scope": " ".join(needed)},
                           {"WWW-Authenticate": challenge})

    def mfa_required(self, tenant, principal, spec) -> RpcError:
        path = "/account/mcp"
        return RpcError(MFA_REQUIRED, f"{spec.name} needs an MFA-elevated credential. Open "
                        f"{tenant.origin}{path}?token={principal.credential_id}, enter a code from "
                        "your authenticator app to elevate this credential, then retry.",
                        {"elevationPath": path,
                         "elevationUrl": f"{tenant.origin}{path}?token={principal.credential_id}",
                         "credentialId": principal.credential_id})

    async def call(self, tenant, principal, params: dict, request_id: str, *, modern: bool = False) -> dict:
        name = params.get("name")
        spec = self.registry.get(name) if isinstance(name, str) else None
        if spec is None:
            raise RpcError(INVALID_PARAMS, f"unknown tool {str(name)[:80]!r}")
        started = time.perf_counter()
        status = "failed"
        try:
            result = await self._call(spec, tenant, principal, params, request_id, mrtr_of(params) if modern else None)
            status = ("input_required" if result.get("resultType") == "input_required"
                      else "error" if result.get("isError") else "success")
            return result
        except RpcError as err:
            # Named like the audit statuses where there is one.
            status = "denied_mfa" if err.code == MFA_REQUIRED else ERROR_NAMES.get(err.code, "failed")
            raise
        except HttpFailure:
            status = "denied_scope"
            raise
        finally:
            self._services.metrics.tool_call(spec.name, status, time.perf_counter() - started)

    async def _call(self, spec, tenant, principal, params: dict, request_id: str, mrtr: Mrtr | None) -> dict:
        missing = spec.missing_scopes(principal.scopes)
        actor = principal.audit_actor()
        if missing:
            await self._audit(tenant, spec, actor, "denied_scope", request_id, {"missing": list(missing)},
                              arguments=params.get("arguments"))
            raise self.insufficient_scope(tenant, principal, spec.scopes)
        arguments = params.get("arguments", {})
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, "arguments must be an object")
        try:
            await self._services.limiter.check(tenant.slug, tenant.settings, principal.credential_id, spec.kind)
        except RateLimited as exc:
            self._services.metrics.rate_limited(exc.scope)
            await self._audit(tenant, spec, actor, "rate_limited", request_id, {"scope": exc.scope},
                              arguments=arguments)
            raise RpcError(RATE_LIMITED, f"Rate limited: {exc}. Retry after {exc.retry_after} s.",
                           {"retryAfterSeconds": exc.retry_after, "scope": exc.scope, "limit": exc.limit}) from None
        errors = spec.argument_errors(arguments)
        if errors:
            await self._audit(tenant, spec, actor, "error", request_id, {"reason": "invalid_arguments"},
                              arguments=arguments)
            return error_result("Invalid arguments: " + "; ".join(errors) +
                                f". See the inputSchema of {spec.name} in tools/list.")
        if spec.tenant_wide and principal.restricted:
            await self._audit(tenant, spec, actor, "denied_scope", request_id, {"reason": "customer_scope"},
                              arguments=arguments)
            return error_result(f"{spec.name} acts on the whole tenant, so it is not available to a "
                                "credential limited to some customers.")
        if spec.requires_mfa and not principal.elevated():
            if mrtr is not None and mrtr.url:
                return await self._step_up(spec, tenant, principal, arguments, request_id, mrtr)
            await self._audit(tenant, spec, actor, "denied_mfa", request_id, {}, arguments=arguments)
            raise self.mfa_required(tenant, principal, spec)
        started = time.perf_counter()
        # The principal's customer scope is part of every query its tools make (storage.scoped).
        ctx = ToolContext(tenant=tenant, principal=principal,
                          storage=self._services.storage.scoped(principal.customers),
                          cursors=self._services.cursors, now=datetime.now(UTC), tool=spec.name,
                          request_id=request_id, writes=self._services.writes,
                          approvals=self._services.approvals, mrtr=mrtr)
        meta = None
        try:
            raw = await spec.handler(ctx, arguments)
            meta = getattr(raw, "meta", None)
            structured = jsonable(dict(raw))
        except RpcError:
            raise
        except InputRequired as asked:
            return asked.result()     # audited by the approval gate
        except BadRequestState:
            raise RpcError(INVALID_PARAMS, BAD_STATE) from None
        except OutsideScope:
            # A tool reached for data the customer-scoped view does not hold: refused, and a
            # defect to fix (the view denies by default).
            log.error("tool %s stepped outside its customer scope (request %s)", spec.name, request_id,
                      exc_info=True)
            result = error_result(f"{spec.name} is not available to a credential limited to some "
                                  f"customers (request id {request_id}). It changed nothing.")
            status, detail = "denied_scope", {"reason": "customer_scope"}
        except InvalidCursor as exc:
            result, status, detail = error_result(f"{exc}. Start again without a cursor."), "error", {"reason": "cursor"}
        except ToolError as exc:
            result, status, detail = error_result(str(exc)), "error", {"reason": str(exc)[:200]}
        except Exception as exc:
            if is_unavailable(exc):   # not the tool's fault: the caller should retry, not give up
                log.warning("tool %s: database unavailable (request %s): %s", spec.name, request_id, exc)
                raise unavailable() from None
            log.error("tool %s failed (request %s)", spec.name, request_id, exc_info=True)
            result = error_result(f"{spec.name} failed because of an internal error (request id "
                                  f"{request_id}). It changed nothing; it is safe to retry.")
            status, detail = "error", {"reason": "internal"}
        else:
            result, status, detail = success_result(structured), "success", {}
            if meta:
                result["_meta"] = meta
        if not spec.self_audited:   # a vendor write's outcome is audited by the write dispatcher
            await self._audit(tenant, spec, actor, status, request_id, detail,
                              (time.perf_counter() - started) * 1000, arguments)
        return result

    async def _step_up(self, spec, tenant, principal, arguments: dict, request_id: str, mrtr: Mrtr) -> dict:
        """MFA elevation asked inline: a URL elicitation to the elevation page, and on the retry
        (the credential elevated meanwhile) the call goes on; a decline ends as -32003."""
        approvals = self._services.approvals
        actor = principal.audit_actor()
        if mrtr.state is not None:
            try:
                claims = approvals.check_state(tenant, principal, spec.name, arguments, mrtr.state)
            except BadRequestState:
                raise RpcError(INVALID_PARAMS, BAD_STATE) from None
            answer = mrtr.responses.get(ELEVATE_KEY)
            if claims.get("asks") == "elevate" and not (isinstance(answer, dict) and answer.get("action") == "accept"):
                await self._audit(tenant, spec, actor, "denied_mfa", request_id, {"via": "inline", "declined": True},
                                  arguments=arguments)
                raise self.mfa_required(tenant, principal, spec)
        error = self.mfa_required(tenant, principal, spec)
        await self._audit(tenant, spec, actor, "elevation_requested", request_id, {"via": "inline"},
                          arguments=arguments)
        return InputRequired({ELEVATE_KEY: {"method": "elicitation/create", "params": {
            "mode": "url", "url": error.data["elevationUrl"],
            "message": f"{spec.name} needs this credential elevated with a code from your authenticator "
                       "app. Open the page, enter the code, then come back to continue."}}},
            approvals.seal_state(tenant, principal, spec.name, arguments, "elevate")).result()

    async def _audit(self, tenant, spec, actor, status, request_id, detail, duration_ms=None,
                     arguments=None) -> None:
        """Reads are buffered; a write tool's row is stored before the call returns, and the call
        fails if it cannot be."""
        if isinstance(arguments, dict):   # elided here, in memory: the read path stays one append
            detail = {**detail, "arguments": elide_arguments(arguments)}
        row = audit_row(actor=actor, action=spec.name, status=status, kind=spec.kind, detail=detail,
                        duration_ms=duration_ms, request_id=request_id)
        if spec.read_only:
            self._services.audit.record(tenant.slug, row)
        else:
            await self._services.audit.write(tenant.slug, row)
