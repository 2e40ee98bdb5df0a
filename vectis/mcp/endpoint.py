"""`/api/mcp`: Streamable HTTP, stateless, JSON responses.

Order of checks, each answered before any more work is done: tenant (404) → method (405) →
Origin (403) → declared body size (413) → bearer credential (401) → body read with a size cap →
JSON (-32700) → era and its headers → dispatch. Authentication happens before the body is
read, so an anonymous caller cannot make the server buffer anything: a refused request's body
is read and discarded (up to DRAIN_BYTES, so the client can read the answer), never kept.
"""
from __future__ import annotations

import functools
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import tornado.web

from .. import jsonbody
from ..auth.bearer import InvalidCredential, NoCredential
from ..scopes import READ_SCOPES
from ..settings import split_list
from ..storage.unavailable import is_unavailable
from ..web.base import TenantHandler, json_bytes
from .dispatch import RequestContext
from .eras import check_modern, check_request_shape, is_modern, legacy_version
from .protocol import (
    ERROR_NAMES,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    RATE_LIMITED,
    UNAVAILABLE,
    HttpFailure,
    RpcError,
    unavailable,
)

log = logging.getLogger("vectis.mcp")
MAX_BODY_BYTES = 1024 * 1024
DRAIN_BYTES = 4 * MAX_BODY_BYTES  # beyond this a refused body is not read: answer and close
ALLOW_METHODS = "POST, OPTIONS"
CORS_ALLOW_HEADERS = ("Authorization, Content-Type, Accept, MCP-Protocol-Version, Mcp-Session-Id, "
                      "Mcp-Method, Mcp-Name, Last-Event-ID, X-Request-Id")
CORS_EXPOSE_HEADERS = "WWW-Authenticate, Mcp-Session-Id, Retry-After, X-Request-Id"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]"}


@functools.lru_cache(maxsize=8)
def _configured_origins(setting: str) -> frozenset[str]:
    return frozenset(split_list(setting))


def origin_allowed(origin: str, tenant_origin: str, config) -> bool:
    origin = origin.lower()
    if origin == tenant_origin.lower():
        return True
    if origin in _configured_origins(config.allowed_origins):
        return True
    if not config.production:
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc.rsplit(":", 1)[0] in LOOPBACK_HOSTS
    return False


@tornado.web.stream_request_body
class McpHandler(TenantHandler):
    principal = None
    _refusal: HttpFailure | None = None
    _unavailable = False   # storage did not answer while resolving the tenant or the credential
    tool_names = ""        # the tools this request called, comma-separated (a batch may call several)

    async def prepare(self) -> None:
        await super().prepare()
        if self._finished:
            return
        self._chunks: list[bytes] = []
        self._size = 0
        if self._unavailable:
            return
        try:
            await self._check_before_body()
        except HttpFailure as failure:
            declared = self.request.headers.get("Content-Length", "0")
            if not declared.isdigit() or int(declared) > DRAIN_BYTES:
                self._fail(failure)
                self.request.connection.close()
            else:
                # Answered once the body has been read and discarded: closing on a client still
                # writing its body would turn a clear 401/403/413 into a connection reset.
                self._refusal = failure
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            self.storage_unavailable(exc)

    def storage_unavailable(self, exc: Exception) -> None:
        # Answered as a JSON-RPC error once the body is read, so the client sees its own id and
        # a retryable code rather than a bare 503 its transport may treat as fatal. Nothing of
        # the caller is trusted meanwhile: the body is size-capped and only its ids are used.
        log.warning("MCP request %s: database unavailable: %s", self.request_id, exc)
        self._unavailable = True

    async def _check_before_body(self) -> None:
        origin = self.request.headers.get("Origin")
        if origin is not None:
            if not origin_allowed(origin, self.tenant.origin, self.services.config):
                raise HttpFailure(403, {"error": "forbidden_origin",
                                        "error_description": "this Origin may not call the MCP endpoint"})
            self._cors_headers(origin)
        if self.request.method != "POST":
            return
        declared = self.request.headers.get("Content-Length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            raise _too_large()
        self.request.connection.set_max_body_size(DRAIN_BYTES)
        self.principal = await self._authenticate()

    async def _authenticate(self):
        header = self.request.headers.get("Authorization")
        try:
            return await self.services.authenticator.authenticate(
                self.tenant, header, client=self.request.headers.get("User-Agent"))
        except NoCredential:
            raise self._unauthorized(None) from None
        except InvalidCredential:
            raise self._unauthorized("invalid_token") from None

    def _unauthorized(self, error: str | None) -> HttpFailure:
        metadata = self.tenant.origin + "/.well-known/oauth-protected-resource/api/mcp"
        parts = [f'resource_metadata="{metadata}"', f'scope="{" ".join(READ_SCOPES)}"']
        if error:
            parts.insert(0, f'error="{error}"')
            parts.append('error_description="the access token is unknown, revoked or expired"')
        body = {"error": error or "unauthorized",
                "error_description": "send a Vectis token as 'Authorization: Bearer <token>'"
                if error is None else "the access token is unknown, revoked or expired"}
        return HttpFailure(401, body, {"WWW-Authenticate": "Bearer " + ", ".join(parts)})

    def _cors_headers(self, origin: str) -> None:
        self.set_header("Access-Control-Allow-Origin", origin)
        self.set_header("Vary", "Origin")
        self.set_header("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS)

    def _fail(self, failure: HttpFailure) -> None:
        if self._finished:
            return
        self.set_status(failure.status)
        for name, value in failure.headers.items():
            self.set_header(name, value)
        self.set_header("Content-Type", "application/json")
        self.finish(json_bytes(failure.body))

    def data_received(self, chunk: bytes) -> None:
        if self._finished:
            return
        self._size += len(chunk)
        if self._size > DRAIN_BYTES:
            self._fail(self._refusal or _too_large())
            self.request.connection.close()
        elif self._refusal is None and self._size > MAX_BODY_BYTES:
            self._refusal = _too_large()
        if self._refusal is not None:
            self._chunks = []
        else:
            self._chunks.append(chunk)

    def options(self) -> None:
        if self._refusal is not None:
            self._fail(self._refusal)
            return
        self.set_header("Access-Control-Allow-Methods", ALLOW_METHODS)
        self.set_header("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS)
        self.set_header("Access-Control-Max-Age", "600")
        self.set_status(204)
        self.finish()

    def _method_not_allowed(self) -> None:
        if self._refusal is not None:
            self._fail(self._refusal)
            return
        self.set_header("Allow", ALLOW_METHODS)
        self.write_json({"error": "method_not_allowed",
                         "error_description": "this endpoint is stateless: POST JSON-RPC messages; "
                                              "there is no GET stream and no session to delete"}, status=405)

    def get(self) -> None:
        self._method_not_allowed()

    def delete(self) -> None:
        self._method_not_allowed()

    def put(self) -> None:
        self._method_not_allowed()

    def patch(self) -> None:
        self._method_not_allowed()

    async def post(self) -> None:
        if self._finished:
            return
        if self._refusal is not None:
            self._fail(self._refusal)
            return
        raw = b"".join(self._chunks)
        self._chunks = []
        try:
            body = _parse(raw)
            header_version = self.request.headers.get("MCP-Protocol-Version")
            modern = is_modern(body, header_version)
            status, payload, extra_headers = await (self._modern(body) if modern
                                                    else self._legacy(body, header_version))
        except HttpFailure as failure:
            self._fail(failure)
            return
        except RpcError as err:  # a failure of the whole POST, before any id is known
            status, payload, extra_headers = err.http_status(is_modern(None, self.request.headers.get(
                "MCP-Protocol-Version"))), err.body(None), {}
        for name, value in extra_headers.items():
            self.set_header(name, value)
        if payload is None:
            self.set_status(status)
            self.finish()
            return
        self._respond(status, payload)

    def _respond(self, status: int, payload: Any) -> None:
        self.set_status(status)
        data = json_bytes(payload)
        accept = self.request.headers.get("Accept", "")
        if "text/event-stream" in accept and not _accepts_json(accept):
            self.set_header("Content-Type", "text/event-stream")
            self.set_header("Cache-Control", "no-cache, no-transform")
            self.finish(b"event: message\ndata: " + data + b"\n\n")
            return
        self.set_header("Content-Type", "application/json")
        self.finish(data)

    async def _modern(self, body: Any) -> tuple[int, Any, dict]:
        if not isinstance(body, dict):
            raise RpcError(INVALID_REQUEST, "the 2026-07-28 protocol takes exactly one JSON-RPC message per POST")
        check_request_shape(body)
        if "method" not in body:
            raise RpcError(INVALID_REQUEST, "responses are not accepted by this server")
        if "id" not in body:
            return 202, None, {}
        try:
            version = check_modern(body, self.request.headers)
        except RpcError as err:
            return err.http_status(True), err.body(body["id"]), {}
        return await self._one(body, modern=True, version=version)

    async def _legacy(self, body: Any, header_version: str | None) -> tuple[int, Any, dict]:
        version = legacy_version(header_version)
        if isinstance(body, list):
            if version != "2025-03-26":
                raise RpcError(INVALID_REQUEST, "JSON-RPC batches are only accepted in protocol 2025-03-26")
            if not body:
                raise RpcError(INVALID_REQUEST, "empty batch")
            replies, headers = [], {}
            for message in body[:100]:
                status, reply, extra = await self._legacy_one(message, version)
                headers.update(extra)
                if reply is not None:
                    replies.append(reply)
            return (200, replies, headers) if replies else (202, None, headers)
        return await self._legacy_one(body, version)

    async def _legacy_one(self, message: Any, version: str) -> tuple[int, Any, dict]:
        try:
            check_request_shape(message)
        except RpcError as err:
            return err.http_status(False), err.body(_trusted_id(message)), {}
        if "method" not in message or "id" not in message:
            return 202, None, {}  # notifications and client responses: accepted, nothing to say
        return await self._one(message, modern=False, version=version)

    async def _one(self, message: dict, *, modern: bool, version: str) -> tuple[int, Any, dict]:
        params = message.get("params")
        if message["method"] == "tools/call" and isinstance(params, dict):
            name = params.get("name")
            if isinstance(name, str):   # for the request log line
                self.tool_names = f"{self.tool_names},{name[:80]}" if self.tool_names else name[:80]
        started = time.perf_counter()
        outcome = "ok"
        try:
            reply = await self._dispatch(message, modern=modern, version=version)
            if "error" in reply[1]:
                outcome = ERROR_NAMES.get(reply[1]["error"]["code"], "error")
            return reply
        except HttpFailure as failure:
            outcome = f"http_{failure.status}"
            raise
        finally:
            self.services.metrics.mcp_request(message["method"], outcome,
                                              time.perf_counter() - started)

    async def _dispatch(self, message: dict, *, modern: bool, version: str) -> tuple[int, Any, dict]:
        try:
            if self._unavailable:
                raise unavailable()
            ctx = RequestContext(tenant=self.tenant, principal=self.principal, modern=modern,
                                 version=version, request_id=self.request_id)
            result = await self.services.dispatcher.handle(message["method"], message.get("params") or {}, ctx)
        except RpcError as err:
            return _failure(err, message, modern)
        except HttpFailure:
            raise
        except Exception as exc:
            if is_unavailable(exc):
                log.warning("MCP %s: database unavailable (request %s): %s", message.get("method"),
                            self.request_id, exc)
                return _failure(unavailable(), message, modern)
            log.error("MCP %s failed (request %s)", message.get("method"), self.request_id, exc_info=True)
            err = RpcError(INTERNAL_ERROR, f"internal error (request id {self.request_id}); safe to retry")
            return _failure(err, message, modern)
        return 200, {"jsonrpc": "2.0", "id": message["id"], "result": result}, {}


def _failure(err: RpcError, message: dict, modern: bool) -> tuple[int, Any, dict]:
    """The HTTP status, body and headers of a JSON-RPC error; retryable ones say when."""
    headers = {}
    if err.code in (RATE_LIMITED, UNAVAILABLE):
        headers["Retry-After"] = str(err.data["retryAfterSeconds"])
    return err.http_status(modern), err.body(message["id"]), headers


def _trusted_id(message: Any) -> Any:
    """The id an error reply to an invalid message may echo: a string or integer, else null
    (JSON-RPC 2.0 §5 — an id of another type is itself what made the message invalid)."""
    rid = message.get("id") if isinstance(message, dict) else None
    return rid if isinstance(rid, (str, int)) and not isinstance(rid, bool) else None


def _too_large() -> HttpFailure:
    return HttpFailure(413, {"error": "request_too_large",
                             "error_description": f"request bodies are limited to {MAX_BODY_BYTES} bytes"})


def _accepts_json(accept: str) -> bool:
    return any(t in accept for t in ("application/json", "*/*", "application/*"))


def _parse(raw: bytes) -> Any:
    try:
        return jsonbody.loads(raw)
    except jsonbody.InvalidJson as exc:
        raise RpcError(PARSE_ERROR, str(exc)) from None
    except RecursionError:
        raise RpcError(PARSE_ERROR, "the body is nested too deeply") from None


default_handlers = [(r"/api/mcp", McpHandler)]
