"""Process health (/healthz) and readiness (/readyz), on any host."""
from __future__ import annotations

import asyncio

from .base import HostlessHandler

READY_TIMEOUT_SECONDS = 2.0


class HealthHandler(HostlessHandler):
    def get(self) -> None:
        self.write_json({"status": "ok"})


class ReadyHandler(HostlessHandler):
    async def get(self) -> None:
        services = self.services
        checks = {"indexes": "ok" if services.indexes_ready else "pending"}
        try:
            await asyncio.wait_for(services.storage.ping(), READY_TIMEOUT_SECONDS)
            checks["database"] = "ok"
        except Exception:  # any failure to answer means not ready; the reason is in the logs
            checks["database"] = "unreachable"
        ready = all(v == "ok" for v in checks.values())
        self.write_json({"status": "ready" if ready else "not_ready", "checks": checks},
                        status=200 if ready else 503)


default_handlers = [(r"/healthz", HealthHandler), (r"/readyz", ReadyHandler)]
