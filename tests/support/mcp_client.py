"""The official MCP Python SDK client, with tenant hosts resolved to loopback by the client.

httpx (as used by the SDK) takes its sockets from an httpcore network backend; ours maps every
`.localhost` name to 127.0.0.1, as browsers do. URLs and Host headers stay exactly as a real
deployment sends them.
"""
from __future__ import annotations

import contextlib

import httpcore2
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


class LocalhostBackend(httpcore2.AnyIOBackend):
    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ASYNC109 - httpcore signature
        if host == "localhost" or host.endswith(".localhost"):
            host = "127.0.0.1"
        return await super().connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                         socket_options=socket_options)


def http_client(**kwargs) -> httpx2.AsyncClient:
    transport = httpx2.AsyncHTTPTransport()
    transport._pool = httpcore2.AsyncConnectionPool(network_backend=LocalhostBackend())
    kwargs.setdefault("timeout", httpx2.Timeout(30.0))
    return httpx2.AsyncClient(transport=transport, **kwargs)


@contextlib.asynccontextmanager
async def mcp_session(url: str, token: str | None, *, mode: str = "auto", elicitation_callback=None,
                      **client_kwargs):
    """elicitation_callback: answers the server's elicitations (the client then declares them)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http_client(headers=headers, **client_kwargs) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode,
                          elicitation_callback=elicitation_callback) as client:
            yield client
