"""RFC 9728 protected-resource metadata, at the path-suffixed and the root well-known URLs.

Every URL comes from configuration (the tenant's canonical origin), never from request headers.
"""
from __future__ import annotations

from ..scopes import ALL_SCOPES
from .base import TenantHandler


class ProtectedResourceHandler(TenantHandler):
    def set_default_headers(self) -> None:
        super().set_default_headers()
        # Public, cacheable metadata that browser-based clients must be able to read.
        self.set_header("Access-Control-Allow-Origin", "*")
        self.set_header("Cache-Control", "public, max-age=300")

    def options(self) -> None:
        self.set_header("Access-Control-Allow-Methods", "GET, OPTIONS")
        self.set_header("Access-Control-Allow-Headers", "MCP-Protocol-Version, Authorization")
        self.set_status(204)
        self.finish()

    def get(self) -> None:
        self.write_json({
            "resource": self.tenant.mcp_resource,
            "authorization_servers": [self.tenant.origin],
            "scopes_supported": list(ALL_SCOPES),
            "bearer_methods_supported": ["header"],
            "resource_name": f"Vectis — {self.tenant.name}",
            "resource_documentation": self.tenant.origin + "/",
        })


default_handlers = [
    (r"/\.well-known/oauth-protected-resource/api/mcp", ProtectedResourceHandler),
    (r"/\.well-known/oauth-protected-resource", ProtectedResourceHandler),
]
