"""Placeholder: filled by the read-tools change."""
TOOLS: list = []
