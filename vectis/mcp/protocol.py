"""Protocol constants and the one exception type that carries a JSON-RPC error."""
from __future__ import annotations

from typing import Any

from .. import __version__
from ..storage.unavailable import RETRY_AFTER_SECONDS

MODERN_VERSION = "2026-07-28"
HANDSHAKE_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
ALL_HANDSHAKE_HEADERS = (*HANDSHAKE_VERSIONS, "2024-11-05")  # a header value that is never modern
SUPPORTED_VERSIONS = (MODERN_VERSION, *HANDSHAKE_VERSIONS)
DEFAULT_LEGACY_VERSION = "2025-03-26"  # what a request without MCP-Protocol-Version speaks

META_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPS = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"

SERVER_INFO = {"name": "vectis", "title": "Vectis MSP operations", "version": __version__}
INSTRUCTIONS = (
    "Vectis gives read access (and, where the token allows, write access) to one MSP tenant's "
    "customers, tickets, alerts, assets, contracts, backups, invoices, notes and rules. "
    "Start with get_customer_status_snapshot for an account overview. The tenant is implied by "
    "the URL and token: no tool takes a tenant argument. List tools page with `cursor`/`limit`."
)

# JSON-RPC and MCP error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
HEADER_MISMATCH = -32020
MISSING_CLIENT_CAPABILITY = -32021
UNSUPPORTED_VERSION = -32022
# Vectis's documented application codes (public docs): they are promises, kept in both eras.
RATE_LIMITED = -32002
MFA_REQUIRED = -32003
IDEMPOTENCY_CONFLICT = -32004
IDEMPOTENCY_IN_FLIGHT = -32005
# Ours, in the same family: the database is not answering; retry after data.retryAfterSeconds.
UNAVAILABLE = -32006

ERROR_NAMES = {
    PARSE_ERROR: "parse_error", INVALID_REQUEST: "invalid_request",
    METHOD_NOT_FOUND: "method_not_found", INVALID_PARAMS: "invalid_params",
    INTERNAL_ERROR: "internal_error", HEADER_MISMATCH: "header_mismatch",
    MISSING_CLIENT_CAPABILITY: "missing_client_capability",
    UNSUPPORTED_VERSION: "unsupported_version", RATE_LIMITED: "rate_limited",
    MFA_REQUIRED: "mfa_required", IDEMPOTENCY_CONFLICT: "idempotency_conflict",
    IDEMPOTENCY_IN_FLIGHT: "idempotency_in_flight", UNAVAILABLE: "unavailable",
}

_MODERN_STATUS = {
    PARSE_ERROR: 400, INVALID_REQUEST: 400, INVALID_PARAMS: 400, HEADER_MISMATCH: 400,
    MISSING_CLIENT_CAPABILITY: 400, UNSUPPORTED_VERSION: 400, METHOD_NOT_FOUND: 404,
}
_LEGACY_STATUS = {PARSE_ERROR: 400, INVALID_REQUEST: 400}


class RpcError(Exception):
    """A JSON-RPC error response; `http_status` is chosen by the era that renders it."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def body(self, request_id: Any) -> dict:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return {"jsonrpc": "2.0", "id": request_id, "error": error}

    def http_status(self, modern: bool) -> int:
        return (_MODERN_STATUS if modern else _LEGACY_STATUS).get(self.code, 200)


def unavailable() -> RpcError:
    """The one answer to a call that failed because storage is away: retryable, no internals."""
    return RpcError(UNAVAILABLE, "Vectis is temporarily unavailable (its database is not answering). "
                    f"Retry after {RETRY_AFTER_SECONDS} s; retry a write tool with the same "
                    "idempotency_key so that it is never applied twice.",
                    {"retryable": True, "retryAfterSeconds": RETRY_AFTER_SECONDS})


class HttpFailure(Exception):
    """A failure answered at the HTTP level (401, 403, 405, 413, …), not as JSON-RPC."""

    def __init__(self, status: int, body: dict, headers: dict[str, str] | None = None):
        super().__init__(body.get("error_description") or body.get("error") or str(status))
        self.status = status
        self.body = body
        self.headers = headers or {}
