"""Handler base classes: JSON errors, security headers, and tenant resolution in prepare().

Deny by default: every handler needs a resolved tenant unless it is a `HostlessHandler`
(health probes). An unknown host always gets the same 404 body, whatever the path.
"""
from __future__ import annotations

import json
import logging
import secrets
from typing import Any

import tornado.web

from ..storage.unavailable import RETRY_AFTER_SECONDS, is_unavailable
from ..tenancy import Tenant
from .inflight import CountedHandler

log = logging.getLogger("vectis.web")

NO_SUCH_ENDPOINT = {"error": "not_found", "message": "No such endpoint."}
UNKNOWN_HOST_BODY = {"error": "not_found", "message": "There is no Vectis tenant at this address."}


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


class JsonHandler(CountedHandler):
    def set_default_headers(self) -> None:
        self.request_id = self.request.headers.get("X-Request-Id", "")[:64] or secrets.token_hex(8)
        self.set_header("X-Request-Id", self.request_id)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")
        self.clear_header("Server")

    @property
    def services(self):
        return self.application.settings["services"]

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json_bytes(value))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Never echo exception text of unexpected errors to the client.
        reason = self._reason if status_code < 500 else "Internal Server Error"
        self.set_header("Content-Type", "application/json")
        self.finish(json_bytes({"error": reason.lower().replace(" ", "_"), "message": reason,
                                "request_id": self.request_id}))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, tornado.web.HTTPError):
            return
        log.error("unhandled error request_id=%s %s %s", self.request_id, self.request.method,
                  self.request.path, exc_info=(typ, value, tb))

    def storage_unavailable(self, exc: Exception) -> None:
        """The database did not answer: a retryable 503, the driver's message only in the log."""
        log.warning("request %s %s: database unavailable: %s", self.request_id, self.request.path, exc)
        self.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
        self.write_json({"error": "temporarily_unavailable",
                         "message": "Vectis is temporarily unavailable; retry shortly.",
                         "request_id": self.request_id}, status=503)


class HostlessHandler(JsonHandler):
    """For endpoints that do not belong to a tenant (process health)."""


class TenantHandler(JsonHandler):
    tenant: Tenant

    async def prepare(self) -> None:
        try:
            tenant = await self.services.tenants.resolve(self.request.host)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            self.storage_unavailable(exc)
            return
        if tenant is None:
            self.write_json(UNKNOWN_HOST_BODY, status=404)
            return
        self.tenant = tenant


class NotFoundHandler(TenantHandler):
    """Unknown paths: on a known tenant a plain 404, on an unknown host the constant body."""

    def prepare_404(self) -> None:
        self.write_json(NO_SUCH_ENDPOINT, status=404)

    async def prepare(self) -> None:
        await super().prepare()
        if not self._finished:
            self.prepare_404()
