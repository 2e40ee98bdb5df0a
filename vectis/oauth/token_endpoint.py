"""POST /oauth/token (authorization_code, refresh_token) and POST /oauth/revoke (RFC 7009).
Answers are JSON, never HTML, with Cache-Control: no-store."""
from __future__ import annotations

from ..audit import audit_row
from .endpoint_base import OAuthError, OAuthJsonHandler
from .grants import Grants
from .resource import resource_matches


class TokenHandler(OAuthJsonHandler):
    async def post(self) -> None:
        form: dict[str, str] = {}
        try:
            form = self.form()
            grant_type = form.get("grant_type")
            if grant_type not in ("authorization_code", "refresh_token"):
                raise OAuthError("unsupported_grant_type",
                                 "grant_type must be authorization_code or refresh_token.")
            client = await self.authenticate_client(form)
            resource = form.get("resource")
            if resource is not None and not resource_matches(resource, self.tenant.mcp_resource):
                raise OAuthError("invalid_target",
                                 f"This server issues tokens only for {self.tenant.mcp_resource}.")
            grants = Grants(self.services)
            if grant_type == "authorization_code":
                tokens = await grants.redeem_code(self.tenant, client, form)
            else:
                tokens = await grants.refresh(self.tenant, client, form)
        except OAuthError as error:
            if error.error == "invalid_grant":
                await self._audit("error", {"grant_type": form.get("grant_type"),
                                            "error": error.description})
            self.fail(error)
            return
        if grant_type == "authorization_code":
            await self._audit("success", {"grant_type": grant_type, "client_id": client.client_id,
                                          "scopes": list(tokens.scopes)})
        self.write_json(tokens.body())

    async def _audit(self, status: str, detail: dict) -> None:
        await self.services.audit.write(self.tenant.slug, audit_row(
            actor={"kind": "oauth_client", "client_id": detail.get("client_id")},
            action="oauth.token", status=status, kind="auth", detail=detail,
            request_id=self.request_id))


class RevokeHandler(OAuthJsonHandler):
    async def post(self) -> None:
        try:
            form = self.form()
            client = await self.authenticate_client(form)
            token = form.get("token")
            if not token:
                raise OAuthError("invalid_request", "token is required.")
        except OAuthError as error:
            self.fail(error)
            return
        grants = Grants(self.services)
        grant_id = await grants.grant_of_token(self.tenant, client, token)
        if grant_id is not None:
            await grants.revoke_grant(self.tenant, grant_id, "revoked by the client")
            await self.services.audit.write(self.tenant.slug, audit_row(
                actor={"kind": "oauth_client", "client_id": client.client_id},
                action="oauth.revoke", status="success", kind="auth",
                target={"kind": "oauth_grant", "id": grant_id, "uuid": None},
                request_id=self.request_id))
        # RFC 7009 §2.2: unknown or foreign tokens get the same 200, so nothing is revealed.
        self.set_status(200)
        self.finish()
