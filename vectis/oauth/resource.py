"""RFC 8707 resource indicators: the only resource a tenant issues tokens for is its MCP URI."""
from __future__ import annotations

from urllib.parse import urlsplit


def resource_matches(value: str, canonical: str) -> bool:
    """Equal to the canonical MCP URI, tolerating an upper-case scheme or host and one trailing
    slash (clients differ); a fragment, a relative URI or another path never matches."""
    if not value or len(value) > 2000:
        return False
    parts = urlsplit(value)
    if parts.fragment or "#" in value or not parts.scheme or not parts.netloc:
        return False
    path = parts.path[:-1] if parts.path.endswith("/") else parts.path
    normalized = f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"
    if parts.query:
        return False
    return normalized == canonical
