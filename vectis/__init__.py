"""Vectis: a multi-tenant MCP server for managed service providers."""

__version__ = "0.1.0"
