"""The SDK comparison for bench/mcp_bench.py: the official MCP Python SDK's own server (low-level
`Server`, Streamable HTTP, stateless, JSON responses, under uvicorn) serving the same tool handlers
as Vectis and bench/bare_server.py, from the same database.

It does what a small hand-built SDK server would do for the same job: a bearer check through the
SDK's own auth middleware (an HMAC of the token, looked up in the database once and then in a
short-lived cache, as Vectis does), argument validation against the tool's JSON
Schema, and the same result mapping. No Host routing, rate limit or audit.

    python bench/sdk_server.py --mongo-uri URI --db-prefix P --tenant SLUG --port N --tools A,B --pepper S
"""
from __future__ import annotations

import asyncio

import mcp_types as types
import uvicorn
from bench_tool import BenchTool, arguments, open_tools
from cachetools import TTLCache
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.lowlevel import Server

from vectis.credentials.pats import hash_token
from vectis.mcp.toolcall import success_result
from vectis.storage import Storage


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


def build_server(tools: dict[str, BenchTool]) -> Server:
    async def list_tools(ctx, params):
        return types.ListToolsResult(tools=[
            types.Tool(name=t.spec.name, description=t.spec.description, input_schema=t.spec.input_schema)
            for t in tools.values()])

    async def call_tool(ctx, params: types.CallToolRequestParams):
        tool = tools.get(params.name)
        if tool is None:
            return types.CallToolResult(content=[types.TextContent(text=f"unknown tool {params.name}")],
                                        is_error=True)
        arguments = params.arguments or {}
        problems = tool.spec.argument_errors(arguments)
        if problems:
            return types.CallToolResult(content=[types.TextContent(text="; ".join(problems))], is_error=True)
        return types.CallToolResult.model_validate(success_result(await tool.run(arguments)))

    return Server("vectis-bench-sdk", on_list_tools=list_tools, on_call_tool=call_tool)


async def main() -> None:
    args = arguments("--pepper")
    tools = await open_tools(args, origin="http://sdk")
    storage = next(iter(tools.values())).storage
    url = f"http://127.0.0.1:{args.port}"
    app = build_server(tools).streamable_http_app(
        streamable_http_path="/mcp", json_response=True, stateless_http=True, host="127.0.0.1",
        # A PAT belongs to one tenant and has no audience to check.
        auth=AuthSettings(issuer_url=url, resource_server_url=f"{url}/mcp", validate_token_resource=False),
        token_verifier=PatVerifier(storage, args.tenant, args.pepper))
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    asyncio.run(main())
