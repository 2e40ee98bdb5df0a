"""RFC 8414 authorization-server metadata. The issuer is the tenant's origin, byte-identical to
the entry in the protected-resource metadata; every URL comes from configuration."""
from __future__ import annotations

from ..scopes import ALL_SCOPES
from ..web.wellknown import ProtectedResourceHandler

AUTH_METHODS = ["none", "client_secret_post", "client_secret_basic"]


def authorization_server_metadata(origin: str) -> dict:
    return {
        "issuer": origin,
        "authorization_endpoint": origin + "/oauth/authorize",
        "token_endpoint": origin + "/oauth/token",
        "registration_endpoint": origin + "/oauth/register",
        "revocation_endpoint": origin + "/oauth/revoke",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "scopes_supported": list(ALL_SCOPES),
        "client_id_metadata_document_supported": True,
        "authorization_response_iss_parameter_supported": True,
        "service_documentation": origin + "/",
    }


class AuthorizationServerMetadataHandler(ProtectedResourceHandler):
    """Public, cacheable, CORS-readable, exactly like the protected-resource metadata."""

    def get(self) -> None:
        self.write_json(authorization_server_metadata(self.tenant.origin))
