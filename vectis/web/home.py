"""The tenant root: where a person or a script finds the MCP endpoint."""
from __future__ import annotations

from .base import TenantHandler


class TenantHomeHandler(TenantHandler):
    def get(self) -> None:
        self.write_json({
            "tenant": self.tenant.slug, "name": self.tenant.name,
            "mcp_endpoint": self.tenant.mcp_resource, "issuer": self.tenant.origin,
        })


default_handlers = [(r"/", TenantHomeHandler)]
