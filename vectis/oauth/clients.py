"""Who a `client_id` is: a client registered here (DCR, RFC 7591) or an https URL naming a
Client ID Metadata Document, fetched and validated under the SSRF guard of `cimd`."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .cimd import ClientMetadataError, is_metadata_url
from .redirects import redirect_host


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    auth_method: str                 # none | client_secret_post | client_secret_basic
    grant_types: tuple[str, ...]
    kind: str                        # registered | metadata_document
    secret_hash: str | None = None

    @property
    def host(self) -> str:
        """What the consent page shows as the client's identity: the host that serves its
        metadata document, or for a registered client the host of its first redirect URI."""
        if self.kind == "metadata_document":
            return urlsplit(self.client_id).hostname or self.client_id
        return redirect_host(self.redirect_uris[0]) if self.redirect_uris else "unknown"

    @property
    def refreshes(self) -> bool:
        return "refresh_token" in self.grant_types


async def resolve_client(services, slug: str, client_id: str) -> OAuthClient | None:
    if len(client_id) > 2000:
        return None
    if is_metadata_url(client_id):
        try:
            doc = await services.client_metadata.get(client_id)
        except ClientMetadataError:
            return None   # the fetcher has logged the reason for the operator
        grant_types = tuple(doc.grant_types or ("authorization_code", "refresh_token"))
        return OAuthClient(client_id=doc.client_id, name=doc.client_name,
                           redirect_uris=tuple(doc.redirect_uris), auth_method="none",
                           grant_types=grant_types, kind="metadata_document")
    if not client_id.startswith("vcl_"):
        return None
    doc = await services.storage.oauth_clients.get(slug, client_id)
    if doc is None:
        return None
    return OAuthClient(client_id=doc["_id"], name=doc["client_name"],
                       redirect_uris=tuple(doc["redirect_uris"]),
                       auth_method=doc["token_endpoint_auth_method"],
                       grant_types=tuple(doc["grant_types"]), kind="registered",
                       secret_hash=doc.get("client_secret_hash"))
