"""The SDK comparison for bench/mcp_bench.py: the official MCP Python SDK's own server (low-level
`Server`, Streamable HTTP, stateless, JSON responses, under uvicorn) serving the same tool handler
as Vectis and bench/bare_server.py, from the same database.

It does what a small hand-built SDK server would do for the same job: a bearer check through the
SDK's own auth middleware (an HMAC of the token, looked up in the database once and then in a
short-lived cache, as Vectis does), argument validation against the tool's JSON
Schema, and the same result mapping. No Host routing, rate limit or audit.

    python bench/sdk_server.py --mongo-uri URI --db-prefix P --tenant SLUG --port N --tool NAME --pepper S
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import mcp_types as types
import uvicorn
from cachetools import TTLCache
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.lowlevel import Server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vectis.auth.principal import Principal  # noqa: E402
from vectis.credentials.pats import hash_token  # noqa: E402
from vectis.mcp.toolcall import jsonable  # noqa: E402
from vectis.scopes import ALL_SCOPES  # noqa: E402
from vectis.storage import Storage, make_client  # noqa: E402
from vectis.tenancy import Tenant  # noqa: E402
from vectis.tools.catalog import build_registry  # noqa: E402
from vectis.tools.pagination import CursorCodec  # noqa: E402
from vectis.tools.registry import ToolContext  # noqa: E402


class PatVerifier:
    """The SDK's TokenVerifier protocol over the tenant's PATs, with a short-lived cache of the
    tokens it has found, as Vectis keeps one."""

    def __init__(self, storage: Storage, tenant: str, pepper: str):
        self.storage, self.tenant, self.pepper = storage, tenant, pepper
        self.known: TTLCache = TTLCache(maxsize=10_000, ttl=30)

    async def verify_token(self, token: str) -> AccessToken | None:
        token_hash = hash_token(self.pepper, token)
        if token_hash not in self.known:
            row = await self.storage.pats.by_hash(self.tenant, token_hash)
            if row is None or row.get("revoked_at"):
                return None
            self.known[token_hash] = row["_id"]
        return AccessToken(token=token, client_id=self.known[token_hash], scopes=[])


def build_server(storage: Storage, tenant: Tenant, principal: Principal, tool: str) -> Server:
    spec = build_registry().get(tool)
    cursors = CursorCodec("bench" * 8)

    async def list_tools(ctx, params):
        return types.ListToolsResult(tools=[types.Tool(name=spec.name, description=spec.description,
                                                       input_schema=spec.input_schema)])

    async def call_tool(ctx, params: types.CallToolRequestParams):
        if params.name != spec.name:
            return types.CallToolResult(content=[types.TextContent(text=f"unknown tool {params.name}")],
                                        is_error=True)
        arguments = params.arguments or {}
        problems = [e.message for e in spec._validator.iter_errors(arguments)]
        if problems:
            return types.CallToolResult(content=[types.TextContent(text="; ".join(problems))], is_error=True)
        tool_ctx = ToolContext(tenant=tenant, principal=principal, storage=storage, cursors=cursors,
                               now=datetime.now(UTC), tool=spec.name)
        structured = jsonable(await spec.handler(tool_ctx, arguments))
        text = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
        return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=structured)

    return Server("vectis-bench-sdk", on_list_tools=list_tools, on_call_tool=call_tool)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mongo-uri", required=True)
    parser.add_argument("--db-prefix", required=True)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tool", required=True)
    parser.add_argument("--pepper", required=True)
    args = parser.parse_args()
    storage = Storage(make_client(args.mongo_uri), args.db_prefix)
    tenant = Tenant(slug=args.tenant, name=args.tenant, origin="http://sdk", mcp_resource="http://sdk/mcp")
    user = (await storage.users.list(args.tenant))[0]
    principal = Principal(tenant=args.tenant, kind="pat", credential_id="bench", user_id=user["_id"],
                          email=user["email"], name=user["name"], role=user["role"], scopes=frozenset(ALL_SCOPES))
    server = build_server(storage, tenant, principal, args.tool)
    url = f"http://127.0.0.1:{args.port}"
    app = server.streamable_http_app(
        streamable_http_path="/mcp", json_response=True, stateless_http=True, host="127.0.0.1",
        # A PAT belongs to one tenant and has no audience to check.
        auth=AuthSettings(issuer_url=url, resource_server_url=f"{url}/mcp", validate_token_resource=False),
        token_verifier=PatVerifier(storage, args.tenant, args.pepper))
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    asyncio.run(main())
