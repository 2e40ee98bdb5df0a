"""Operator web pages: server-rendered HTML on each tenant host."""
from __future__ import annotations

from .account import AccountMcpHandler, ElevateTokenHandler, IssueTokenHandler, RevokeTokenHandler
from .activity import ActivityDetailHandler, ActivityHandler
from .approvals import ApprovalsHandler, DecideHandler, PolicyHandler
from .base import StaticHandler
from .mfa import AccountMfaHandler, ConfirmMfaHandler, DisableMfaHandler
from .rules import (
    DeleteRuleHandler,
    ReplayExecutionHandler,
    RuleFormHandler,
    RulesHandler,
    SaveRuleHandler,
    ToggleRuleHandler,
)
from .signin import SigninHandler, SignoutHandler

default_handlers = [
    (r"/signin", SigninHandler),
    (r"/signout", SignoutHandler),
    (r"/account/mcp", AccountMcpHandler),
    (r"/account/mcp/tokens", IssueTokenHandler),
    (r"/account/mcp/revoke", RevokeTokenHandler),
    (r"/account/mcp/elevate", ElevateTokenHandler),
    (r"/account/activity", ActivityHandler),
    (r"/account/activity/([A-Za-z0-9_]{1,64})", ActivityDetailHandler),
    (r"/account/approvals", ApprovalsHandler),
    (r"/account/approvals/decide", DecideHandler),
    (r"/account/approvals/policy", PolicyHandler),
    (r"/account/mfa", AccountMfaHandler),
    (r"/account/mfa/confirm", ConfirmMfaHandler),
    (r"/account/mfa/disable", DisableMfaHandler),
    (r"/rules", RulesHandler),
    (r"/rules/toggle", ToggleRuleHandler),
    (r"/rules/replay", ReplayExecutionHandler),
    (r"/rules/edit", RuleFormHandler),
    (r"/rules/save", SaveRuleHandler),
    (r"/rules/delete", DeleteRuleHandler),
    (r"/static/(pages\.css|copy\.js|customers\.js|scopes\.js)", StaticHandler),
]
