"""Dynamic client registration (RFC 7591) at POST /oauth/register.

Open (no prior credential), throttled per client address and per tenant in MongoDB so every
process agrees. Public clients (`none`) get no secret; confidential ones get a secret shown once
and stored as a keyed hash. A public registration identical to an earlier one returns that
client, and clients that never complete an authorization expire after a day: repeated or
abandoned registrations cannot grow storage without bound.
"""
from __future__ import annotations

import hashlib
import json
import math
import secrets
import string
import time
from datetime import UTC, datetime

from .. import jsonbody
from ..audit import audit_row
from ..credentials.pats import hash_token
from ..ids import new_id
from ..scopes import ALL_SCOPES
from .endpoint_base import OAuthError, OAuthJsonHandler
from .redirects import InvalidRedirectUri, validate_redirect_uri

MAX_REDIRECT_URIS = 10
MAX_TEXT = 200
WINDOW_SECONDS = 60
ADDRESS_LIMIT = 20        # registrations per client address per minute
TENANT_LIMIT = 300        # registrations per tenant per minute
AUTH_METHODS = ("none", "client_secret_post", "client_secret_basic")
GRANT_TYPES = ("authorization_code", "refresh_token")
ECHOED_TEXT = ("client_uri", "logo_uri", "software_id", "software_version", "tos_uri", "policy_uri")
_SECRET_ALPHABET = string.ascii_letters + string.digits


def _text(metadata: dict, name: str, default: str | None = None) -> str | None:
    value = metadata.get(name, default)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT * 10 or any(ord(c) < 0x20 for c in value):
        raise OAuthError("invalid_client_metadata", f"{name} must be a short single-line string.")
    return value


def parse_metadata(metadata) -> dict:
    """The normalized client metadata we store and echo; raises OAuthError for bad input."""
    if not isinstance(metadata, dict):
        raise OAuthError("invalid_client_metadata", "The body must be a JSON object.")
    uris = metadata.get("redirect_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        raise OAuthError("invalid_redirect_uri", "redirect_uris must be a non-empty list of URIs.")
    if len(uris) > MAX_REDIRECT_URIS:
        raise OAuthError("invalid_redirect_uri", f"At most {MAX_REDIRECT_URIS} redirect URIs.")
    try:
        uris = [validate_redirect_uri(u) for u in uris]
    except InvalidRedirectUri as exc:
        raise OAuthError("invalid_redirect_uri", str(exc)) from None
    method = metadata.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise OAuthError("invalid_client_metadata",
                         f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}.")
    grant_types = metadata.get("grant_types", ["authorization_code"])
    if (not isinstance(grant_types, list) or not grant_types
            or not all(isinstance(g, str) for g in grant_types)   # set() below hashes them
            or not set(grant_types) <= set(GRANT_TYPES) or "authorization_code" not in grant_types):
        raise OAuthError("invalid_client_metadata",
                         "grant_types must include authorization_code and may add refresh_token.")
    response_types = metadata.get("response_types", ["code"])
    if response_types != ["code"]:
        raise OAuthError("invalid_client_metadata", 'response_types must be ["code"].')
    name = (_text(metadata, "client_name") or "").strip()[:MAX_TEXT] or "Unnamed client"
    scope = _text(metadata, "scope")
    if scope is not None:
        scope = " ".join(s for s in ALL_SCOPES if s in scope.split()) or None
    out = {"redirect_uris": uris, "token_endpoint_auth_method": method,
           "grant_types": sorted(set(grant_types), key=GRANT_TYPES.index),
           "response_types": ["code"], "client_name": name, "scope": scope}
    for field in ECHOED_TEXT:
        value = _text(metadata, field)
        if value is not None:
            out[field] = value[:MAX_TEXT * 10]
    return out


class RegisterHandler(OAuthJsonHandler):
    async def post(self) -> None:
        try:
            self.check_size()
            await self._throttle()
            try:
                body = jsonbody.loads(self.request.body or b"null")
            except (jsonbody.InvalidJson, RecursionError):
                raise OAuthError("invalid_client_metadata", "The body must be JSON.") from None
            metadata = parse_metadata(body)
        except OAuthError as error:
            self.fail(error)
            return
        secret = None
        doc = {"_id": new_id("vcl"), **metadata, "client_secret_hash": None, "metadata_hash": None}
        if metadata["token_endpoint_auth_method"] == "none":
            canonical = json.dumps(metadata, sort_keys=True, separators=(",", ":"))
            doc["metadata_hash"] = hashlib.sha256(canonical.encode()).hexdigest()
        else:
            secret = "vct_cs_" + "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(43))
            doc["client_secret_hash"] = hash_token(self.services.config.token_pepper, secret)
        stored, created = await self.services.storage.oauth_clients.register(self.tenant.slug, doc)
        await self.services.audit.write(self.tenant.slug, audit_row(
            actor={"kind": "oauth_client", "client_id": stored["_id"]}, action="oauth.register",
            status="success", kind="auth", request_id=self.request_id,
            detail={"client_name": metadata["client_name"], "new": created,
                    "redirect_hosts": sorted({u.split("/")[2] if "//" in u else u
                                              for u in metadata["redirect_uris"]})}))
        response = {key: stored.get(key) for key in metadata if stored.get(key) is not None}
        response.update(client_id=stored["_id"],
                        client_id_issued_at=int(stored["created_at"].replace(tzinfo=UTC).timestamp()))
        if secret is not None:
            response.update(client_secret=secret, client_secret_expires_at=0)
        self.write_json(response, status=201)

    async def _throttle(self) -> None:
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        expires_at = datetime.fromtimestamp((window + 2) * WINDOW_SECONDS, UTC)
        counters, slug = self.services.storage.counters, self.tenant.slug
        address = self.request.remote_ip or "unknown"
        by_address = await counters.add(slug, f"dcr:address:{address}:{window}", 1, expires_at)
        by_tenant = await counters.add(slug, f"dcr:tenant:{window}", 1, expires_at)
        if by_address > ADDRESS_LIMIT or by_tenant > TENANT_LIMIT:
            retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
            raise OAuthError("temporarily_unavailable",
                             f"Too many registrations; retry in {retry_after} s.", status=429,
                             headers={"Retry-After": str(retry_after)})
