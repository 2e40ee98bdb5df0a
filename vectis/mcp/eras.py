"""Which protocol era a POST speaks, and the checks each era requires before dispatch.

Routing (docs/mcp-2026-07-28.md §3): a body carrying the `_meta` protocol-version envelope (and
not `initialize`) is modern; so is any request whose MCP-Protocol-Version header is not a
handshake-era version (it is then refused with -32602 or -32022). Everything else is the
handshake era, where a missing header means 2025-03-26.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from .protocol import (
    ALL_HANDSHAKE_HEADERS,
    DEFAULT_LEGACY_VERSION,
    HANDSHAKE_VERSIONS,
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    META_CLIENT_CAPS,
    META_VERSION,
    MODERN_VERSION,
    SUPPORTED_VERSIONS,
    UNSUPPORTED_VERSION,
    HttpFailure,
    RpcError,
)

NAME_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def envelope_version(message: Any) -> Any:
    if not isinstance(message, dict):
        return None
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    return meta.get(META_VERSION) if isinstance(meta, dict) else None


def is_modern(body: Any, header_version: str | None) -> bool:
    if isinstance(body, dict) and body.get("method") != "initialize" and envelope_version(body) is not None:
        return True
    return header_version is not None and header_version not in ALL_HANDSHAKE_HEADERS


def legacy_version(header_version: str | None) -> str:
    if header_version is None:
        return DEFAULT_LEGACY_VERSION
    if header_version not in HANDSHAKE_VERSIONS:
        raise HttpFailure(400, {"error": "unsupported_protocol_version",
                                "error_description": f"MCP-Protocol-Version {header_version[:40]!r} is not "
                                                     f"supported; supported: {', '.join(SUPPORTED_VERSIONS)}"})
    return header_version


def decode_header_value(value: str) -> str:
    """Undo the `=?base64?…?=` sentinel clients use for non-ASCII header values."""
    if value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise RpcError(HEADER_MISMATCH, "malformed base64 header value") from None
    return value


def check_modern(message: dict, headers: Mapping[str, str]) -> str:
    """Validate a modern request's envelope and routing headers; return its version."""
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    if not isinstance(meta, dict) or META_VERSION not in meta or not isinstance(meta.get(META_CLIENT_CAPS), dict):
        raise RpcError(INVALID_PARAMS, f"params._meta must carry {META_VERSION} and {META_CLIENT_CAPS}")
    version = meta[META_VERSION]
    header_version = headers.get("MCP-Protocol-Version")
    if header_version != version:
        raise RpcError(HEADER_MISMATCH, "MCP-Protocol-Version header does not match params._meta")
    method = message.get("method")
    if headers.get("Mcp-Method") != method:
        raise RpcError(HEADER_MISMATCH, "Mcp-Method header does not match the request method")
    name_field = NAME_METHODS.get(method)
    if name_field is not None:
        raw = headers.get("Mcp-Name")
        expected = params.get(name_field)
        if raw is None or decode_header_value(raw) != expected:
            raise RpcError(HEADER_MISMATCH, f"Mcp-Name header does not match params.{name_field}")
    if version != MODERN_VERSION:
        raise RpcError(UNSUPPORTED_VERSION, f"protocol version {str(version)[:40]!r} is not supported",
                       {"supported": list(SUPPORTED_VERSIONS), "requested": version})
    return version


def check_request_shape(message: Any) -> None:
    """A JSON-RPC 2.0 request or notification object, or raise -32600."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "not a JSON-RPC 2.0 message")
    if "method" in message:
        if not isinstance(message["method"], str):
            raise RpcError(INVALID_REQUEST, "method must be a string")
        if "id" in message and (message["id"] is None or isinstance(message["id"], bool)
                                or not isinstance(message["id"], (str, int))):
            raise RpcError(INVALID_REQUEST, "id must be a string or an integer")
        if "params" in message and not isinstance(message["params"], dict):
            raise RpcError(INVALID_REQUEST, "params must be an object")
    elif "id" not in message or ("result" not in message and "error" not in message):
        raise RpcError(INVALID_REQUEST, "not a JSON-RPC request, notification or response")
