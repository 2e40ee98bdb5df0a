"""Raw JSON-RPC over HTTP against /api/mcp, for tests that inspect status codes and headers."""
from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)
LEGACY_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
                  "MCP-Protocol-Version": "2025-11-25"}


async def rpc(http, url: str, token: str | None, method: str, params: dict | None = None, *,
              headers: dict | None = None, request_id: Any = None) -> tuple[int, dict | None, Any]:
    """POST one JSON-RPC request; returns (HTTP status, parsed JSON body or None, response headers)."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id if request_id is not None else next(_ids),
                            "method": method}
    if params is not None:
        body["params"] = params
    hdrs = dict(LEGACY_HEADERS)
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    hdrs.update(headers or {})
    async with http.post(url, json=body, headers=hdrs) as resp:
        data = await resp.json(content_type=None) if await resp.read() else None
        return resp.status, data, resp.headers


async def call_tool(http, url: str, token: str, name: str, arguments: dict | None = None) -> dict:
    """tools/call expecting HTTP 200 and a JSON-RPC result; returns the CallToolResult."""
    status, data, _ = await rpc(http, url, token, "tools/call", {"name": name, "arguments": arguments or {}})
    assert status == 200, (status, data)
    assert "result" in data, data
    return data["result"]


async def structured(http, url: str, token: str, name: str, arguments: dict | None = None) -> dict:
    """A successful tool call's structuredContent (fails the test on isError)."""
    result = await call_tool(http, url, token, name, arguments)
    assert result["isError"] is False, result["content"][0]["text"]
    return result["structuredContent"]
