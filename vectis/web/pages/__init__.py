"""Operator web pages: server-rendered HTML on each tenant host."""
from __future__ import annotations

from .account import AccountMcpHandler, IssueTokenHandler, RevokeTokenHandler
from .base import StaticHandler
from .signin import SigninHandler, SignoutHandler

default_handlers = [
    (r"/signin", SigninHandler),
    (r"/signout", SignoutHandler),
    (r"/account/mcp", AccountMcpHandler),
    (r"/account/mcp/tokens", IssueTokenHandler),
    (r"/account/mcp/revoke", RevokeTokenHandler),
    (r"/static/(pages\.css|copy\.js)", StaticHandler),
]
