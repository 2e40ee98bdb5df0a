"""Shared pieces of the Client ID Metadata Document tests: a local https document server with
request counters, an injectable resolver, the fetcher fixtures."""
from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from vectis.oauth.cimd import ClientMetadataError, ClientMetadataFetcher

SERVER_NAMES = ("localhost", "127.0.0.1", "cimd.test", "hop.test")


class MapResolver(AbstractResolver):
    """Resolves names from a table; each answer may be a list of lists (one per successive call)."""

    def __init__(self, table: dict[str, list]):
        self.table = table
        self.calls: list[str] = []

    async def resolve(self, host: str, port: int = 0, family=socket.AF_INET) -> list[ResolveResult]:
        self.calls.append(host)
        if host not in self.table:
            raise OSError(f"unknown test host {host}")
        answer = self.table[host]
        if answer and isinstance(answer[0], list):  # successive answers: the rebinding attacker
            answer = answer[0] if len(answer) == 1 else answer.pop(0)
        return [ResolveResult(hostname=host, host=addr, port=port,
                              family=socket.AF_INET6 if ":" in addr else socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST) for addr in answer]

    async def close(self) -> None:
        pass


class DocServer:
    """Routes are coroutines set per test; every request is recorded before routing."""

    def __init__(self):
        self.routes: dict = {}
        self.requests: list[str] = []
        self.stop = asyncio.Event()
        self.port = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"

    def serve_json(self, path: str, obj, *, headers=None, content_type="application/json", status=200):
        body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()

        async def handler(_request):
            return web.Response(body=body, status=status, content_type=content_type, headers=headers)
        self.routes[path] = handler

    def redirect(self, path: str, location: str, status: int = 302):
        async def handler(_request):
            return web.Response(status=status, headers={"Location": location})
        self.routes[path] = handler

    async def pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except TimeoutError:
            pass

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)


def document(url: str, **fields) -> dict:
    doc = {"client_id": url, "client_name": "Test Client",
           "redirect_uris": ["http://localhost/callback", "https://app.example/cb"],
           "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not DROP}


DROP = object()


async def refused(fetcher: ClientMetadataFetcher, url: str) -> str:
    with pytest.raises(ClientMetadataError) as err:
        await fetcher.get(url)
    return err.value.reason


