"""Every tool module, in the order tools are listed; the one place a new module is added."""
from __future__ import annotations

from . import (
    alerts,
    approval_tools,
    assets,
    audit_tools,
    customers,
    finance,
    notes,
    rules,
    run_rule,
    search_tools,
    snapshot,
    tickets,
    write_tools,
)
from .registry import ToolRegistry

TOOL_MODULES = (customers, tickets, search_tools, alerts, assets, finance, notes, rules, snapshot,
                audit_tools, write_tools, approval_tools, run_rule)


def build_registry() -> ToolRegistry:
    return ToolRegistry(spec for module in TOOL_MODULES for spec in module.TOOLS)
