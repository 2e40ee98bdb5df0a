"""`/metrics`: the process's Prometheus metrics, for the monitoring network only.

Served by a listener of its own (`metrics_host`:`metrics_port`), never by the application's: a
reverse proxy forwards the application's port, and on the same host its connections come from
loopback, so no check on the application's port could tell a scrape from the Internet. On its
listener, it is still refused (404, as if absent, so a scanner learns nothing) unless the TCP
peer is in `metrics_allow_networks`, the request did not come through a proxy, and, when a
`metrics_token` is configured, it carries that token.
"""
from __future__ import annotations

import functools
import hmac
import ipaddress
import logging

import tornado.web

from ..metrics import CONTENT_TYPE
from ..settings import split_list
from .base import NO_SUCH_ENDPOINT, HostlessHandler

log = logging.getLogger("vectis.metrics")
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


@functools.lru_cache(maxsize=8)
def _networks(setting: str) -> tuple:
    return tuple(ipaddress.ip_network(n, strict=False) for n in split_list(setting))


def peer_allowed(peer: str | None, setting: str) -> bool:
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(setting))


class MetricsHandler(HostlessHandler):
    async def get(self) -> None:
        refusal = self._refusal(self.services.config)
        if refusal is not None:
            # The reason goes to the log for the operator, never to the caller.
            log.info("/metrics refused to %s: %s", self.request.remote_ip, refusal)
            self.write_json(NO_SUCH_ENDPOINT, status=404)
            return
        body = await self.services.metrics.render()
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(body)

    def _refusal(self, config) -> str | None:
        if any(self.request.headers.get(h) is not None for h in PROXY_HEADERS):
            return "the request came through a proxy"
        if not peer_allowed(self.request.remote_ip, config.metrics_allow_networks):
            return "peer not in metrics_allow_networks"
        if config.metrics_token:
            given = self.request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, b"Bearer " + config.metrics_token.encode()):
                return "missing or wrong metrics_token"
        return None


class NothingElseHandler(HostlessHandler):
    """Every other path of the metrics listener: no tenant, no pages, nothing."""

    def prepare(self) -> None:
        self.write_json(NO_SUCH_ENDPOINT, status=404)


def make_metrics_app(services, log_function) -> tornado.web.Application:
    return tornado.web.Application([(r"/metrics", MetricsHandler)], default_handler_class=NothingElseHandler,
                                   services=services, xheaders=False, compress_response=False,
                                   log_function=log_function)
