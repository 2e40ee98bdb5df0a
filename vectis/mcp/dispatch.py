"""JSON-RPC methods of the MCP endpoint, for both eras."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..auth.principal import Principal
from .protocol import (
    HANDSHAKE_VERSIONS,
    INSTRUCTIONS,
    INVALID_PARAMS,
    META_SERVER_INFO,
    METHOD_NOT_FOUND,
    SERVER_INFO,
    SUPPORTED_VERSIONS,
    RpcError,
)
from .toolcall import ToolCaller

CAPABILITIES = {"tools": {"listChanged": False}}
LIST_TTL_MS = 60_000  # the tool list changes only with scopes or connected vendors


@dataclass
class RequestContext:
    tenant: Any
    principal: Principal
    modern: bool
    version: str
    request_id: str


class Dispatcher:
    def __init__(self, caller: ToolCaller):
        self.caller = caller

    async def handle(self, method: str, params: dict, ctx: RequestContext) -> dict:
        handler = (_MODERN if ctx.modern else _LEGACY).get(method)
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, f"method {method[:80]!r} not found")
        result = await handler(self, params, ctx)
        if ctx.modern:
            result.setdefault("resultType", "complete")
            result.setdefault("_meta", {})[META_SERVER_INFO] = SERVER_INFO
        return result

    async def instructions(self, ctx: RequestContext) -> str:
        if not ctx.principal.restricted:
            return INSTRUCTIONS
        return INSTRUCTIONS + " " + await self.caller.customer_notice(ctx.tenant, ctx.principal)

    async def initialize(self, params: dict, ctx: RequestContext) -> dict:
        requested = params.get("protocolVersion")
        version = requested if requested in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[0]
        return {"protocolVersion": version, "capabilities": CAPABILITIES,
                "serverInfo": SERVER_INFO, "instructions": await self.instructions(ctx)}

    async def ping(self, params: dict, ctx: RequestContext) -> dict:
        return {}

    async def discover(self, params: dict, ctx: RequestContext) -> dict:
        return {"supportedVersions": list(SUPPORTED_VERSIONS), "capabilities": CAPABILITIES,
                "instructions": await self.instructions(ctx), "ttlMs": LIST_TTL_MS, "cacheScope": "private"}

    async def tools_list(self, params: dict, ctx: RequestContext) -> dict:
        if params.get("cursor") is not None:
            # Every tool fits on one page, so no cursor is ever issued.
            raise RpcError(INVALID_PARAMS, "invalid cursor")
        vendors = await self.caller.connected_vendors(ctx.tenant.slug)
        principal = ctx.principal
        # A customer-scoped credential is told so on every tool: clients may not show instructions.
        notice = (" [" + await self.caller.customer_notice(ctx.tenant, principal) + "]"
                  if principal.restricted else "")
        tools = [spec.definition(notice) for spec in
                 self.caller.registry.visible(principal.scopes, vendors, restricted=principal.restricted)]
        if not ctx.modern and ctx.version == "2025-03-26":
            tools = [_as_2025_03_26(t) for t in tools]
        result: dict[str, Any] = {"tools": tools}
        if ctx.modern:
            result.update(ttlMs=LIST_TTL_MS, cacheScope="private")
        return result

    async def tools_call(self, params: dict, ctx: RequestContext) -> dict:
        result = await self.caller.call(ctx.tenant, ctx.principal, params, ctx.request_id, modern=ctx.modern)
        if not ctx.modern and ctx.version == "2025-03-26":
            result.pop("structuredContent", None)  # not defined before 2025-06-18
        return result


def _as_2025_03_26(tool: dict) -> dict:
    """2025-03-26 knows name, description, inputSchema and annotations only."""
    return {k: tool[k] for k in ("name", "description", "inputSchema", "annotations")}


_LEGACY = {
    "initialize": Dispatcher.initialize,
    "ping": Dispatcher.ping,
    "tools/list": Dispatcher.tools_list,
    "tools/call": Dispatcher.tools_call,
}
_MODERN = {
    "server/discover": Dispatcher.discover,
    "tools/list": Dispatcher.tools_list,
    "tools/call": Dispatcher.tools_call,
}
