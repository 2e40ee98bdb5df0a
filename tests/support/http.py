"""An HTTP client that resolves tenant hosts (*.localhost) to loopback itself.

`*.localhost` does not resolve through /etc/hosts on these machines; rather than ignore the Host
header server-side, the test client resolves names the way a browser does: every `.localhost`
name is 127.0.0.1. Requests carry the real Host header, exactly as a real client sends it.
"""
from __future__ import annotations

import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver


class LocalhostResolver(AbstractResolver):
    def __init__(self) -> None:
        self._default = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        if host == "localhost" or host.endswith(".localhost"):
            return [ResolveResult(hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET,
                                  proto=0, flags=socket.AI_NUMERICHOST)]
        return await self._default.resolve(host, port, family)

    async def close(self) -> None:
        await self._default.close()


def client_session(ssl_context=None, **kwargs) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(resolver=LocalhostResolver(), force_close=False,
                                     ssl=ssl_context if ssl_context is not None else True)
    kwargs.setdefault("timeout", aiohttp.ClientTimeout(total=30))
    return aiohttp.ClientSession(connector=connector, **kwargs)
