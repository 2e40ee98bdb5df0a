"""What the JSON endpoints of the authorization server share: RFC 6749 error bodies, no-store,
form parsing with a size cap, CORS for browser clients (no cookies are involved), and client
authentication per the client's registered method."""
from __future__ import annotations

import base64
import hmac
from urllib.parse import unquote

from ..credentials.pats import hash_token
from ..web.base import TenantHandler, json_bytes
from .clients import OAuthClient, resolve_client

MAX_FORM_BYTES = 64 * 1024


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400, headers: dict | None = None):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}


class OAuthJsonHandler(TenantHandler):
    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Pragma", "no-cache")
        self.set_header("Access-Control-Allow-Origin", "*")

    def options(self) -> None:
        self.set_header("Access-Control-Allow-Methods", "POST, OPTIONS")
        self.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
        self.set_status(204)
        self.finish()

    def write_error(self, status_code: int, **kwargs) -> None:
        # Errors raised before our code runs (Tornado's body parsing, 405) still answer in
        # RFC 6749 §5.2 form, which is all an OAuth client knows how to read.
        error = "server_error" if status_code >= 500 else "invalid_request"
        self.finish_json_error(error, self._reason if status_code < 500 else "Internal error.")

    def finish_json_error(self, error: str, description: str) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json_bytes({"error": error, "error_description": description}))

    def fail(self, error: OAuthError) -> None:
        for name, value in error.headers.items():
            self.set_header(name, value)
        self.write_json({"error": error.error, "error_description": error.description},
                        status=error.status)

    def check_size(self) -> None:
        if len(self.request.body) > MAX_FORM_BYTES:
            raise OAuthError("invalid_request", "The request body is too large.", status=413)

    def form(self) -> dict[str, str]:
        """Form parameters; a parameter sent twice is an error (RFC 6749 §3.1)."""
        self.check_size()
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request",
                             "Send the parameters as application/x-www-form-urlencoded.")
        values: dict[str, str] = {}
        for name, items in self.request.body_arguments.items():
            if len(items) != 1:
                raise OAuthError("invalid_request", f"The parameter {name} was sent more than once.")
            values[name] = items[0].decode("utf-8", "replace")
        return values

    async def authenticate_client(self, form: dict[str, str]) -> OAuthClient:
        """The calling client, authenticated the way it registered (RFC 6749 §2.3)."""
        basic = self._basic_credentials()
        if basic is not None and ("client_secret" in form or
                                  form.get("client_id", basic[0]) != basic[0]):
            raise OAuthError("invalid_request", "Use one client authentication method.")
        client_id, secret = basic if basic is not None else (form.get("client_id"),
                                                             form.get("client_secret"))
        if not client_id:
            raise OAuthError("invalid_client", "Client authentication failed.", status=401)
        client = await resolve_client(self.services, self.tenant.slug, client_id)
        if client is None:
            raise self._client_failure(basic is not None)
        if client.auth_method == "none":
            return client
        if secret is None or client.secret_hash is None:
            raise self._client_failure(basic is not None)
        method = "client_secret_basic" if basic is not None else "client_secret_post"
        expected = client.secret_hash
        given = hash_token(self.services.config.token_pepper, secret)
        if method != client.auth_method or not hmac.compare_digest(given, expected):
            raise self._client_failure(basic is not None)
        return client

    def _basic_credentials(self) -> tuple[str, str] | None:
        header = self.request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not value:
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):  # binascii.Error, and non-ASCII header bytes
            raise OAuthError("invalid_client", "Malformed Basic credentials.", status=401) from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise OAuthError("invalid_client", "Malformed Basic credentials.", status=401)
        return unquote(client_id), unquote(secret)

    @staticmethod
    def _client_failure(used_basic: bool) -> OAuthError:
        headers = {"WWW-Authenticate": 'Basic realm="vectis"'} if used_basic else {}
        return OAuthError("invalid_client", "Client authentication failed.", status=401,
                          headers=headers)
