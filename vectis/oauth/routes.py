"""The authorization server's routes on every tenant host (issuer = the tenant's origin)."""
from __future__ import annotations

from .authorize import AuthorizeHandler
from .metadata import AuthorizationServerMetadataHandler
from .register import RegisterHandler
from .token_endpoint import RevokeHandler, TokenHandler

default_handlers = [
    (r"/\.well-known/oauth-authorization-server", AuthorizationServerMetadataHandler),
    (r"/oauth/authorize", AuthorizeHandler),
    (r"/oauth/token", TokenHandler),
    (r"/oauth/register", RegisterHandler),
    (r"/oauth/revoke", RevokeHandler),
]
