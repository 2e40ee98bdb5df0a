"""Every tool module, in the order tools are listed; the one place a new module is added."""
from __future__ import annotations

from . import customers
from .registry import ToolRegistry

TOOL_MODULES = (customers,)


def build_registry() -> ToolRegistry:
    return ToolRegistry(spec for module in TOOL_MODULES for spec in module.TOOLS)
